// Lock protocol 3 (format 3, docs/append-only-design.md §2.6): nothing is
// ever rewritten or removed by a holder. Each acquisition writes
// locks/<holder>-<seq>.json, a refresh the next seq, release
// locks/<holder>-end.json; a holder is judged by its newest seq; only the
// owner (mayDelete) removes the files of ended and stale holders, a client
// skips them and never calls remove. Each case runs on a local directory
// and on a "remote" storage (a local directory behind the remote storage
// registry, with the remote clock rule), both with a spy on save/remove.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { type LockOptions, acquireLock, listLocks, removeLocks } from '../../../../electron/core/engine/locks';
import { LocalStorage } from '../../../../electron/core/engine/storage/local';
import { attachStorage } from '../../../../electron/core/engine/storage/registry';
import type { RepoStorage } from '../../../../electron/core/engine/storage/storage';
import { tempDir } from './fixtures';

const OWNER: LockOptions = { protocol: 3, mayDelete: true };
const CLIENT: LockOptions = { protocol: 3, mayDelete: false };
const MIN = 60 * 1000;
const OTHER_MACHINE = 'b'.repeat(32);
const machineId = fs.readFileSync('/etc/machine-id', 'utf8').trim();
const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const pidNs = fs.readlinkSync('/proc/self/ns/pid');

const dirs: string[] = [];
const detach: Array<() => Promise<void>> = [];
const ENV = ['SNAPKEEP_TEST_LOCK_SETTLE_MS', 'SNAPKEEP_TEST_LOCK_REFRESH_MS', 'SNAPKEEP_TEST_LOCK_STALE_MS', 'SNAPKEEP_TEST_MACHINE_ID'];
/** Local repositories of the running test by directory: every local call makes its own LocalStorage (storage/registry.ts), so the spy sits on the class. */
const local = new Map<string, Repo>();
beforeEach(() => {
  process.env['SNAPKEEP_TEST_LOCK_SETTLE_MS'] = '20';
  const save = LocalStorage.prototype.save;
  const remove = LocalStorage.prototype.remove;
  vi.spyOn(LocalStorage.prototype, 'save').mockImplementation(function (this: LocalStorage, name: string, data: Buffer) {
    local.get(this.location)?.saves.push(name);
    return save.call(this, name, data);
  });
  vi.spyOn(LocalStorage.prototype, 'remove').mockImplementation(function (this: LocalStorage, names: string[]) {
    const r = local.get(this.location);
    return r ? removeThrough(r, names, () => remove.call(this, names)) : remove.call(this, names);
  });
});
afterEach(async () => {
  for (const k of ENV) delete process.env[k];
  vi.restoreAllMocks();
  local.clear();
  for (const d of detach.splice(0)) await d();
});
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Repo {
  /** What the engine is given: the directory, or a remote location. */
  at: string;
  dir: string;
  saves: string[];
  removes: string[];
  /** Remove throws INTERNAL, as the storage of an append-only client does. */
  refuseRemove: boolean;
}

