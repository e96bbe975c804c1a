// Logins of remote repositories are kept like remembered passphrases:
// root-only files, refused when others may read them or when damaged.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { RemoteCredentials } from '../../../../electron/core/repos/remote-credentials';
import { tempDir } from '../../../support/temp-dirs';

describe('remote credentials', () => {
  const tmp = tempDir('snapkeep-remotes-');
  afterEach(() => fs.rmSync(path.join(tmp.dir, 'remotes'), { recursive: true, force: true }));
  afterAll(() => tmp.remove());

  it('stores a login 0600 in a 0700 folder, under a name that is no user text', async () => {
    const store = new RemoteCredentials(path.join(tmp.dir, 'remotes'));
    const hostKey = `SHA256:${'b'.repeat(43)}`;
    await store.store('sftp://u@Host:22/srv//r', { password: 'pw', hostKey });
    const file = store.fileOf('sftp://u@host/srv/r');
    expect(path.basename(file)).toMatch(/^[0-9a-f]{40}$/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    // The same location however it is written.
    expect(await store.read('sftp://u@host/srv/r')).toEqual({ kind: 'login', login: { password: 'pw', hostKey } });
    expect(await store.read('sftp://u@host/srv/other')).toEqual({ kind: 'none' });
    await store.forget('sftp://u@host/srv/r');
    expect(await store.read('sftp://u@host/srv/r')).toEqual({ kind: 'none' });
  });

  it('does not use a file others may read, or a damaged one', async () => {
    const store = new RemoteCredentials(path.join(tmp.dir, 'remotes'));
    await store.store('sftp://u@h/r', { password: 'pw' });
    const file = store.fileOf('sftp://u@h/r');
    fs.chmodSync(file, 0o644);
    expect((await store.read('sftp://u@h/r')).kind).toBe('unusable');
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, '{"version":1,"location":"sftp://u@h/r","password":""}');
    expect((await store.read('sftp://u@h/r')).kind).toBe('unusable');
  });
});
