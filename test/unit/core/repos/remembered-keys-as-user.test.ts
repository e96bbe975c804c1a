// Remembered passphrases as an ordinary user keeps them (the in-process
// service of `snapkeep serve` or the CLI): a child process running as
// nobody (setpriv; the tests run as root) stores and reads key files in its
// own folder. A key file its group or others may read is not used; one
// that belongs to someone else is not used either. The built code runs in
// the child (out/js).
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { tempDir } from '../../../support/temp-dirs';

const BUILT = path.resolve('out/js/electron/core/repos/remembered-keys.js');
const tmp = tempDir('snapkeep-keys-user-');
afterAll(() => tmp.remove());

const CHILD = `
  const fs = require('fs');
  const { RememberedKeys } = require(process.argv[1]);
  const keys = new RememberedKeys(process.argv[2]);
  (async () => {
    const out = {};
    await keys.store('r-1', 'correct horse');
    out.stored = await keys.read('r-1');
    for (const mode of [0o640, 0o604, 0o660, 0o600]) {
      fs.chmodSync(keys.fileOf('r-1'), mode);
      out[mode.toString(8)] = await keys.read('r-1');
    }
    out.uid = process.getuid();
    console.log(JSON.stringify(out));
  })().catch((e) => { console.log(JSON.stringify({ error: String(e) })); });
`;

describe('remembered passphrases kept by an ordinary user', () => {
  it('uses a key file only its owner may read: group- or other-readable files are refused', () => {
    if (!existsSync(BUILT)) throw new Error('not built: run npm run build');
    const home = path.join(tmp.dir, 'home');
    mkdirSync(home);
    chownSync(home, 65534, 65534);
    chmodSync(tmp.dir, 0o755);
    const dir = path.join(home, 'keys');
    const out = JSON.parse(
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', CHILD, BUILT, dir], { cwd: '/' }).toString(),
    ) as Record<string, { kind: string; problem?: string; passphrase?: string }> & { uid: number };
    expect(out.uid).toBe(65534);
    expect(out['stored']).toEqual({ kind: 'key', passphrase: 'correct horse' });
    const file = path.join(dir, 'r-1');
    expect(out['640']).toEqual({ kind: 'unusable', problem: `${file} may be read by other users (mode 640), so it is not used` });
    expect(out['604']).toEqual({ kind: 'unusable', problem: `${file} may be read by other users (mode 604), so it is not used` });
    expect(out['660']).toMatchObject({ kind: 'unusable' });
    expect(out['600']).toEqual({ kind: 'key', passphrase: 'correct horse' });
  });
});
