// `snapkeep key passphrase` and `snapkeep key client-passphrase` through the
// real CLI (its main(), in process) on a local append-only repository:
// refused with the client passphrase (exit 4), without a new passphrase and
// no terminal (exit 4), with a new one equal to the other role's (exit 2),
// and for a repository that is not append-only (exit 2), each before a key
// object changes; then both changed: the old passphrases fail (exit 4), the
// new client one backs up and the new owner one restores byte for byte.
// `key rotate` on the same repository: refused with the client passphrase,
// without a client passphrase, with equal ones; then a new key pair and a
// new owner passphrase, the point of before and a new one restore.
// One append-only init: two Argon2id derivations.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { noTerminal, runCli as cli } from '../../support/cli-in-process';
import { tempDir } from '../../support/temp-dirs';

const tmp = tempDir('snapkeep-cli-key-');
const saved = process.env['SNAPKEEP_PASSWORD'];
beforeAll(() => delete process.env['SNAPKEEP_PASSWORD']);
afterAll(() => {
  if (saved !== undefined) process.env['SNAPKEEP_PASSWORD'] = saved;
  tmp.remove();
});

describe('snapkeep key', () => {
  const at = (name: string) => path.join(tmp.dir, name);
  const repo = at('repo');
  const files = { owner: at('owner.txt'), client: at('client.txt'), owner2: at('owner2.txt'), client2: at('client2.txt'), owner3: at('owner3.txt') };
  const keys = () => ['owner', 'client'].map((r) => fs.readFileSync(path.join(repo, 'keys', r), 'utf8'));

  beforeAll(() => {
    fs.writeFileSync(files.owner, 'owner passphrase 1\n');
    fs.writeFileSync(files.client, 'client passphrase 1\n');
    fs.writeFileSync(files.owner2, 'owner passphrase 2\n');
    fs.writeFileSync(files.client2, 'client passphrase 2\n');
    fs.writeFileSync(files.owner3, 'owner passphrase 3\n');
  });

  it('is refused for a repository that is not append-only, and without a known subcommand', async () => {
    const plain = at('plain');
    expect((await cli('init', plain, '--no-encryption')).code).toBe(0);
    // Refused before a new passphrase is asked for (none given, no terminal).
    const r = await noTerminal(() => cli('key', 'passphrase', plain));
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('key commands need an append-only repository (format 3)')]);
    const rot = await noTerminal(() => cli('key', 'rotate', plain));
    expect([rot.code, rot.err]).toEqual([2, expect.stringContaining('key commands need an append-only repository (format 3)')]);
    const s = await cli('key', 'frobnicate', plain);
    expect([s.code, s.err]).toEqual([2, expect.stringContaining('unknown subcommand "frobnicate" (passphrase, client-passphrase, rotate)')]);
  });

  it('changes the owner and the client passphrase with the owner passphrase only', async () => {
    expect((await cli('init', repo, '--append-only', '--password-file', files.owner, '--client-password-file', files.client)).code).toBe(0);
    const image = at('disk.img');
    fs.writeFileSync(image, randomBytes(1 << 20));
    expect((await cli('backup', repo, image, '--password-file', files.client)).code).toBe(0);

    const before = keys();
    const byClient = await noTerminal(() => cli('key', 'client-passphrase', repo, '--password-file', files.client));
    expect([byClient.code, byClient.err]).toEqual([4, expect.stringMatching(/changing the client passphrase needs the owner's key/)]);
    const noNew = await noTerminal(() => cli('key', 'passphrase', repo, '--password-file', files.owner));
    expect([noNew.code, noNew.err]).toEqual([4, expect.stringContaining('the new passphrase is needed: pass --new-password-file')]);
    const same = await cli('key', 'client-passphrase', repo, '--password-file', files.owner, '--new-password-file', files.owner);
    expect([same.code, same.err]).toEqual([2, expect.stringContaining('the new client passphrase must differ from the owner passphrase')]);
    expect(keys()).toEqual(before);

    const owner = await cli('key', 'passphrase', repo, '--password-file', files.owner, '--new-password-file', files.owner2);
    expect(owner.code, owner.err).toBe(0);
    expect(owner.out).toContain(`changed the owner passphrase of ${repo}: the old one no longer opens it`);
    expect((await cli('info', repo, '--password-file', files.owner)).code).toBe(4);
    expect((await cli('info', repo, '--password-file', files.owner2)).out).toMatch(/^key {10}append-only \(owner key\)$/m);

    const client = await cli('key', 'client-passphrase', repo, '--password-file', files.owner2, '--new-password-file', files.client2, '--json');
    expect(client.code, client.err).toBe(0);
    expect(JSON.parse(client.out)).toEqual({ path: repo, role: 'client', changed: true });
    expect((await cli('backup', repo, image, '--password-file', files.client)).code).toBe(4);
    fs.writeFileSync(image, randomBytes(1 << 20));
    expect((await cli('backup', repo, image, '--password-file', files.client2)).code).toBe(0);

    const restored = await cli('restore', repo, 'latest', at('out.img'), '--password-file', files.owner2, '--no-boot-repair');
    expect(restored.code, restored.err).toBe(0);
    expect(fs.readFileSync(at('out.img')).equals(fs.readFileSync(image))).toBe(true);
  }, 120_000);

  it('rotates the key pair with the owner passphrase, and says what the backed-up computers must do', async () => {
    // The repository of the test before: passphrases owner2 and client2.
    const image = at('disk.img');
    const publicKey = () => (JSON.parse(fs.readFileSync(path.join(repo, 'config'), 'utf8')) as { publicKey: string }).publicKey;
    const before = [...keys(), publicKey()];
    const byClient = await noTerminal(() => cli('key', 'rotate', repo, '--password-file', files.client2));
    expect([byClient.code, byClient.err]).toEqual([4, expect.stringMatching(/rotating the key pair needs the owner's key/)]);
    const noClient = await noTerminal(() => cli('key', 'rotate', repo, '--password-file', files.owner2));
    expect([noClient.code, noClient.err]).toEqual([4, expect.stringContaining('the client passphrase is needed (keys/client is sealed again): pass --client-password-file')]);
    const same = await cli('key', 'rotate', repo, '--password-file', files.owner2, '--client-password-file', files.owner2);
    expect([same.code, same.err]).toEqual([2, expect.stringContaining('the client passphrase must differ from the owner passphrase')]);
    const mixed = await cli('key', 'passphrase', repo, '--client-password-file', files.client2);
    expect([mixed.code, mixed.err]).toEqual([2, expect.stringContaining('--client-password-file goes with key rotate')]);
    expect([...keys(), publicKey()]).toEqual(before);

    const r = await cli('key', 'rotate', repo, '--password-file', files.owner2, '--client-password-file', files.client2, '--new-password-file', files.owner3);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`^rotated the key pair of ${repo}: new public key [0-9a-f]{32} \\(was [0-9a-f]{32}\\)$`, 'm'));
    expect(r.out).toContain('1 retired secret key is kept: every restore point still opens with the owner passphrase.');
    expect(r.out).toContain('remove it there and add it again with the client passphrase');
    expect(r.out).not.toContain('The client passphrase is a new one');
    expect(r.out).toContain('keys/owner is sealed under the new owner passphrase: the old one no longer opens the repository.');
    expect(publicKey()).not.toBe(before[2]);
    expect((await cli('info', repo, '--password-file', files.owner2)).code).toBe(4);

    // The point of before the rotation, and a new one sealed to the new key, restore.
    const old = fs.readFileSync(image);
    const first = await cli('restore', repo, 'latest', at('old.img'), '--password-file', files.owner3, '--no-boot-repair');
    expect(first.code, first.err).toBe(0);
    expect(fs.readFileSync(at('old.img')).equals(old)).toBe(true);
    fs.writeFileSync(image, randomBytes(1 << 20));
    expect((await cli('backup', repo, image, '--password-file', files.client2)).code).toBe(0);
    const restored = await cli('restore', repo, 'latest', at('new.img'), '--password-file', files.owner3, '--no-boot-repair');
    expect(restored.code, restored.err).toBe(0);
    expect(fs.readFileSync(at('new.img')).equals(fs.readFileSync(image))).toBe(true);

    // Again, with a new client passphrase, as JSON: two retired keys now.
    const j = await cli('key', 'rotate', repo, '--password-file', files.owner3, '--client-password-file', files.client, '--json');
    expect(j.code, j.err).toBe(0);
    expect(JSON.parse(j.out)).toEqual({
      path: repo,
      rotated: true,
      publicKey: expect.stringMatching(/^[0-9a-f]{32}$/),
      previousPublicKey: expect.stringMatching(/^[0-9a-f]{32}$/),
      retiredKeys: 2,
      finished: false,
      clientPassphraseChanged: true,
      ownerPassphraseChanged: false,
    });
    expect((await cli('backup', repo, image, '--password-file', files.client2)).code).toBe(4);
  }, 120_000);
});
