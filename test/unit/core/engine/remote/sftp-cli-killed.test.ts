// The CLI against a real sshd (test/support/sshd.ts): init pins the host
// key at first use and keeps the login root-only; a backup killed with
// SIGKILL while it uploads is resumed by the next one, which indexes the
// packs already on the server from their trailers instead of uploading
// their chunks again (counted). Needs the built CLI (npm run build).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../../electron/core/engine';
import type { RemoteRepoStorage } from '../../../../../electron/core/engine/remote/remote-storage';
import { storageFor } from '../../../../../electron/core/engine/storage/registry';
import { finished } from '../../../../support/child-output';
import { type Sshd, startSshd } from '../../../../support/sshd';
import { tempDir } from '../../../../support/temp-dirs';
import { sha256 } from '../fixtures';

const CLI = path.resolve(__dirname, '../../../../../out/js/electron/cli/snapkeep.js');
// Never skipped: npm test installs the server (scripts/deps.mjs) and builds the CLI first.
const run = describe;

function packsOn(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => /^[0-9a-f]{2}\/[0-9a-f]{32}$/.test(f));
}

run('the CLI on an SFTP repository, killed mid-backup', () => {
  let sshd: Sshd;
  const tmp = tempDir('snapkeep-sftp-cli-');
  const env = () => ({
    ...process.env,
    SNAPKEEP_SSH_PASSWORD: sshd.password,
    SNAPKEEP_REMOTES_DIR: path.join(tmp.dir, 'remotes'),
    SNAPKEEP_CACHE_DIR: path.join(tmp.dir, 'cache'),
  });
  const cli = (args: string[]): ChildProcess => spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env() });
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
    tmp.remove();
  });

  it('pins the host key, and a killed backup is resumed without sending its packs again', async () => {
    const url = sshd.url('cli');
    const init = await finished(cli(['init', url, '--no-encryption']));
    expect(init.code, init.err).toBe(0);
    expect(init.err).toContain(`pinned the host key of ${url}: ${sshd.hostKey}`);
    const stored = fs.readdirSync(path.join(tmp.dir, 'remotes')).filter((n) => !n.startsWith('.'));
    expect(stored).toHaveLength(1);
    const file = path.join(tmp.dir, 'remotes', stored[0] ?? '');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ hostKey: sshd.hostKey, password: sshd.password });

    // 48 MiB of noise: three packs of 16 MiB. Killed once one is on the server.
    const img = path.join(tmp.dir, 'noise.img');
    fs.writeFileSync(img, randomBytes(48 * 1024 * 1024));
    const serverPacks = path.join(sshd.home, 'cli', 'packs');
    const child = cli(['backup', url, img, '--level', '1']);
    const done = finished(child);
    const until = Date.now() + 60_000;
    while (packsOn(serverPacks).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    const before = packsOn(serverPacks).length;
    expect(before).toBeGreaterThanOrEqual(1);

    const repo = await engine.open({ path: url, cacheDir: path.join(tmp.dir, 'cache'), remote: { password: sshd.password, hostKey: sshd.hostKey } });
    expect(await repo.listPoints()).toEqual([]);
    const stats = (storageFor(url) as RemoteRepoStorage).stats;
    const p = await repo.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 1 });
    const sent = stats.saved['packs'] ?? 0;
    const total = packsOn(serverPacks).length;
    console.log(`killed after ${before} pack(s) were on the server; the next backup sent ${sent}; ${total} in all`);
    expect(total).toBe(3);
    expect(sent).toBe(total - before);
    const out = path.join(tmp.dir, 'noise.out');
    await repo.restore({ pointId: p.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha256(img));
    expect((await repo.verify({ data: true })).problems).toEqual([]);
    await repo.close();

    // The CLI lists, verifies and shows locks through the stored login.
    const verify = await finished(cli(['verify', url, '--json']));
    expect(verify.code, verify.err).toBe(0);
    const locks = await finished(cli(['locks', url, '--json']));
    expect(locks.code, locks.err).toBe(0);
    expect(JSON.parse(locks.out)).toEqual({ locks: [], removed: [] });
    // Nothing of the clock probe stays behind.
    expect(fs.readdirSync(path.join(sshd.home, 'cli', 'locks'))).toEqual([]);
  });
});
