// The systemd unit the installer writes, checked by systemd's own tools on
// the unit file (systemd does not run on this host, so the unit is not
// started here; `systemd-analyze --offline` reads the file alone).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { renderTemplate } from '../../../electron/helper/install/templates';

const dir = mkdtempSync(path.join(tmpdir(), 'snapkeep-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function unitFile(): Promise<string> {
  const text = await renderTemplate(path.resolve('electron/helper/templates'), 'snapkeep-helper.service', {
    NODE: process.execPath,
    HELPER: path.resolve('out/js/electron/helper/main.js'),
    DOCS: path.resolve('docs/helper.md'),
  });
  const file = path.join(dir, 'snapkeep-helper.service');
  writeFileSync(file, text);
  return file;
}

describe('snapkeep-helper.service', () => {
  it('passes systemd-analyze verify', async () => {
    const r = spawnSync('systemd-analyze', ['verify', await unitFile()], { encoding: 'utf8' });
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('is sandboxed: systemd-analyze security rates it OK (exposure below 5.0), not UNSAFE', async () => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=true', '--no-pager', await unitFile()], { encoding: 'utf8' });
    const m = /Overall exposure level for snapkeep-helper\.service: (\d+\.\d) (\w+)/.exec(out);
    expect(m, out.slice(-400)).not.toBeNull();
    expect(Number(m?.[1])).toBeLessThan(5);
    for (const kept of ['NoNewPrivileges=', 'ProtectKernelModules=', 'RestrictSUIDSGID=', 'PrivateTmp='])
      expect(out.split('\n').find((l) => l.includes(kept))?.trim().startsWith('✓'), kept).toBe(true);
  });
});
