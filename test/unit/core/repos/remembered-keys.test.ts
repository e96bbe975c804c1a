// The key files of remembered passphrases: modes 0600 in a 0700 directory,
// written atomically (no temporary file left), and every kind of bad file
// reported as unusable with its reason instead of thrown.
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { RememberedKeys } from '../../../../electron/core/repos/remembered-keys';
import { tempDir } from '../../../support/temp-dirs';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

const mode = (p: string) => statSync(p).mode & 0o777;

describe('remembered keys', () => {
  it('stores 0600 in a 0700 directory, reads back, replaces, forgets', async () => {
    const keys = new RememberedKeys(path.join(tmp.dir, 'state', 'keys'));
    expect(await keys.read('r-1')).toEqual({ kind: 'none' });
    await keys.store('r-1', 'correct horse');
    expect(mode(keys.dir)).toBe(0o700);
    expect(mode(keys.fileOf('r-1'))).toBe(0o600);
    expect(statSync(keys.fileOf('r-1')).uid).toBe(process.getuid?.());
    expect(await keys.read('r-1')).toEqual({ kind: 'key', passphrase: 'correct horse' });
    await keys.store('r-1', 'battery staple');
    expect(await keys.read('r-1')).toEqual({ kind: 'key', passphrase: 'battery staple' });
    expect(readdirSync(keys.dir)).toEqual(['r-1']);
    await keys.forget('r-1');
    expect(await keys.read('r-1')).toEqual({ kind: 'none' });
    await keys.forget('r-1'); // forgetting twice is fine
  });

  it('tightens a directory that exists with a looser mode', async () => {
    const dir = path.join(tmp.dir, 'keys');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    await new RememberedKeys(dir).store('r-1', 'p');
    expect(mode(dir)).toBe(0o700);
  });

  it('reports damaged, loose and odd files as unusable, with the reason', async () => {
    const keys = new RememberedKeys(path.join(tmp.dir, 'keys'));
    await keys.store('r-ok', 'p');
    const write = (id: string, text: string, m = 0o600) => {
      writeFileSync(keys.fileOf(id), text, { mode: m });
      chmodSync(keys.fileOf(id), m);
    };
    write('r-json', 'garbage');
    write('r-shape', JSON.stringify({ version: 2, passphrase: 'p' }));
    write('r-empty', JSON.stringify({ version: 1, passphrase: '' }));
    write('r-loose', JSON.stringify({ version: 1, passphrase: 'p' }), 0o644);
    write('r-group', JSON.stringify({ version: 1, passphrase: 'p' }), 0o640);
    write('r-other', JSON.stringify({ version: 1, passphrase: 'p' }), 0o604);
    mkdirSync(keys.fileOf('r-dir'));
    symlinkSync(keys.fileOf('r-ok'), keys.fileOf('r-link'));
    write('r-theirs', JSON.stringify({ version: 1, passphrase: 'p' }));
    chownSync(keys.fileOf('r-theirs'), 65534, 65534);
    expect(await keys.read('r-json')).toEqual({ kind: 'unusable', problem: `${keys.fileOf('r-json')} is damaged (not JSON)` });
    expect(await keys.read('r-shape')).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('is damaged (version:') });
    expect(await keys.read('r-empty')).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('is damaged (passphrase:') });
    expect(await keys.read('r-loose')).toEqual({ kind: 'unusable', problem: `${keys.fileOf('r-loose')} may be read by other users (mode 644), so it is not used` });
    expect(await keys.read('r-group')).toEqual({ kind: 'unusable', problem: `${keys.fileOf('r-group')} may be read by other users (mode 640), so it is not used` });
    expect(await keys.read('r-other')).toEqual({ kind: 'unusable', problem: `${keys.fileOf('r-other')} may be read by other users (mode 604), so it is not used` });
    expect(await keys.read('r-link')).toEqual({ kind: 'unusable', problem: `${keys.fileOf('r-link')} is not a regular file` });
    expect(await keys.read('r-theirs')).toEqual({ kind: 'unusable', problem: `${keys.fileOf('r-theirs')} belongs to uid 65534, not to this service's user, so it is not used` });
    expect(await keys.read('r-dir')).toEqual({ kind: 'unusable', problem: `${keys.fileOf('r-dir')} is not a regular file` });
    expect(await keys.read('r-ok')).toEqual({ kind: 'key', passphrase: 'p' });
  });

  it('refuses ids that could leave the directory', () => {
    const keys = new RememberedKeys(path.join(tmp.dir, 'keys'));
    expect(() => keys.fileOf('../escape')).toThrow(/not a repository id/);
    expect(() => keys.fileOf('')).toThrow(/not a repository id/);
  });
});
