// An append-only repository over SFTP, end to end against a real sshd
// (test/support/sshd.ts; docs/append-only-design.md §3.2, step 7): the
// owner (skt-sftp) makes the repository in a folder shared through a
// group; the client (skt-sftp-ao: chrooted, umask 0222, an allow list of
// requests) backs up, full and changed-block incremental, and is refused a
// restore before it writes a byte; the server itself refuses the client
// every request that would remove, move, change or overwrite a file, and
// the owner's key object; the owner then prunes, restores byte for byte
// and checks the data.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Client, type SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../../electron/core/engine';
import type { RemoteAccess } from '../../../../../electron/core/engine/remote/connect';
import { AO_USER, type Sshd, startSshd } from '../../../../support/sshd';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, mutate, sha256 } from '../fixtures';

// Never skipped: npm test installs the server (scripts/deps.mjs).
const run = describe;
const FAST = { attempts: 2, baseDelayMs: 100 };
const OWNER = 'owner passphrase';
const CLIENT = 'client passphrase';
const SFTP_PERMISSION_DENIED = 3;

run('an append-only repository over SFTP', () => {
  let sshd: Sshd;
  const tmp = tempDir('snapkeep-sftp-ao-');
  // No sharedGroup: the engine derives it from format 3 (the modes checked below come from that).
  const ownerAccess = (): RemoteAccess => ({ password: sshd.password, hostKey: sshd.hostKey, retry: FAST, readyTimeoutMs: 5000 });
  const clientAccess = (): RemoteAccess => ({ password: sshd.aoPassword, hostKey: sshd.hostKey, retry: FAST, readyTimeoutMs: 5000 });
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
    tmp.remove();
  });

  it('lets the client add backups only, refuses it the rest on the server, and the owner prunes and restores', async () => {
    const image = path.join(tmp.dir, 'disk.img');
    makeImage(image, 6 * 1024 * 1024, 41);
    const ownerUrl = sshd.sharedUrl('repo', 'owner');
    const clientUrl = sshd.sharedUrl('repo', 'client');
    const dir = path.join(sshd.ao, 'repos', 'repo');

    // --- the owner makes it ---------------------------------------------
    await (await engine.init({ path: ownerUrl, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: path.join(tmp.dir, 'owner-cache'), remote: ownerAccess() })).close();
    // Every folder the client needs is there, group-writable; the owner's key object is the owner's alone.
    for (const d of ['', 'packs/00', 'packs/ff', 'lists/7a', 'locks', 'index', 'points', 'keys']) expect(fs.statSync(path.join(dir, d)).mode & 0o7777, d).toBe(0o2770);
    expect(fs.readdirSync(path.join(dir, 'packs')).length).toBe(256);
    expect(fs.readdirSync(path.join(dir, 'lists')).length).toBe(256);
    expect(fs.statSync(path.join(dir, 'keys/owner')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, 'keys/client')).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.join(dir, 'config')).mode & 0o777).toBe(0o640);

    // --- the client backs up ----------------------------------------------
    const shas: string[] = [];
    let full: string;
    let incr: string;
    const client = await engine.open({ path: clientUrl, passphrase: CLIENT, cacheDir: path.join(tmp.dir, 'client-cache'), remote: clientAccess() });
    try {
      expect(client.role).toBe('client');
      const cbt = { generation: 'gen-sftp-ao', number: 1, blockSize: 65536 };
      shas.push(sha256(image));
      full = (await client.backup({ sources: [{ source: image, readFrom: image, cbt }], compressionLevel: 1 })).id;
      const ranges = mutate(image, 0.002, 9);
      shas.push(sha256(image));
      const second = await client.backup({
        sources: [{ source: image, readFrom: image, cbt: { ...cbt, number: 2 }, changes: { generation: 'gen-sftp-ao', sinceNumber: 1, ranges } }],
        compressionLevel: 1,
      });
      incr = second.id;
      expect(second.devices[0]?.readMode).toBe('changed');
      expect((await client.listPoints()).map((p) => p.id).sort()).toEqual([full, incr].sort());

      const before = snapshot(dir);
      const target = path.join(tmp.dir, 'client-restore.img');
      await expect(client.restore({ pointId: full, source: image, target, skipIdentical: false })).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED' });
      expect(fs.existsSync(target)).toBe(false);
      expect(snapshot(dir)).toEqual(before);
    } finally {
      await client.close();
    }
    // The client's files came out 0440 (0640 asked, umask 0222) in the group, and it left no temp file.
    const packs = files(path.join(dir, 'packs'));
    expect(packs.length).toBeGreaterThan(0);
    const groupOf = fs.statSync(dir).gid;
    for (const f of [...packs, ...files(path.join(dir, 'points')), ...files(path.join(dir, 'index'))]) {
      const st = fs.statSync(f);
      expect(st.mode & 0o777, f).toBe(0o440);
      expect(st.gid, f).toBe(groupOf);
    }
    expect(files(dir).filter((f) => path.basename(f).startsWith('.snapkeep-tmp-'))).toEqual([]);

    // --- the client, asking the server directly ---------------------------
    const pack = packs[0] ?? '';
    const packSha = sha256(pack);
    const inChroot = (f: string) => `/repos/repo/${path.relative(dir, f)}`;
    const raw = await rawSftp(sshd.port, sshd.aoPassword);
    try {
      const p = inChroot(pack);
      // It can read (so what follows is the server refusing, not a broken session).
      expect(await ask((cb) => raw.sftp.lstat('/repos/repo/config', (err) => cb(err)))).toBe('ok');
      // The server does not even offer the extensions it refuses; ssh2 then
      // refuses to send them, so the test tells it they are offered, to ask
      // the server itself.
      const offered = (raw.sftp as unknown as { _extensions: Record<string, string> })._extensions;
      expect(offered['posix-rename@openssh.com']).toBeUndefined();
      expect(offered['hardlink@openssh.com']).toBeUndefined();
      Object.assign(offered, { 'posix-rename@openssh.com': '1', 'hardlink@openssh.com': '1' });
      const refusals = {
        remove: await ask((cb) => raw.sftp.unlink(p, cb)),
        rename: await ask((cb) => raw.sftp.rename(p, `${p}.moved`, cb)),
        posixRename: await ask((cb) => raw.sftp.ext_openssh_rename(p, `${p}.moved`, cb)),
        hardlink: await ask((cb) => raw.sftp.ext_openssh_hardlink(p, `${p}.linked`, cb)),
        symlink: await ask((cb) => raw.sftp.symlink(p, `${p}.linked`, cb)),
        setstat: await ask((cb) => raw.sftp.setstat(p, { mode: 0o666 }, cb)),
        truncate: await ask((cb) => raw.sftp.setstat(p, { size: 0 }, cb)),
        mkdir: await ask((cb) => raw.sftp.mkdir('/repos/repo/packs/new', cb)),
        rmdir: await ask((cb) => raw.sftp.rmdir('/repos/repo/lists/00', cb)),
        openWrite: await ask((cb) => raw.sftp.open(p, 'r+', (err) => cb(err))),
        openTruncate: await ask((cb) => raw.sftp.open(p, 'w', (err) => cb(err))),
        readOwnerKeys: await ask((cb) => raw.sftp.open('/repos/repo/keys/owner', 'r', (err) => cb(err))),
      };
      expect(refusals).toEqual(Object.fromEntries(Object.keys(refusals).map((k) => [k, SFTP_PERMISSION_DENIED])));
    } finally {
      raw.client.end();
    }
    expect(sha256(pack)).toBe(packSha);
    expect(fs.existsSync(`${pack}.moved`)).toBe(false);
    expect(fs.existsSync(`${pack}.linked`)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'packs/new'))).toBe(false);

    // --- the owner ----------------------------------------------------------
    const owner = await engine.open({ path: ownerUrl, passphrase: OWNER, cacheDir: path.join(tmp.dir, 'owner-cache'), remote: ownerAccess() });
    try {
      expect(owner.role).toBe('owner');
      const report = await owner.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false });
      expect(report.removedPoints).toEqual([full]);
      const restored = path.join(tmp.dir, 'restored.img');
      await owner.restore({ pointId: incr, source: image, target: restored, skipIdentical: false });
      expect(sha256(restored)).toBe(shas[1]);
      expect((await owner.verify({ data: true })).problems).toEqual([]);
    } finally {
      await owner.close();
    }
    // Whatever the owner wrote (lock files, and index files when prune rewrites) the client can read...
    for (const f of files(dir)) expect([path.relative(dir, f), fs.statSync(f).mode & 0o777]).toEqual([path.relative(dir, f), f.endsWith('keys/owner') ? 0o600 : expect.toSatisfy((m: number) => m === 0o640 || m === 0o440)]);
    // ... and it backs up again.
    const again = await engine.open({ path: clientUrl, passphrase: CLIENT, cacheDir: path.join(tmp.dir, 'client-cache'), remote: clientAccess() });
    try {
      const third = await again.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
      expect((await again.listPoints()).map((p) => p.id).sort()).toEqual([incr, third.id].sort());
    } finally {
      await again.close();
    }
  }, 180_000);

  it('a client whose upload is cut when its server dies backs up fine the next time, and the owner restores it', async () => {
    const image = path.join(tmp.dir, 'cut.img');
    makeImage(image, 48 * 1024 * 1024, 43);
    const dir = path.join(sshd.ao, 'repos', 'cut');
    const cacheDir = path.join(tmp.dir, 'cut-client-cache');
    await (await engine.init({ path: sshd.sharedUrl('cut', 'owner'), passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: path.join(tmp.dir, 'cut-owner-cache'), remote: ownerAccess() })).close();
    const aoServers = () => new Set(sshd.sessions().filter((p) => p.cmd.includes(`${AO_USER}@internal-sftp`)).map((p) => p.pid));

    let client = await engine.open({ path: sshd.sharedUrl('cut', 'client'), passphrase: CLIENT, cacheDir, remote: clientAccess() });
    try {
      const mine = [...aoServers()];
      expect(mine).toHaveLength(1);
      const backup = client.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
      const failed = backup.then(
        () => undefined,
        (e: unknown) => e,
      );
      // Kill the client's file server once a pack has bytes: an upload in flight.
      const until = Date.now() + 60_000;
      while (files(path.join(dir, 'packs')).every((f) => fs.statSync(f).size === 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
      for (const pid of mine) process.kill(pid, 'SIGKILL');
      // The retry, on a new session, met the short file it may not replace.
      expect(await failed).toMatchObject({ code: 'IO_ERROR', details: { reason: 'already-exists' } });
    } finally {
      await client.close();
    }

    const sizes = (fs_: string[]) => Object.fromEntries(fs_.map((f) => [f, fs.statSync(f).size]));
    const left = sizes(files(path.join(dir, 'packs')));
    expect(Object.keys(left).length).toBeGreaterThan(0);

    client = await engine.open({ path: sshd.sharedUrl('cut', 'client'), passphrase: CLIENT, cacheDir, remote: clientAccess() });
    let id: string;
    try {
      id = (await client.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id;
    } finally {
      await client.close();
    }
    // Nothing it had written was replaced or removed; the next run went on beside it.
    const after = sizes(files(path.join(dir, 'packs')));
    expect(after).toMatchObject(left);
    expect(Object.keys(after).length).toBeGreaterThan(Object.keys(left).length);

    const owner = await engine.open({ path: sshd.sharedUrl('cut', 'owner'), passphrase: OWNER, cacheDir: path.join(tmp.dir, 'cut-owner-cache'), remote: ownerAccess() });
    try {
      const restored = path.join(tmp.dir, 'cut-restored.img');
      await owner.restore({ pointId: id, source: image, target: restored, skipIdentical: false });
      expect(sha256(restored)).toBe(sha256(image));
      expect((await owner.verify({ data: true })).problems).toEqual([]);
    } finally {
      await owner.close();
    }
  }, 180_000);

  it('sends a spooled pack whose copy on the server is short again under a new id, and the backup goes on', async () => {
    // What a cut upload leaves, made exactly: a sealed pack in the client's
    // spool whose object on the server is short and the client's (0440, not
    // replaceable). A pack's bytes do not name its id, so a copy of one the
    // server has, under a fresh id, is such a pack.
    const image = path.join(tmp.dir, 'short.img');
    makeImage(image, 4 * 1024 * 1024, 44);
    const dir = path.join(sshd.ao, 'repos', 'short');
    const cacheDir = path.join(tmp.dir, 'short-client-cache');
    await (await engine.init({ path: sshd.sharedUrl('short', 'owner'), passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: path.join(tmp.dir, 'short-owner-cache'), remote: ownerAccess() })).close();
    const open = () => engine.open({ path: sshd.sharedUrl('short', 'client'), passphrase: CLIENT, cacheDir, remote: clientAccess() });
    let client = await open();
    try {
      await client.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    } finally {
      await client.close();
    }
    const [pack] = files(path.join(dir, 'packs'));
    if (pack === undefined) throw new Error('the first backup left no pack');
    const fresh = 'ab'.padEnd(32, '7');
    const [wc] = fs.readdirSync(path.join(cacheDir, 'remote'));
    fs.mkdirSync(path.join(cacheDir, 'remote', wc ?? '', 'packs', 'ab'), { recursive: true });
    fs.copyFileSync(pack, path.join(cacheDir, 'remote', wc ?? '', 'packs', 'ab', fresh));
    const short = path.join(dir, 'packs', 'ab', fresh);
    fs.writeFileSync(short, 'cut short');
    const owner = fs.statSync(pack);
    fs.chownSync(short, owner.uid, owner.gid);
    fs.chmodSync(short, 0o440);
    const before = files(path.join(dir, 'packs')).length;

    client = await open();
    let id: string;
    try {
      id = (await client.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id;
    } finally {
      await client.close();
    }
    // The short object is left as it was; the whole pack went up under a new name.
    expect(fs.readFileSync(short, 'utf8')).toBe('cut short');
    const now = files(path.join(dir, 'packs'));
    expect(now.length).toBe(before + 1);
    const data = fs.readFileSync(pack);
    expect(now.filter((f) => f !== pack && fs.readFileSync(f).equals(data))).toHaveLength(1);

    const o = await engine.open({ path: sshd.sharedUrl('short', 'owner'), passphrase: OWNER, cacheDir: path.join(tmp.dir, 'short-owner-cache'), remote: ownerAccess() });
    try {
      const restored = path.join(tmp.dir, 'short-restored.img');
      await o.restore({ pointId: id, source: image, target: restored, skipIdentical: false });
      expect(sha256(restored)).toBe(sha256(image));
    } finally {
      await o.close();
    }
  }, 180_000);
});

/** An SFTP session of the append-only account, with no Snapkeep code between the test and the server. */
async function rawSftp(port: number, password: string): Promise<{ client: Client; sftp: SFTPWrapper }> {
  const client = new Client();
  return new Promise((resolve, reject) => {
    client.on('error', reject);
    client.on('ready', () => client.sftp((err, sftp) => (err ? reject(err) : resolve({ client, sftp }))));
    client.connect({ host: '127.0.0.1', port, username: AO_USER, password, readyTimeout: 5000 });
  });
}

/** 'ok', or the SFTP status code the server answered with. */
function ask(fn: (cb: (err?: Error | null) => void) => void): Promise<'ok' | number | string> {
  return new Promise((resolve) =>
    fn((err) => {
      if (!err) return resolve('ok');
      const code = (err as { code?: unknown }).code;
      resolve(typeof code === 'number' ? code : `not an SFTP status: ${err.message}`);
    }),
  );
}

/** Every regular file below `root`. */
function files(root: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(root, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out.sort();
}

/** Every file of the repository with its size and mtime. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files(root)) {
    const st = fs.statSync(f);
    out[path.relative(root, f)] = `${st.size}@${st.mtimeMs}`;
  }
  return out;
}
