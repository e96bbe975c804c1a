// `snapkeep init --append-only` and the two keys through the real CLI (its
// main(), in process) on a local repository: the client passphrase backs up
// and is refused a restore (exit 4, the owner passphrase named, nothing
// written: no target file, no repository file changed); the owner's
// restores byte for byte; list and info say which key opened it. One
// append-only init: each costs two Argon2id derivations.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { noTerminal, runCli as cli } from '../../support/cli-in-process';
import { tempDir } from '../../support/temp-dirs';

const tmp = tempDir('snapkeep-cli-append-only-');
const saved = process.env['SNAPKEEP_PASSWORD'];
beforeAll(() => delete process.env['SNAPKEEP_PASSWORD']);
afterAll(() => {
  if (saved !== undefined) process.env['SNAPKEEP_PASSWORD'] = saved;
  tmp.remove();
});

/** Every file under `dir` with a hash of its bytes. */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) files[f] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  }
  return files;
}

describe('snapkeep init --append-only', () => {
  const at = (name: string) => path.join(tmp.dir, name);
  const repo = at('repo');
  const owner = at('owner.txt');
  const client = at('client.txt');

  beforeAll(() => {
    fs.writeFileSync(owner, 'owner passphrase 1\n');
    fs.writeFileSync(client, 'client passphrase 2\n');
  });

  it('is refused with --no-encryption, and a client password file without --append-only, before anything is made', async () => {
    const a = await cli('init', at('plain'), '--append-only', '--no-encryption', '--client-password-file', client);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/--append-only needs encryption/);
    const b = await cli('init', at('plain'), '--password-file', owner, '--client-password-file', client);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--client-password-file goes with --append-only/);
    // No client passphrase and no terminal: exit 4, saying where it goes.
    const c = await noTerminal(() => cli('init', at('plain'), '--append-only', '--password-file', owner));
    expect([c.code, c.err]).toEqual([4, expect.stringContaining('the client passphrase is needed: pass --client-password-file')]);
    expect(fs.existsSync(at('plain'))).toBe(false);
  });

  it('makes an owner and a client key: the client backs up and may not restore, the owner restores exactly', async () => {
    const made = await cli('init', repo, '--append-only', '--password-file', owner, '--client-password-file', client);
    expect(made.code, made.err).toBe(0);
    expect(made.out).toContain(`created an encrypted append-only repository at ${repo}`);
    expect(made.out).toMatch(/CLIENT passphrase goes on each computer that is backed up/);
    expect(made.out).toMatch(/OWNER passphrase must stay away from those computers/);

    const image = at('disk.img');
    const data = randomBytes(3 << 20);
    fs.writeFileSync(image, data);
    const backup = await cli('backup', repo, image, '--password-file', client, '--json');
    expect(backup.code, backup.err).toBe(0);
    const point = JSON.parse(backup.out) as { id: string };

    const listed = await cli('list', repo, '--password-file', client);
    expect(listed.out.split('\n')[0]).toBe('append-only (client key: adds backups only)');
    expect(listed.out).toContain(point.id);
    const info = await cli('info', repo, '--password-file', client, '--json');
    expect(JSON.parse(info.out)).toMatchObject({ formatVersion: 3, encrypted: true, role: 'client', points: 1 });

    const before = tree(repo);
    const refused = await cli('restore', repo, 'latest', at('out-client.img'), '--password-file', client);
    expect(refused.code).toBe(4);
    expect(refused.err).toMatch(/restoring needs the owner's key: this computer can only add backups .*open it with the owner passphrase/);
    expect(fs.existsSync(at('out-client.img'))).toBe(false);
    expect(tree(repo)).toEqual(before);
    // The structure is the client's to check (docs/cli.md says so); the data is not.
    expect((await cli('verify', repo, '--password-file', client)).code).toBe(0);
    const data4 = await cli('verify', repo, '--data', '--password-file', client);
    expect([data4.code, data4.err]).toEqual([4, expect.stringMatching(/owner passphrase/)]);

    expect((await cli('list', repo, '--password-file', owner)).out.split('\n')[0]).toBe('append-only (owner key)');
    expect((await cli('info', repo, '--password-file', owner)).out).toMatch(/^key {10}append-only \(owner key\)$/m);
    const restored = await cli('restore', repo, point.id, at('out.img'), '--password-file', owner, '--no-boot-repair');
    expect(restored.code, restored.err).toBe(0);
    expect(fs.readFileSync(at('out.img')).equals(data)).toBe(true);
  });
});
