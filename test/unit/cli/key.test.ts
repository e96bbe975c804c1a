// `snapkeep key passphrase` and `snapkeep key client-passphrase` through the
// real CLI (its main(), in process) on a local append-only repository:
// refused with the client passphrase (exit 4), without a new passphrase and
// no terminal (exit 4), with a new one equal to the other role's (exit 2),
// and for a repository that is not append-only (exit 2), each before a key
// object changes; then both changed: the old passphrases fail (exit 4), the
// new client one backs up and the new owner one restores byte for byte.
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
  const files = { owner: at('owner.txt'), client: at('client.txt'), owner2: at('owner2.txt'), client2: at('client2.txt') };
  const keys = () => ['owner', 'client'].map((r) => fs.readFileSync(path.join(repo, 'keys', r), 'utf8'));

  beforeAll(() => {
    fs.writeFileSync(files.owner, 'owner passphrase 1\n');
    fs.writeFileSync(files.client, 'client passphrase 1\n');
    fs.writeFileSync(files.owner2, 'owner passphrase 2\n');
    fs.writeFileSync(files.client2, 'client passphrase 2\n');
  });

  it('is refused for a repository that is not append-only, and without a known subcommand', async () => {
    const plain = at('plain');
    expect((await cli('init', plain, '--no-encryption')).code).toBe(0);
    // Refused before a new passphrase is asked for (none given, no terminal).
    const r = await noTerminal(() => cli('key', 'passphrase', plain));
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('key commands need an append-only repository (format 3)')]);
    const s = await cli('key', 'rotate', plain);
    expect([s.code, s.err]).toEqual([2, expect.stringContaining('unknown subcommand "rotate" (passphrase, client-passphrase)')]);
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
});