/** A repository whose storage records save and remove. */
async function repo(kind: 'local' | 'remote', refuseRemove = false): Promise<Repo> {
  const dir = tempDir('lock3');
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'locks'));
  const r: Repo = { at: dir, dir, saves: [], removes: [], refuseRemove };
  if (kind === 'local') {
    local.set(dir, r);
    return r;
  }
  const inner = new LocalStorage(dir);
  r.at = `sftp://tester@fake.invalid${dir}`;
  const storage = new Proxy<RepoStorage>(inner, {
    get(target, p) {
      if (p === 'location') return r.at;
      // Judged by "the storage's clock": the mtime of the lock just written.
      if (p === 'remote') return true;
      if (p === 'save')
        return (name: string, data: Buffer) => {
          r.saves.push(name);
          return inner.save(name, data);
        };
      if (p === 'remove') return (names: string[]) => removeThrough(r, names, () => inner.remove(names));
      const v: unknown = Reflect.get(target, p);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  detach.push(attachStorage(storage).release);
  return r;
}

function removeThrough(r: Repo, names: string[], through: () => Promise<number>): Promise<number> {
  r.removes.push(...names);
  if (r.refuseRemove) return Promise.reject(new AppError('INTERNAL', 'remove called by an append-only client'));
  return through();
}

const lockFiles = (r: Repo) =>
  fs
    .readdirSync(path.join(r.dir, 'locks'))
    .filter((n) => !n.startsWith('.'))
    .sort();
const readJson = (r: Repo, name: string) => JSON.parse(fs.readFileSync(path.join(r.dir, 'locks', name), 'utf8')) as Record<string, unknown>;
const seqFile = (holder: string, seq: number) => `${holder}-${seq.toString(16).padStart(8, '0')}.json`;
const holderOf = (name: string) => name.slice(0, 16);

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** Writes one lock file as another process would have left it; `ageMs` by its time, `mtimeAgeMs` by its mtime. */
function writeLock(r: Repo, name: string, fields: Record<string, unknown>, ageMs = 0, mtimeAgeMs = ageMs): void {
  const time = new Date(Date.now() - ageMs).toISOString();
  const seq = /-([0-9a-f]{8})\.json$/.exec(name)?.[1];
  const lock = {
    version: 2,
    kind: 'shared',
    operation: 'backup',
    host: 'elsewhere',
    pid: 4242,
    startedAt: time,
    time,
    machineId: OTHER_MACHINE,
    bootId: '00000000-0000-4000-8000-000000000000',
    pidNs: 'pid:[4026531836]',
    pidStart: 5,
    uid: 0,
    token: 'f00d',
    ...(seq !== undefined && { seq: parseInt(seq, 16) }),
    ...fields,
  };
  writeRaw(r, name, JSON.stringify(lock), mtimeAgeMs);
}

function writeRaw(r: Repo, name: string, text: string, mtimeAgeMs = 0): void {
  const file = path.join(r.dir, 'locks', name);
  fs.writeFileSync(file, text);
  const m = new Date(Date.now() - mtimeAgeMs);
  fs.utimesSync(file, m, m);
}

async function refused(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(AppError);
  expect((e as AppError).code).toBe('REPO_LOCKED');
  return e as AppError;
}

/** Takes and releases a lock; false when refused with REPO_LOCKED. */
async function taken(r: Repo, kind: 'shared' | 'exclusive', opts: LockOptions): Promise<boolean> {
  try {
    const l = await acquireLock(r.at, kind, kind === 'shared' ? 'backup' : 'prune', opts);
    await l.release();
    return true;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('REPO_LOCKED');
    return false;
  }
}

// Holders left as an ended one (G), a stale one (H: a dead process of this
// machine) and a live one of another machine (I).
const G = '0123456789abcdef';
const H = 'fedcba9876543210';
const I = 'aaaaaaaaaaaaaaaa';
function leaveHolders(r: Repo): void {
  writeLock(r, seqFile(G, 0), {}, 10 * MIN);
  writeLock(r, seqFile(G, 1), {});
  writeRaw(r, `${G}-end.json`, JSON.stringify({ version: 2, end: true, token: 'f00d', time: new Date().toISOString() }));
  const dead = { machineId, bootId, pidNs, host: 'here', pid: deadPid(), pidStart: 1 };
  for (const s of [0, 1, 2]) writeLock(r, seqFile(H, s), dead);
  writeLock(r, seqFile(I, 0), {});
}

describe.each(['local', 'remote'] as const)('lock protocol 3 on a %s repository', (kind) => {
  it('refreshes by adding the next seq and never rewrites one; release adds the end file', async () => {
    Object.assign(process.env, { SNAPKEEP_TEST_LOCK_REFRESH_MS: '200', SNAPKEEP_TEST_LOCK_STALE_MS: '1500' });
    const r = await repo(kind, true);
    const l = await acquireLock(r.at, 'shared', 'backup', CLIENT);
    const [first] = lockFiles(r);
    expect(first).toMatch(/^[0-9a-f]{16}-00000000\.json$/);
    const h = holderOf(first ?? '');
    const seq0 = fs.readFileSync(path.join(r.dir, 'locks', first ?? ''), 'utf8');
    expect(JSON.parse(seq0)).toMatchObject({ version: 2, kind: 'shared', operation: 'backup', seq: 0, pid: process.pid });
    await sleep(800);
    const files = lockFiles(r);
    expect(files.length).toBeGreaterThanOrEqual(3);
    files.forEach((f, i) => expect(f).toBe(seqFile(h, i)));
    // Seq 0 is as it was written; every refresh is its own file with a later time and the same token.
    expect(fs.readFileSync(path.join(r.dir, 'locks', first ?? ''), 'utf8')).toBe(seq0);
    const locks = files.map((f) => readJson(r, f));
    locks.forEach((j, i) => expect(j).toMatchObject({ seq: i, token: locks[0]?.['token'] }));
    expect(Date.parse(String(locks.at(-1)?.['time']))).toBeGreaterThan(Date.parse(String(locks[0]?.['time'])));
    await l.assertHeld();
    await l.release();
    // Every seq is still there, with the end file after them.
    const after = lockFiles(r);
    expect(after.length).toBeGreaterThan(files.length);
    expect(after.at(-1)).toBe(`${h}-end.json`);
    after.slice(0, -1).forEach((f, i) => expect(f).toBe(seqFile(h, i)));
    // Nothing but seq files and the end file was saved: no clock probe, no rewrite.
    expect(new Set(r.saves).size).toBe(r.saves.length);
    expect(r.saves.every((n) => n.startsWith(`locks/${h}-`))).toBe(true);
    expect(r.removes).toEqual([]);
  });

  it('lets shared locks coexist, refuses an exclusive one next to them naming the holder, and a refused taker ends its attempt', async () => {
    const r = await repo(kind);
    const a = await acquireLock(r.at, 'shared', 'backup', CLIENT);
    const b = await acquireLock(r.at, 'shared', 'restore', OWNER);
    const before = new Set(lockFiles(r));
    const e = await refused(acquireLock(r.at, 'exclusive', 'prune', CLIENT));
    expect(e.message).toMatch(/in use by (backup|restore) \(pid \d+ on this computer\)/);
    expect(String(e.details?.['lock'])).toMatch(/^[0-9a-f]{16}-00000000\.json$/);
    // The refused attempt left its seq 0 and its end file, nothing else.
    const added = lockFiles(r).filter((f) => !before.has(f));
    expect(added).toHaveLength(2);
    expect(added[1]).toBe(`${holderOf(added[0] ?? '')}-end.json`);
    await a.release();
    await b.release();
    const x = await acquireLock(r.at, 'exclusive', 'prune', OWNER);
    expect((await refused(acquireLock(r.at, 'shared', 'backup', CLIENT))).message).toMatch(/in use by prune/);
    expect(await taken(r, 'shared', OWNER)).toBe(false);
    await x.release();
    expect(await taken(r, 'exclusive', CLIENT)).toBe(true);
  });

  it('judges a holder by its newest seq', async () => {
    // Old seq 0, fresh seq 1: held.
    const held = await repo(kind);
    writeLock(held, seqFile(I, 0), { kind: 'exclusive', operation: 'prune' }, 40 * MIN);
    writeLock(held, seqFile(I, 1), { kind: 'exclusive', operation: 'prune' });
    expect(await taken(held, 'shared', OWNER)).toBe(false);
    expect(lockFiles(held).filter((f) => f.startsWith(I))).toHaveLength(2);
    // Fresh seq 0 but a newest seq that nobody refreshed for 40 minutes: stale.
    const stale = await repo(kind);
    writeLock(stale, seqFile(I, 0), { kind: 'exclusive' });
    writeLock(stale, seqFile(I, 1), { kind: 'exclusive' }, 40 * MIN);
    expect(await taken(stale, 'shared', OWNER)).toBe(true);
    expect(lockFiles(stale).filter((f) => f.startsWith(I))).toEqual([]);
    // Old by its own time but written just now (a skewed clock): held, as in protocol 2.
    const skewed = await repo(kind);
    writeLock(skewed, seqFile(I, 0), { kind: 'exclusive' }, 40 * MIN, 0);
    expect(await taken(skewed, 'shared', OWNER)).toBe(false);
    // A dead process of this machine and boot at its newest seq: stale at once.
    const dead = await repo(kind);
    const here = { kind: 'exclusive', machineId, bootId, pidNs, pid: deadPid(), pidStart: 1 };
    writeLock(dead, seqFile(H, 0), here);
    writeLock(dead, seqFile(H, 7), here);
    expect(await taken(dead, 'shared', OWNER)).toBe(true);
    expect(lockFiles(dead).filter((f) => f.startsWith(H))).toEqual([]);
  });

  it('judges a holder whose newest file cannot be read (being written, or cut) by the seq before it; holds what has nothing readable', async () => {
    // A shared holder refreshing right now: shared locks still coexist; an exclusive one is refused naming it.
    const writing = await repo(kind);
    writeLock(writing, seqFile(I, 0), {});
    writeRaw(writing, seqFile(I, 1), '{"version":2,"ki');
    expect(await taken(writing, 'shared', CLIENT)).toBe(true);
    const e = await refused(acquireLock(writing.at, 'exclusive', 'prune', OWNER));
    expect(e.details?.['reason']).toBeUndefined();
    expect(e.message).toMatch(/in use by backup \(pid 4242 on elsewhere\)/);
    // The cut file's mtime counts as a refresh: an old seq 0 with a fresh cut seq 1 is held.
    const fresh = await repo(kind);
    writeLock(fresh, seqFile(I, 0), { kind: 'exclusive' }, 40 * MIN);
    writeRaw(fresh, seqFile(I, 1), '{"version":2,"ki');
    expect(await taken(fresh, 'shared', OWNER)).toBe(false);
    // Both old: stale, and the owner removes both files.
    const cut = await repo(kind);
    writeLock(cut, seqFile(I, 0), { kind: 'exclusive' }, 40 * MIN);
    writeRaw(cut, seqFile(I, 1), '{"version":2,"ki', 40 * MIN);
    expect(await taken(cut, 'shared', OWNER)).toBe(true);
    expect(lockFiles(cut).filter((f) => f.startsWith(I))).toEqual([]);
    // Nothing readable, or a seq in the file that its name does not say, or a name of no holder: held however old, and named.
    for (const [name, text] of [
      [seqFile(I, 0), '{"version":2,"ki'],
      [seqFile(I, 3), JSON.stringify({ version: 2, seq: 9 })],
      ['0123.json', '{}'],
    ] as const) {
      const torn = await repo(kind);
      writeRaw(torn, name, text, 600 * MIN);
      const t = await refused(acquireLock(torn.at, 'shared', 'backup', OWNER));
      expect(t.details?.['reason']).toBe('lock-unreadable');
      expect(t.message).toContain(name);
      expect(lockFiles(torn)).toContain(name);
    }
    // A seq-3 file that says seq 9 beside a readable seq 2 of a live holder: judged by seq 2.
    const mislabelled = await repo(kind);
    writeLock(mislabelled, seqFile(I, 2), {});
    writeLock(mislabelled, seqFile(I, 3), { seq: 9 });
    expect(await taken(mislabelled, 'shared', CLIENT)).toBe(true);
  });

  it('the owner removes the files of ended and stale holders and keeps live ones', async () => {
    const r = await repo(kind);
    leaveHolders(r);
    const l = await acquireLock(r.at, 'shared', 'backup', OWNER);
    const own = holderOf(lockFiles(r).find((f) => ![G, H, I].includes(holderOf(f))) ?? '');
    expect(lockFiles(r)).toEqual([seqFile(I, 0), seqFile(own, 0)].sort());
    // Seq files before end files: a sweep cut short never leaves an ended holder's seqs without their end.
    expect(r.removes.indexOf(`locks/${G}-end.json`)).toBeGreaterThan(r.removes.indexOf(`locks/${seqFile(G, 1)}`));
    await l.release();
    expect(lockFiles(r)).toEqual([seqFile(I, 0), seqFile(own, 0), `${own}-end.json`].sort());
    // The next owner sweeps that one too.
    expect(await taken(r, 'shared', OWNER)).toBe(true);
    expect(lockFiles(r).filter((f) => holderOf(f) === own)).toEqual([]);
    expect(lockFiles(r)).toHaveLength(3);
  });

  it('a client never removes: it skips ended and stale holders and leaves every file', async () => {
    const r = await repo(kind, true);
    leaveHolders(r);
    const before = lockFiles(r);
    const l = await acquireLock(r.at, 'shared', 'backup', CLIENT);
    await l.assertHeld();
    await l.release();
    const own = holderOf(lockFiles(r).find((f) => !before.includes(f)) ?? '');
    expect(lockFiles(r)).toEqual([...before, seqFile(own, 0), `${own}-end.json`].sort());
    // The live holder of another machine still excludes a client's exclusive lock; the stale and ended ones do not.
    expect((await refused(acquireLock(r.at, 'exclusive', 'prune', CLIENT))).message).toMatch(/backup \(pid 4242 on elsewhere\)/);
    // `snapkeep locks` on a client: lists, never removes, and refuses to remove.
    const saves = r.saves.length;
    const listed = await listLocks(r.at, CLIENT);
    expect(r.saves.length).toBe(saves);
    expect(listed.map((x) => [x.name, x.stale]).sort()).toEqual(
      [
        [seqFile(H, 2), true],
        [seqFile(I, 0), false],
      ].sort(),
    );
    const e = (await removeLocks(r.at, [seqFile(H, 2)], false, CLIENT).catch((x: unknown) => x)) as AppError;
    expect(e).toBeInstanceOf(AppError);
    expect(e.code).toBe('OWNER_KEY_REQUIRED');
    expect(r.removes).toEqual([]);
    expect(lockFiles(r)).toEqual(expect.arrayContaining(before));
  });

  it('`snapkeep locks` shows each holder by its newest file without writing anything; the owner removes a stale holder, a held one only with force', async () => {
    const r = await repo(kind);
    leaveHolders(r);
    const listed = await listLocks(r.at, OWNER);
    expect(r.saves).toEqual([]);
    expect(r.removes).toEqual([]);
    expect(listed.map((x) => [x.name, x.stale, x.holder?.['seq']]).sort()).toEqual(
      [
        [seqFile(H, 2), true, 2],
        [seqFile(I, 0), false, 0],
      ].sort(),
    );
    expect(await removeLocks(r.at, [seqFile(H, 2)], false, OWNER)).toEqual([seqFile(H, 2)]);
    expect(lockFiles(r).filter((f) => f.startsWith(H))).toEqual([]);
    expect((await refused(removeLocks(r.at, [seqFile(I, 0)], false, OWNER))).message).toMatch(/--force/);
    await removeLocks(r.at, [seqFile(I, 0)], true, OWNER);
    expect(lockFiles(r).filter((f) => f.startsWith(I))).toEqual([]);
    // Ended holders are not locks: not listed (the next owner lock sweeps them).
    expect(await listLocks(r.at, OWNER)).toEqual([]);
    expect(lockFiles(r).filter((f) => f.startsWith(G))).toHaveLength(3);
  });

  it('a holder whose files the owner removed (judged stale) loses its lock; so does one whose end file it did not write', async () => {
    // The holder: another machine whose monitor would not refresh for a minute.
    Object.assign(process.env, { SNAPKEEP_TEST_MACHINE_ID: OTHER_MACHINE, SNAPKEEP_TEST_LOCK_REFRESH_MS: '60000', SNAPKEEP_TEST_LOCK_STALE_MS: '600000' });
    const r = await repo(kind, true);
    const l = await acquireLock(r.at, 'shared', 'backup', CLIENT);
    const h = holderOf(lockFiles(r)[0] ?? '');
    // The owner, on this machine, calls it stale after 1.5 s without a
    // refresh (the remote storage's clock, by the lock's mtime, is 0.5 s ahead).
    delete process.env['SNAPKEEP_TEST_MACHINE_ID'];
    Object.assign(process.env, { SNAPKEEP_TEST_LOCK_REFRESH_MS: '200', SNAPKEEP_TEST_LOCK_STALE_MS: '1500' });
    await sleep(2300);
    await l.assertHeld();
    // The owner's prune, through a storage that may remove.
    r.refuseRemove = false;
    const prune = await acquireLock(r.at, 'exclusive', 'prune', OWNER);
    await prune.release();
    r.refuseRemove = true;
    expect(lockFiles(r).filter((f) => f.startsWith(h) && !f.endsWith('-end.json'))).toEqual([]);
    const e = await refused(l.assertHeld());
    expect(e.details?.['reason']).toBe('lock-lost');
    expect(e.message).toMatch(/the backup stopped: its lock .* was removed by another process/);
    expect(l.signal.aborted).toBe(true);
    await l.release();

    const before = lockFiles(r);
    const m = await acquireLock(r.at, 'shared', 'backup', CLIENT);
    const mh = holderOf(lockFiles(r).find((f) => !before.includes(f)) ?? '');
    writeRaw(r, `${mh}-end.json`, '{}');
    const ended = await refused(m.assertHeld());
    expect(ended.details?.['reason']).toBe('lock-lost');
    expect(ended.message).toMatch(/was ended by another process/);
    await m.release().catch(() => undefined);

    // An owner's sweep that listed the holder before its last refresh
    // leaves that refresh behind; seq 0 is gone all the same.
    Object.assign(process.env, { SNAPKEEP_TEST_LOCK_REFRESH_MS: '100', SNAPKEEP_TEST_LOCK_STALE_MS: '60000' });
    const known = lockFiles(r);
    const n = await acquireLock(r.at, 'shared', 'backup', CLIENT);
    const nh = holderOf(lockFiles(r).find((f) => !known.includes(f)) ?? '');
    await sleep(400);
    expect(lockFiles(r)).toContain(seqFile(nh, 2));
    fs.rmSync(path.join(r.dir, 'locks', seqFile(nh, 0)));
    expect((await refused(n.assertHeld())).message).toMatch(/was removed by another process/);
    await n.release();
  });
});

it('protocol 2 cannot be used by a process that may not delete (its release removes the lock)', async () => {
  const dir = tempDir('lock3');
  dirs.push(dir);
  const e = (await acquireLock(dir, 'shared', 'backup', { protocol: 2, mayDelete: false }).catch((x: unknown) => x)) as AppError;
  expect(e).toBeInstanceOf(AppError);
  expect(e.code).toBe('INTERNAL');
  expect(fs.existsSync(path.join(dir, 'locks'))).toBe(false);
});
