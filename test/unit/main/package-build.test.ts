// The packaging configuration. The offline build of the unpacked layout
// needs a local Electron, which cannot be downloaded here: it is
// `npm run dist:check` (scripts/check-dist.mjs), not a test that would skip.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
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

describe('packaging', () => {
  it('builds a deb and an AppImage whose maintainer scripts install the module', () => {
    expect(config.linux.target).toEqual(['deb', 'AppImage']);
    expect(existsSync(path.join(root, config.linux.icon, '256x256.png'))).toBe(true);
    expect(config.deb.depends).toContain('dkms');
    expect(config.extraResources.map((r) => r.to)).toEqual(['kmod', 'boot/snapkeep-boot', 'helper-templates', 'docs/helper.md', 'snapkeep-helper']);
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

});
