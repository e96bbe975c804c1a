// The packaging configuration: checked always; the offline build of the
// unpacked layout runs only where a local Electron is present (its binary
// cannot be downloaded here) and is reported as skipped otherwise.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');
const config = load(readFileSync(path.join(root, 'build/electron-builder.yml'), 'utf8')) as {
  files: string[];
  extraResources: Array<{ from: string; to: string }>;
  linux: { target: string[]; icon: string };
  deb: { afterInstall: string; afterRemove: string; fpm: string[]; depends: string[] };
};

/** A local Electron: SNAPKEEP_ELECTRON_DIST, or the electron package's own download. */
function electronDist(): string | null {
  const candidates = [process.env['SNAPKEEP_ELECTRON_DIST'], path.join(root, 'node_modules/electron/dist')];
  return candidates.find((d): d is string => !!d && existsSync(path.join(d, 'electron'))) ?? null;
}
const dist = electronDist();
const SKIP_REASON =
  'no local Electron (set SNAPKEEP_ELECTRON_DIST to an unpacked Electron 41 dist; its binary cannot be downloaded on this machine)';
if (!dist) console.log(`SKIPPED offline electron-builder --dir build: ${SKIP_REASON}`);

describe('packaging', () => {
  it('builds a deb and an AppImage whose maintainer scripts install the module', () => {
    expect(config.linux.target).toEqual(['deb', 'AppImage']);
    expect(existsSync(path.join(root, config.linux.icon, '256x256.png'))).toBe(true);
    expect(config.deb.depends).toContain('dkms');
    expect(config.extraResources.map((r) => r.to)).toEqual(['kmod', 'helper-templates', 'docs/helper.md', 'snapkeep-helper']);
    for (const r of config.extraResources) expect(existsSync(path.join(root, r.from)), r.from).toBe(true);
    expect(config.files).toContain('build/resources/tray/*.png');

    const scripts = [config.deb.afterInstall, config.deb.afterRemove, config.deb.fpm[0]!.replace('--before-remove=', '')];
    expect(scripts).toEqual(['build/linux/postinst', 'build/linux/postrm', 'build/linux/prerm']);
    for (const s of [...scripts, 'build/linux/snapkeep-helper']) {
      const file = path.join(root, s);
      expect(statSync(file).mode & 0o111, `${s} is executable`).not.toBe(0);
      execFileSync('bash', ['-n', file]); // syntax
      const text = readFileSync(file, 'utf8');
      // electron-builder fills ${name} in its templates and fails on unknown
      // names; only the two it knows may appear (and none in the raw prerm).
      const macros = [...text.matchAll(/\$\{([a-zA-Z]+)\}/g)].map((m) => m[1]);
      const allowed = s.endsWith('postinst') || s.endsWith('postrm') ? ['executable', 'sanitizedProductName'] : [];
      for (const m of macros) expect(allowed, `${s} uses \${${m}}`).toContain(m);
    }
    const postinst = readFileSync(path.join(root, 'build/linux/postinst'), 'utf8');
    expect(postinst).toMatch(/"\$APP\/resources\/snapkeep-helper" install/);
    expect(readFileSync(path.join(root, 'build/linux/prerm'), 'utf8')).toMatch(/"\$HELPER" uninstall/);
  });

  it.skipIf(!dist)(`builds the unpacked layout offline with electronDist${dist ? '' : ` (skipped: ${SKIP_REASON})`}`, () => {
    if (!existsSync(path.join(root, 'out/renderer/index.html'))) throw new Error('run npm run build first');
    const out = mkdtempSync(path.join(tmpdir(), 'snapkeep-dist-'));
    execFileSync(
      path.join(root, 'node_modules/.bin/electron-builder'),
      ['--config', 'build/electron-builder.yml', '--dir', `-c.electronDist=${dist}`, `-c.directories.output=${out}`],
      { cwd: root, stdio: 'pipe', timeout: 300_000 },
    );
    const app = path.join(out, 'linux-unpacked');
    for (const f of ['snapkeep', 'resources/app.asar', 'resources/snapkeep-helper', 'resources/kmod/dkms.conf', 'resources/helper-templates', 'resources/app.asar.unpacked/native/build/Release/snapkeep.node']) {
      expect(existsSync(path.join(app, f)), f).toBe(true);
    }
  }, 300_000);
});
