// The .deb's Depends (build/electron-builder.yml) name every Debian package
// whose shared library the native addon loads: without one the helper does
// not start on a machine that lacks it ("libsodium.so.23: cannot open shared
// object file", seen in the full-boot guest). Checked against the addon as
// built here, with dpkg telling which package holds each library ldd finds.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..', '..');
const ADDON = path.join(ROOT, 'native/build/Release/snapkeep.node');
// On every Debian system (libc6 and libgcc-s1 are required; libstdc++6 is
// needed by Electron itself and by apt).
const BASE = new Set(['libc6', 'libgcc-s1', 'libstdc++6']);

/** The package dpkg says holds a file, trying the /lib path too (merged /usr). */
function packageOf(file: string): string {
  for (const p of [file, file.replace(/^\/usr\/lib\//, '/lib/')]) {
    try {
      return execFileSync('dpkg', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0]?.trim() ?? '';
    } catch {
      // Not this path.
    }
  }
  throw new Error(`dpkg knows no package holding ${file}`);
}

describe('the .deb depends on what the native addon links', () => {
  it('names the package of every shared library ldd resolves', () => {
    const yml = readFileSync(path.join(ROOT, 'build/electron-builder.yml'), 'utf8');
    const depends = /^deb:\n {2}depends:\n((?: {4}[-#] .+\n)+)/m.exec(yml)?.[1];
    expect(depends, 'deb.depends in build/electron-builder.yml').toBeDefined();
    const declared = new Set((depends ?? '').split('\n').filter((l) => l.startsWith('    - ')).map((l) => l.slice(6).trim()));
    const libs = execFileSync('ldd', [ADDON], { encoding: 'utf8' })
      .split('\n')
      .map((l) => / => (\/\S+)/.exec(l)?.[1])
      .filter((f): f is string => f !== undefined)
      .map((f) => execFileSync('readlink', ['-f', f], { encoding: 'utf8' }).trim());
    expect(libs.length).toBeGreaterThan(3);
    const missing = [...new Set(libs.map(packageOf))].filter((p) => !BASE.has(p) && !declared.has(p)).sort();
    expect(missing).toEqual([]);
  });
});
