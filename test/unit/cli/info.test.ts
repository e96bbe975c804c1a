// `snapkeep info` through the real CLI (its main(), in process): an
// append-only repository's public key fingerprint (human and --json), none
// for format 1-2; and after `key rotate`, when this computer's app (the
// service in its XDG directories, no helper on the socket) pinned the old
// key: both fingerprints and what to do. The same app's open of the
// repository is then refused (a scheduled run's open, an unlock) with the reason public-key-changed, which the
// app's words turn into "a new key pair".
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isAppError } from '../../../electron/common/contract';
import { LocalBackend } from '../../../electron/core/api/local-backend';
import { userDirs } from '../../../electron/core/persist/dirs';
import { runCli as cli } from '../../support/cli-in-process';
import { tempDir } from '../../support/temp-dirs';

const tmp = tempDir('snapkeep-cli-info-');
const ENV = ['SNAPKEEP_PASSWORD', 'SNAPKEEP_HELPER_SOCKET', 'XDG_CONFIG_HOME', 'XDG_STATE_HOME', 'XDG_RUNTIME_DIR'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
beforeAll(() => {
  delete process.env['SNAPKEEP_PASSWORD'];
  process.env['SNAPKEEP_HELPER_SOCKET'] = path.join(tmp.dir, 'no-helper.sock');
  process.env['XDG_CONFIG_HOME'] = path.join(tmp.dir, 'config');
  process.env['XDG_STATE_HOME'] = path.join(tmp.dir, 'state');
  process.env['XDG_RUNTIME_DIR'] = path.join(tmp.dir, 'run');
});
afterAll(() => {
  for (const k of ENV) {
    const v = saved[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  tmp.remove();
});

describe('snapkeep info', () => {
  const at = (name: string) => path.join(tmp.dir, name);
  const repo = at('repo');
  const owner = at('owner.txt');
  const client = at('client.txt');

  it('shows no public key for a repository that is not append-only', async () => {
    expect((await cli('init', at('plain'), '--no-encryption')).code).toBe(0);
    const r = await cli('info', at('plain'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('public key');
    expect(JSON.parse((await cli('info', at('plain'), '--json')).out)).not.toHaveProperty('publicKey');
  });

  it("shows an append-only repository's fingerprint, the same with either key; after a rotation, the app's pinned one beside it", async () => {
    fs.writeFileSync(owner, 'owner passphrase 1\n');
    fs.writeFileSync(client, 'client passphrase 1\n');
    expect((await cli('init', repo, '--append-only', '--password-file', owner, '--client-password-file', client)).code).toBe(0);

    const human = await cli('info', repo, '--password-file', client);
    expect(human.code, human.err).toBe(0);
    const fp = /^public key {3}([0-9a-f]{32}) \(fingerprint: /m.exec(human.out)?.[1];
    expect(fp).toBeDefined();
    // No app on this computer yet: nothing compared, and nothing made in its directories.
    expect(human.out).not.toContain('pinned');
    expect(fs.existsSync(userDirs().config)).toBe(false);
    const json = JSON.parse((await cli('info', repo, '--password-file', owner, '--json')).out) as Record<string, unknown>;
    expect(json).toMatchObject({ role: 'owner', publicKey: fp });
    expect(json).not.toHaveProperty('pinnedPublicKey');

    // This computer's app adds the repository as a backed-up computer: it pins the key.
    const app = await LocalBackend.open({ dirs: userDirs(), schedule: false });
    const s = app.service;
    if (!s) throw new Error('no service');
    const added = await s.repos.add('r', repo);
    expect(added.publicKey).toBe(fp);
    await s.repos.unlock(added.id, 'client passphrase 1', true);
    await (await s.repos.open(added.id)).close();
    await app.close();
    const same = await cli('info', repo, '--password-file', client);
    expect(same.out).not.toContain('pinned');

    const rot = await cli('key', 'rotate', repo, '--password-file', owner, '--client-password-file', client, '--json');
    expect(rot.code, rot.err).toBe(0);
    const rotated = JSON.parse(rot.out) as { publicKey: string; previousPublicKey: string };
    expect(rotated.previousPublicKey).toBe(fp);

    const after = await cli('info', repo, '--password-file', client);
    expect(after.code, after.err).toBe(0);
    expect(after.out).toMatch(new RegExp(`^public key {3}${rotated.publicKey} `, 'm'));
    expect(after.out).toContain(`The app on this computer pinned public key ${fp}, not ${rotated.publicKey}`);
    expect(after.out).toContain('remove the repository in the app and add it again with the backup (client) passphrase');
    const afterJson = JSON.parse((await cli('info', repo, '--password-file', client, '--json')).out) as Record<string, unknown>;
    expect(afterJson).toMatchObject({ publicKey: rotated.publicKey, pinnedPublicKey: fp });

    // The app refuses it, saying why in a reason its words know.
    const again = await LocalBackend.open({ dirs: userDirs(), schedule: false });
    try {
      const s2 = again.service;
      if (!s2) throw new Error('no service');
      const refused = (x: unknown) => x;
      // A scheduled run's open (the remembered passphrase), and unlocking by hand.
      for (const e of [await s2.repos.open(added.id).then(() => 'opened', refused), await s2.repos.unlock(added.id, 'client passphrase 1').then(() => 'unlocked', refused)]) {
        expect(isAppError(e) && e.code).toBe('REPO_CONFIG_CHANGED');
        expect(isAppError(e) && e.details).toMatchObject({ reason: 'public-key-changed', pinned: fp, found: rotated.publicKey, repositoryId: added.id });
      }
      expect((await s2.repos.list())[0]?.publicKey).toBe(fp);
    } finally {
      await again.close();
    }
  });
});
