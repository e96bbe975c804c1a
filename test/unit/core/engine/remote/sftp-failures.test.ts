// What goes wrong with a server, against a real sshd (test/support/sshd.ts):
// a wrong password, a host that does not exist, a changed host key, a
// path with no repository, the server killed while a backup uploads, and a
// server whose answers are hostile (an oversized file, names that cannot
// be file names, links). Each is a clear error, nothing a point references
// goes missing, and the next run succeeds.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isAppError } from '../../../../../electron/common/contract';
import { engine } from '../../../../../electron/core/engine';
import type { RemoteAccess } from '../../../../../electron/core/engine/remote/connect';
import { PREFETCH_PACKS, type RemoteNative } from '../../../../../electron/core/engine/remote/remote-native';
import type { RemoteRepoStorage } from '../../../../../electron/core/engine/remote/remote-storage';
import type { Repository } from '../../../../../electron/core/engine/repository';
import { parseSftpLocation } from '../../../../../electron/core/engine/storage/location';
import { storageFor } from '../../../../../electron/core/engine/storage/registry';
import { SftpStorage } from '../../../../../electron/core/engine/storage/sftp';
import { JAIL_USER, SFTP_USER, type Sshd, startSshd } from '../../../../support/sshd';
import { testRegistry } from '../../../../support/registry';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, sha256 } from '../fixtures';

// Never skipped: npm test installs the server (scripts/deps.mjs) and builds the CLI first.
const run = describe;
const FAST = { attempts: 2, baseDelayMs: 100 };

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string; details: Record<string, unknown> | undefined }> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return { code: e.code, message: e.message, details: e.details };
    throw e;
  }
  throw new Error('expected a failure');
}

