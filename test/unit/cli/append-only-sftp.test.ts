// The append-only CLI against a real sshd (test/support/sshd.ts, the
// shared folder and the restricted client account of design §3.2), through
// main() in process: `init --append-only` with the owner's login keeps no
// login on this computer (it says so, with the host key) and makes the
// owner's files group-readable without being asked; the client, with its
// own login, backs up and its login is kept as any other; the owner's
// later open keeps none either.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CliResult, runCli } from '../../support/cli-in-process';
import { type Sshd, startSshd } from '../../support/sshd';
import { tempDir } from '../../support/temp-dirs';

const tmp = tempDir('snapkeep-cli-ao-sftp-');
const remotes = path.join(tmp.dir, 'remotes');
const VARS = ['SNAPKEEP_PASSWORD', 'SNAPKEEP_SSH_PASSWORD', 'SNAPKEEP_SSH_HOST_KEY', 'SNAPKEEP_SSH_KEY_FILE', 'SNAPKEEP_REMOTES_DIR'] as const;
const saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));

/** `snapkeep <args>` with the SSH password `login`; what it printed. */
function cli(login: string, ...args: string[]): Promise<CliResult> {
  for (const v of VARS) delete process.env[v];
  process.env['SNAPKEEP_SSH_PASSWORD'] = login;
  process.env['SNAPKEEP_REMOTES_DIR'] = remotes;
  return runCli(...args);
}

/** The logins stored in the remotes folder (file names are hashes of the location). */
function storedLogins(): Array<Record<string, unknown>> {
  if (!fs.existsSync(remotes)) return [];
  return fs
    .readdirSync(remotes)
    .filter((n) => !n.startsWith('.'))
    .map((n) => JSON.parse(fs.readFileSync(path.join(remotes, n), 'utf8')) as Record<string, unknown>);
}

describe('snapkeep init --append-only over SFTP', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
    for (const v of VARS) {
      const was = saved[v];
      if (was === undefined) delete process.env[v];
      else process.env[v] = was;
    }
    tmp.remove();
  });

  it("keeps no owner login, shares the owner's files with the group, and the client backs up with its own", async () => {
    const owner = path.join(tmp.dir, 'owner.txt');
    const client = path.join(tmp.dir, 'client.txt');
    fs.writeFileSync(owner, 'owner passphrase\n');
    fs.writeFileSync(client, 'client passphrase\n');
    const ownerUrl = sshd.sharedUrl('cli', 'owner');
    const clientUrl = sshd.sharedUrl('cli', 'client');
    const dir = path.join(sshd.ao, 'repos', 'cli');

    const made = await cli(sshd.password, 'init', ownerUrl, '--append-only', '--password-file', owner, '--client-password-file', client);
    expect(made.code, made.err).toBe(0);
    expect(made.err).toContain(`the owner's login for ${ownerUrl} is not kept on this computer`);
    expect(made.err).toContain(`the server's host key is ${sshd.hostKey}`);
    expect(made.out).toMatch(/restricted server login; the owner's login you used now/);
    expect(storedLogins()).toEqual([]);
    // No --shared-group anywhere: format 3 is enough.
    expect(fs.statSync(path.join(dir, 'packs/3c')).mode & 0o7777).toBe(0o2770);
    expect(fs.statSync(path.join(dir, 'config')).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.join(dir, 'keys/owner')).mode & 0o777).toBe(0o600);

    const image = path.join(tmp.dir, 'disk.img');
    fs.writeFileSync(image, randomBytes(2 << 20));
    const backup = await cli(sshd.aoPassword, 'backup', clientUrl, image, '--password-file', client);
    expect(backup.code, backup.err).toBe(0);
    expect(backup.err).toContain(`pinned the host key of ${clientUrl}`);
    expect(storedLogins()).toEqual([expect.objectContaining({ password: sshd.aoPassword, hostKey: sshd.hostKey })]);

    // The owner's later open: its role said, its login still not kept.
    const listed = await cli(sshd.password, 'list', ownerUrl, '--password-file', owner);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out.split('\n')[0]).toBe('append-only (owner key)');
    expect(listed.err).toContain('is not kept on this computer');
    expect(storedLogins()).toHaveLength(1);
  });
});