run('an SFTP server that fails or lies', () => {
  let sshd: Sshd;
  const tmp = tempDir('snapkeep-sftp-fail-');
  const cacheDir = () => path.join(tmp.dir, 'cache');
  const access = (extra: Partial<RemoteAccess> = {}): RemoteAccess => ({ password: sshd.password, hostKey: sshd.hostKey, retry: FAST, readyTimeoutMs: 5000, ...extra });
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
    tmp.remove();
  });
  // A test that killed the server and failed before starting it again
  // must not take the next tests with it (they would all see ECONNREFUSED).
  let killed = false;
  afterEach(async () => {
    if (killed) await sshd.start();
    killed = false;
  });

  it('says a wrong password, an unknown host and a missing repository plainly', async () => {
    const t0 = Date.now();
    const bad = await codeOf(engine.open({ path: sshd.url('none'), cacheDir: cacheDir(), remote: access({ password: 'wrong' }) }));
    expect(bad.code).toBe('REMOTE_AUTH_FAILED');
    expect(bad.message).toContain(SFTP_USER);
    // Not retried: a refused login does not get better by asking again.
    expect(Date.now() - t0).toBeLessThan(4000);

    const host = await codeOf(engine.open({ path: `sftp://${SFTP_USER}@no-such-host.invalid/repo`, cacheDir: cacheDir(), remote: access() }));
    expect(host.code).toBe('REMOTE_UNAVAILABLE');
    expect(host.message).toMatch(/no-such-host\.invalid.*after 2 attempts/);

    const missing = await codeOf(engine.open({ path: sshd.url('nothing-here'), cacheDir: cacheDir(), remote: access() }));
    expect(missing.code).toBe('REPO_NOT_FOUND');
    expect(missing.message).toContain('nothing-here');
  });

  it('works for the chrooted account, which sees only its own folder', async () => {
    const img = path.join(tmp.dir, 'jail.img');
    makeImage(img, 4 * 1024 * 1024, 11);
    const url = sshd.url('r1', true);
    expect(url).toContain(`${JAIL_USER}@`);
    const repo = await engine.init({ path: url, cacheDir: cacheDir(), remote: access({ password: sshd.jailPassword }) });
    const p = await repo.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 3 });
    const out = path.join(tmp.dir, 'jail.out');
    await repo.restore({ pointId: p.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha256(img));
    await repo.close();
    expect(fs.existsSync(path.join(sshd.jail, 'repos/r1/config'))).toBe(true);
    // A path outside its folder does not exist for it.
    const outside = await codeOf(engine.init({ path: `sftp://${JAIL_USER}@127.0.0.1:${sshd.port}/etc/r2`, cacheDir: cacheDir(), remote: access({ password: sshd.jailPassword }) }));
    expect(['PERMISSION_DENIED', 'IO_ERROR', 'NOT_FOUND']).toContain(outside.code);
  });

  it('refuses an oversized file, names that cannot be file names, and links', async () => {
    const url = sshd.url('hostile');
    const repo = await engine.init({ path: url, cacheDir: cacheDir(), remote: access() });
    await repo.close();
    const dir = path.join(sshd.home, 'hostile');
    const uid = fs.statSync(dir).uid;

    // A name with a newline in points/: never a manifest name, refused loudly.
    const odd = path.join(dir, 'points', 'bad\nname');
    fs.writeFileSync(odd, 'x');
    fs.chownSync(odd, uid, 0);
    let r = await engine.open({ path: url, cacheDir: cacheDir(), remote: access() });
    const name = await codeOf(r.listPoints());
    expect(name.code).toBe('REPO_UNSAFE');
    expect(name.message).toContain('cannot be a file name');
    await r.close();
    fs.rmSync(odd);

    // A link among the packs: refused by verify, never followed.
    fs.mkdirSync(path.join(dir, 'packs', 'ab'), { recursive: true });
    fs.symlinkSync('/etc/passwd', path.join(dir, 'packs', 'ab', 'ab'.padEnd(32, '0')));
    r = await engine.open({ path: url, cacheDir: cacheDir(), remote: access() });
    const link = await codeOf(r.verify({ data: false }));
    expect(link.code).toBe('REPO_UNSAFE');
    expect(link.message).toContain('symbolic link');
    await r.close();
    fs.rmSync(path.join(dir, 'packs', 'ab'), { recursive: true });

    // A config of 1 MiB: refused by its size before a byte of it is read.
    const cfg = path.join(dir, 'config');
    fs.writeFileSync(cfg, Buffer.alloc(1024 * 1024, 0x20));
    const big = await codeOf(engine.open({ path: url, cacheDir: cacheDir(), remote: access() }));
    expect(big.code).toBe('REPO_CORRUPT');
    expect(big.message).toMatch(/1048576 bytes, more than the 65536/);
  });

  it('a server that stops answering while its connection lives is given up on, and a new connection tried', async () => {
    // The file server hangs (its storage hangs) while the SSH transport
    // still answers keepalives: SIGSTOP to the process serving SFTP for
    // one connection. ssh2 alone would wait for its answers for ever.
    const stopped: number[] = [];
    const sftpServers = () => new Set(sshd.sessions().filter((p) => p.cmd.includes('@internal-sftp')).map((p) => p.pid));
    /** Opens a storage and stops the file server of its connection. */
    const stalled = async (attempts: number) => {
      const known = sftpServers();
      const storage = new SftpStorage(parseSftpLocation(sshd.url('stall')), { password: sshd.password, hostKey: sshd.hostKey }, { retry: { ...FAST, attempts }, readyTimeoutMs: 5000, stallTimeoutMs: 1500 });
      await storage.save('config', Buffer.from('x'));
      const mine = [...sftpServers()].filter((pid) => !known.has(pid));
      expect(mine).toHaveLength(1);
      for (const pid of mine) process.kill(pid, 'SIGSTOP');
      stopped.push(...mine);
      return storage;
    };
    const pack = (n: string) => `packs/bb/${'bb'.padEnd(31, '2')}${n}`;
    try {
      // One attempt: the error names the stall.
      const once = await stalled(1);
      let t0 = Date.now();
      const failed = await codeOf(once.save(pack('1'), randomBytes(4 * 1024 * 1024)));
      console.log(`a stalled server was given up on after ${Date.now() - t0} ms`);
      expect(failed.code).toBe('REMOTE_UNAVAILABLE');
      expect(failed.message).toMatch(/stopped answering/);
      await once.close();
      // Two attempts: the second, on a new connection, saves it.
      const twice = await stalled(2);
      t0 = Date.now();
      const data = randomBytes(4 * 1024 * 1024);
      await twice.save(pack('2'), data);
      const took = Date.now() - t0;
      console.log(`saved on a new connection after ${took} ms`);
      expect(took).toBeGreaterThanOrEqual(1500);
      expect(fs.readFileSync(path.join(sshd.home, 'stall', pack('2'))).equals(data)).toBe(true);
      await twice.close();
    } finally {
      for (const pid of stopped) process.kill(pid, 'SIGCONT');
    }
  }, 60_000);

  it('a save cut by the server dying fails with the reason, not a wait without end', async () => {
    // ssh2 leaves a request made on a channel whose connection died
    // without an answer for ever: the save's clean-up after the failed
    // writes (close, unlink) did that, and the backup above it hung.
    const storage = new SftpStorage(parseSftpLocation(sshd.url('cut')), { password: sshd.password, hostKey: sshd.hostKey }, { retry: FAST, readyTimeoutMs: 5000 });
    const dir = path.join(sshd.home, 'cut/packs/aa');
    const save = storage.save(`packs/aa/${'aa'.padEnd(32, '1')}`, randomBytes(256 * 1024 * 1024));
    // Kill once the temp file has data: the writes are in flight.
    const writing = () => fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.startsWith('.snapkeep-tmp-') && fs.statSync(path.join(dir, f)).size > 0);
    while (!writing()) await new Promise((r) => setTimeout(r, 2));
    sshd.kill();
    killed = true;
    const failed = await codeOf(save);
    expect(failed.code).toBe('REMOTE_UNAVAILABLE');
    expect(failed.message).toMatch(/could not be reached after 2 attempts/);
    await storage.close();
    await sshd.start();
    killed = false;
  }, 30_000);

  it('fails clearly when the server dies mid-upload, loses nothing, and the next run resumes', async () => {
    const img = path.join(tmp.dir, 'big.img');
    // Noise only: 3 packs of 16 MiB, so the kill lands between uploads.
    fs.writeFileSync(img, randomBytes(48 * 1024 * 1024));
    const url = sshd.url('killed');
    const first = await engine.init({ path: url, cacheDir: cacheDir(), remote: access() });
    const small = path.join(tmp.dir, 'small.img');
    makeImage(small, 2 * 1024 * 1024, 5);
    const kept = await first.backup({ sources: [{ source: small, readFrom: small }], compressionLevel: 3 });
    const stats = (storageFor(url) as RemoteRepoStorage).stats;
    const packsBefore = stats.saved['packs'] ?? 0;
    const backup = first.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 1 });
    // Kill once the first pack of this backup is on the server.
    while ((stats.saved['packs'] ?? 0) === packsBefore) await new Promise((r) => setTimeout(r, 5));
    sshd.kill();
    killed = true;
    const t0 = Date.now();
    const failed = await codeOf(backup);
    expect(failed.code).toBe('REMOTE_UNAVAILABLE');
    expect(failed.message).toMatch(/could not be reached after 2 attempts/);
    console.log(`the killed server was reported after ${Date.now() - t0} ms`);
    await first.close().catch(() => undefined);
    await sshd.start();
    killed = false;

    // A read cache of two packs: the restore below still reads all three.
    const again = await engine.open({ path: url, cacheDir: cacheDir(), remote: access({ readCachePacks: 2 }) });
    // No point was written; the one before is whole.
    expect((await again.listPoints()).map((p) => p.id)).toEqual([kept.id]);
    expect((await again.verify({ data: true })).problems).toEqual([]);
    const stats2 = (storageFor(url) as RemoteRepoStorage).stats;
    const uploadedBefore = fs.readdirSync(path.join(sshd.home, 'killed/packs'), { recursive: true }).filter((f) => /\/[0-9a-f]{32}$/.test(String(f))).length;
    const packs0 = stats2.saved['packs'] ?? 0;
    const p = await again.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 1 });
    const uploadedNow = (stats2.saved['packs'] ?? 0) - packs0;
    const total = fs.readdirSync(path.join(sshd.home, 'killed/packs'), { recursive: true }).filter((f) => /\/[0-9a-f]{32}$/.test(String(f))).length;
    console.log(`packs: ${uploadedBefore} on the server after the kill, ${uploadedNow} uploaded by the next run, ${total} in all`);
    // The packs the killed run put on the server are used, not sent again:
    // The small image's pack, and the three of 16 MiB that 48 MiB of noise
    // fill, whichever run sent them.
    expect(uploadedBefore).toBeGreaterThanOrEqual(1);
    expect(total).toBe(uploadedBefore + uploadedNow);
    expect(total).toBe(4);
    const out = path.join(tmp.dir, 'big.out');
    const reads = ((again as Repository).native as RemoteNative).readStats;
    await again.restore({ pointId: p.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha256(img));
    console.log(`restore through a 2-pack cache: ${reads.fetched} fetches, at most ${reads.maxHeld} packs held`);
    expect(reads.fetched).toBeGreaterThanOrEqual(3);
    expect(reads.maxHeld).toBeLessThanOrEqual(2 + PREFETCH_PACKS);
    expect((await again.verify({ data: true })).problems).toEqual([]);
    await again.close();
  });

  it('registers remote repositories with their login kept root-only and the host key pinned at first use', async () => {
    const { registry, remotes } = await testRegistry(path.join(tmp.dir, 'state'));
    // Unencrypted here: Argon2id on a loaded CI machine costs seconds per open.
    const url = sshd.url('reg');
    const created = await registry.init('office', url, undefined, undefined, false, { password: sshd.password });
    expect(created).toMatchObject({ path: url, encrypted: false, hostKey: sshd.hostKey });
    expect(await remotes.read(url)).toEqual({ kind: 'login', login: { password: sshd.password, hostKey: sshd.hostKey } });
    // Opened later with what was stored, nothing given again.
    const points = await registry.with(created.id, (h) => h.listPoints());
    expect(points).toEqual([]);
    await registry.remove(created.id);
    expect(await remotes.read(url)).toEqual({ kind: 'none' });
    // Added back as an existing repository, with a key this time.
    const added = await registry.add('office again', url, { privateKey: sshd.clientKey.toString('utf8') });
    expect(added).toMatchObject({ encrypted: false, hostKey: sshd.hostKey });
    expect(await registry.with(added.id, (h) => h.listPoints())).toEqual([]);
    // An encrypted one is registered without its key: the host key comes from a connection test.
    const enc = await engine.init({ path: sshd.url('reg-enc'), passphrase: 'pw', cacheDir: cacheDir(), remote: access() });
    await enc.close();
    const locked = await registry.add('locked', sshd.url('reg-enc'), { password: sshd.password });
    expect(locked).toMatchObject({ encrypted: true, unlocked: false, hostKey: sshd.hostKey });
  });

  it('tests a connection: shows the host key and what is there, writes nothing, and never uses a kept login', async () => {
    const { registry } = await testRegistry(path.join(tmp.dir, 'probe-state'));
    const url = sshd.url('probe/new');
    // Nothing there yet: the key shown, and the folder not made.
    expect(await registry.probe(url, { password: sshd.password })).toEqual({ hostKey: sshd.hostKey, repository: 'none' });
    expect(fs.existsSync(path.join(sshd.home, 'probe'))).toBe(false);
    // A repository there, encrypted or not.
    const created = await registry.init('probed', url, undefined, undefined, false, { password: sshd.password });
    expect(await registry.probe(url, { password: sshd.password })).toEqual({ hostKey: sshd.hostKey, repository: 'found', encrypted: false });
    await (await engine.init({ path: sshd.url('probe/enc'), passphrase: 'pw', cacheDir: cacheDir(), remote: access() })).close();
    expect(await registry.probe(sshd.url('probe/enc'), { password: sshd.password, hostKey: sshd.hostKey })).toEqual({ hostKey: sshd.hostKey, repository: 'found', encrypted: true });
    // The login kept for the registered one is not used: none given, none tried.
    expect((await codeOf(registry.probe(url, {}))).code).toBe('REMOTE_AUTH_FAILED');
    expect((await codeOf(registry.probe(url, { password: 'wrong' }))).code).toBe('REMOTE_AUTH_FAILED');
    // A key other than the one expected is refused, as a backup would refuse it.
    const other = `SHA256:${'A'.repeat(43)}`;
    const changed = await codeOf(registry.probe(url, { password: sshd.password, hostKey: other }));
    expect(changed.code).toBe('REMOTE_HOST_KEY_CHANGED');
    expect(changed.details).toMatchObject({ expected: other, found: sshd.hostKey });
    // Another tool's repository is said as such (a restic config is JSON too).
    fs.mkdirSync(path.join(sshd.home, 'probe/other'), { recursive: true });
    fs.writeFileSync(path.join(sshd.home, 'probe/other/config'), JSON.stringify({ version: 2, id: 'f'.repeat(64), chunker_polynomial: '3c657535c4d6f5' }));
    expect(await codeOf(registry.probe(sshd.url('probe/other'), { password: sshd.password }))).toMatchObject({ code: 'REPO_NOT_FOUND', message: expect.stringMatching(/not a Snapkeep repository/) });
    // A folder on this computer is not a connection to test.
    expect((await codeOf(registry.probe(path.join(tmp.dir, 'local'), {}))).code).toBe('INVALID_ARGUMENT');
    await registry.remove(created.id);
  });

  it('refuses a changed host key, and accepts the new one only when told', async () => {
    const url = sshd.url('hk');
    const old = sshd.hostKey;
    const repo = await engine.init({ path: url, cacheDir: cacheDir(), remote: access() });
    await repo.close();
    sshd.kill();
    sshd.newHostKey();
    await sshd.start();
    const changed = await codeOf(engine.open({ path: url, cacheDir: cacheDir(), remote: access({ hostKey: old }) }));
    expect(changed.code).toBe('REMOTE_HOST_KEY_CHANGED');
    expect(changed.details?.['found']).toBe(sshd.hostKey);
    expect(changed.details?.['expected']).toBe(old);
    const ok = await engine.open({ path: url, cacheDir: cacheDir(), remote: access({ hostKey: sshd.hostKey }) });
    expect(ok.hostKey).toBe(sshd.hostKey);
    await ok.close();
  });

  it('changes a kept login only when the repository is reached with it, and a renewed host key only when given', async () => {
    const { registry, remotes } = await testRegistry(path.join(tmp.dir, 'login-state'));
    const url = sshd.url('login');
    const repo = await registry.init('nas', url, undefined, undefined, false, { password: sshd.password });
    const old = sshd.hostKey;
    // A wrong password is refused, and the kept login stays as it was.
    expect((await codeOf(registry.updateLogin(repo.id, { password: 'wrong' }))).code).toBe('REMOTE_AUTH_FAILED');
    expect(await remotes.read(url)).toEqual({ kind: 'login', login: { password: sshd.password, hostKey: old } });
    // A key replaces the password: no stale password is kept beside it.
    await registry.updateLogin(repo.id, { privateKey: sshd.clientKey.toString('utf8') });
    expect(await remotes.read(url)).toEqual({ kind: 'login', login: { privateKey: sshd.clientKey.toString('utf8'), hostKey: old } });
    expect(await registry.with(repo.id, (h) => h.listPoints())).toEqual([]);

    // The server's keys renewed: refused, also by a login change that does not name the new key.
    sshd.kill();
    sshd.newHostKey();
    await sshd.start();
    expect((await codeOf(registry.with(repo.id, (h) => h.listPoints()))).code).toBe('REMOTE_HOST_KEY_CHANGED');
    expect((await codeOf(registry.updateLogin(repo.id, {}))).code).toBe('REMOTE_HOST_KEY_CHANGED');
    // Given by the user (who compared it), it is kept, and the repository opens again.
    const renewed = await registry.updateLogin(repo.id, { hostKey: sshd.hostKey });
    expect(renewed.hostKey).toBe(sshd.hostKey);
    expect(await registry.with(repo.id, (h) => h.listPoints())).toEqual([]);
    // A login that reaches no repository there changes nothing.
    fs.rmSync(path.join(sshd.home, 'login', 'config'));
    expect((await codeOf(registry.updateLogin(repo.id, { password: sshd.password }))).code).toBe('REPO_NOT_FOUND');
    const after = await remotes.read(url);
    expect(after.kind === 'login' && after.login.privateKey !== undefined && after.login.hostKey === sshd.hostKey).toBe(true);
  });
});
