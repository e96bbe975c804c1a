// Repository locks: one file per holder under locks/. Backup, restore,
// verify and readers hold shared locks, prune an exclusive one; they exclude
// each other, so prune never deletes what a running backup relies on.
//
// Rules (docs/repository-format.md, "Locks"):
// - A lock names its holder precisely (lock-identity.ts) and carries the
//   time of its last refresh; the holder rewrites it every refresh period
//   (a rewrite works on any storage, unlike utimes) and stops its work when
//   it cannot prove it still holds it (lock-monitor.ts).
// - Taking a lock: write it, wait a moment (a NAS may show a directory late),
//   then list; on conflict remove ours and refuse.
// - Someone else's lock is stale only when its holder is provably gone (this
//   machine, this boot, same pid namespace, and the pid + start time no
//   longer exist; or it predates this boot), or when neither its own time
//   nor its mtime was refreshed within the stale limit. A lock that cannot
//   be read counts as held: guessing "absent" is how data gets deleted.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

import { AppError, isAppError } from '../../common/contract';
import { MAX_FILE_BYTES, rel } from './format';
import { type MachineIdentity, machineIdentity, processGone, processStartTime } from './lock-identity';
import { LockMonitor, type LockTiming, lockTiming } from './lock-monitor';
import { isMissing, listRepoFiles, readRepoFile, removeRepoFiles, statRepoFile, writeRepoFile } from './repo-files';
import { storageFor } from './storage/registry';

/**
 * The storage's clock minus ours, in ms. Locks are judged by the time of
 * the storage where it can tell it (a remote server: the mtime of a file
 * it just wrote, so a client whose clock is far off judges as the others
 * do); 0 for local repositories. `probe` is a file just written.
 */
async function storageClockOffset(repo: string, probe?: string): Promise<number> {
  if (!storageFor(repo).remote) return 0;
  let file = probe;
  if (file === undefined) {
    file = `${rel.locks}/.snapkeep-tmp-clock-${randomBytes(6).toString('hex')}`;
    await writeRepoFile(repo, file, '');
  }
  const before = Date.now();
  const st = await statRepoFile(repo, file);
  if (probe === undefined) await removeRepoFiles(repo, [file]);
  // Second resolution on SFTP: the file was written within the last second.
  return st ? st.mtimeMs + 500 - before : 0;
}

export type LockKind = 'shared' | 'exclusive';

const LockV2 = z.object({
  version: z.literal(2),
  kind: z.enum(['shared', 'exclusive']),
  operation: z.string().max(200),
  host: z.string().max(300),
  pid: z.number().int(),
  startedAt: z.string().max(40),
  /** Wall-clock time of the last refresh (ISO). */
  time: z.string().max(40),
  machineId: z.string().max(200),
  bootId: z.string().max(200),
  pidNs: z.string().max(200),
  pidStart: z.number().int().optional(),
  uid: z.number().int(),
  /** Random per acquisition: "still ours" means this token, not only this name. */
  token: z.string().max(100),
});
type LockV2 = z.infer<typeof LockV2>;

/** Lock files of releases before 0.2: host + pid, refreshed by mtime. */
const LockV1 = z.object({
  kind: z.enum(['shared', 'exclusive']),
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  operation: z.string(),
});
type LockV1 = z.infer<typeof LockV1>;

type Holder = { v: 2; lock: LockV2 } | { v: 1; lock: LockV1 };
type ReadResult = { state: 'gone' } | { state: 'unreadable'; why: string } | { state: 'ok'; holder: Holder; mtimeMs: number };

/**
 * Reads a lock through RepoDir (never following a link). A link or special
 * file among the locks is refused (REPO_UNSAFE), neither "absent" nor
 * "held": it is not ours to judge.
 */
async function readLock(repo: string, file: string): Promise<ReadResult> {
  let text: string;
  let mtimeMs: number;
  try {
    const st = await statRepoFile(repo, file);
    if (!st) return { state: 'gone' };
    if (st.size > MAX_FILE_BYTES.lock) return { state: 'unreadable', why: `${st.size} bytes` };
    mtimeMs = st.mtimeMs;
    text = (await readRepoFile(repo, file, MAX_FILE_BYTES.lock)).toString('utf8');
  } catch (e) {
    if (isAppError(e) && e.code === 'REPO_UNSAFE') throw e;
    if (isMissing(e)) return { state: 'gone' };
    return { state: 'unreadable', why: isAppError(e) ? e.message : String(e) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { state: 'unreadable', why: 'not JSON' };
  }
  const v2 = LockV2.safeParse(json);
  if (v2.success) return { state: 'ok', holder: { v: 2, lock: v2.data }, mtimeMs };
  if (json !== null && typeof json === 'object' && 'version' in json) return { state: 'unreadable', why: 'unknown lock format' };
  const v1 = LockV1.safeParse(json);
  if (v1.success) return { state: 'ok', holder: { v: 1, lock: v1.data }, mtimeMs };
  return { state: 'unreadable', why: 'unknown lock format' };
}

function timeMs(iso: string): number {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : 0;
}

/** Whether someone else's lock may be removed. Errs towards "held". */
export function isStale(h: Holder, mtimeMs: number, self: MachineIdentity, now: number, timing: LockTiming): boolean {
  if (h.v === 1) {
    // Old format: only the host name; a dead pid on "this" host may be a clone's.
    if (h.lock.host === self.host && processGone(h.lock.pid, undefined)) return true;
    return now - mtimeMs > timing.staleMs;
  }
  const l = h.lock;
  // The younger of the two times: a skewed clock on either side never makes a live lock look old.
  const refreshed = Math.max(timeMs(l.time), mtimeMs);
  if (l.machineId === self.machineId) {
    if (l.bootId === self.bootId) {
      if (l.pidNs === self.pidNs) return processGone(l.pid, l.pidStart);
    } else if (refreshed < self.bootTimeMs - 60_000) {
      // Refreshed before this machine booted: every process of that boot is gone.
      return true;
    }
    // Otherwise a machine that shares our machine id (a clone) or a container: by age.
  }
  return now - refreshed > timing.staleMs;
}

interface Other {
  name: string;
  holder?: Holder;
  unreadable?: string;
}

/** Every lock but `own`, stale ones removed on the way; `offset`: the storage's clock minus ours. */
async function otherLocks(repo: string, own: string | undefined, timing: LockTiming, offset: number): Promise<Other[]> {
  const self = machineIdentity();
  const out: Other[] = [];
  const stale: string[] = [];
  for (const name of await listRepoFiles(repo, rel.locks)) {
    if (name === own) continue;
    const r = await readLock(repo, rel.lock(name));
    if (r.state === 'gone') continue;
    if (r.state === 'unreadable') out.push({ name, unreadable: r.why });
    else if (isStale(r.holder, r.mtimeMs, self, Date.now() + offset, timing)) stale.push(rel.lock(name));
    else out.push({ name, holder: r.holder });
  }
  if (stale.length) await removeRepoFiles(repo, stale);
  return out;
}

function conflicts(kind: LockKind, o: Other): boolean {
  return o.holder === undefined || kind === 'exclusive' || o.holder.lock.kind === 'exclusive';
}

function describe(o: Other): string {
  if (!o.holder) return `a lock file it cannot read (${o.name}: ${o.unreadable ?? 'unreadable'})`;
  const l = o.holder.lock;
  const where = o.holder.v === 2 && o.holder.lock.machineId === machineIdentity().machineId ? 'this computer' : l.host;
  return `${l.operation} (pid ${l.pid} on ${where})`;
}

function lockedError(repo: string, o: Other): AppError {
  if (!o.holder)
    return new AppError('REPO_LOCKED', `the repository at ${repo} has ${describe(o)}; if nothing else uses the repository, remove that file`, {
      path: repo,
      lock: o.name,
      reason: 'lock-unreadable',
      cause: o.unreadable,
    });
  return new AppError('REPO_LOCKED', `the repository at ${repo} is in use by ${describe(o)}`, { path: repo, lock: o.name, holder: o.holder.lock });
}

export interface HeldLock {
  /** Aborted (with a REPO_LOCKED AppError, details.reason 'lock-lost') when the lock is lost. */
  readonly signal: AbortSignal;
  /** Call before each commit step; throws the reason when the lock is no longer provably ours. */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function acquireLock(repo: string, kind: LockKind, operation: string): Promise<HeldLock> {
  const timing = lockTiming();
  const self = machineIdentity();
  const name = `${randomBytes(8).toString('hex')}.json`;
  const file = rel.lock(name);
  const startedAt = new Date().toISOString();
  const base: Omit<LockV2, 'time'> = {
    version: 2,
    kind,
    operation,
    host: self.host,
    pid: process.pid,
    startedAt,
    machineId: self.machineId,
    bootId: self.bootId,
    pidNs: self.pidNs,
    ...(processStartTime(process.pid) !== undefined && { pidStart: processStartTime(process.pid) }),
    uid: process.getuid?.() ?? -1,
    token: randomBytes(12).toString('hex'),
  };
  let offset = 0;
  // The lock's own time is the storage's clock too, so every holder judges by one clock.
  const write = async () => {
    await writeRepoFile(repo, file, JSON.stringify({ ...base, time: new Date(Date.now() + offset).toISOString() }));
    offset = await storageClockOffset(repo, file);
  };
  try {
    await write();
  } catch (e) {
    // A repository on read-only media (a write-protected disk, a ro NAS
    // export) can still be read: nobody can prune it meanwhile either.
    if (kind === 'shared' && isAppError(e) && e.code === 'READ_ONLY') return readOnlyLock();
    throw e;
  }
  // Of two processes racing, each writes first and lists second, so at
  // least one sees the other.
  let conflict: Other | undefined;
  let indexAtStart: string[] = [];
  try {
    await sleep(timing.settleMs);
    conflict = (await otherLocks(repo, name, timing, offset)).find((o) => conflicts(kind, o));
    // Index files are removed only under an exclusive lock (prune): one
    // missing later proves a prune ran while this holder was not looking.
    if (!conflict && kind === 'shared') indexAtStart = await listRepoFiles(repo, rel.index);
  } catch (e) {
    await removeRepoFiles(repo, [file]).catch(() => undefined);
    throw e;
  }
  if (conflict) {
    await removeRepoFiles(repo, [file]);
    throw lockedError(repo, conflict);
  }

  const lost = (why: string, cause?: unknown) =>
    new AppError('REPO_LOCKED', `the ${operation} stopped: its lock on the repository at ${repo} ${why}`, {
      path: repo,
      lock: name,
      reason: 'lock-lost',
      ...(cause instanceof AppError && { cause: cause.toInfo() }),
    });
  const stillOurs = async () => {
    const r = await readLock(repo, file);
    if (r.state === 'gone') throw lost('was removed by another process (it judged the lock stale)');
    if (r.state === 'unreadable' || r.holder.v !== 2 || r.holder.lock.token !== base.token) throw lost('was replaced by another process');
  };
  const indexIntact = async () => {
    if (kind !== 'shared') return;
    const now = new Set(await listRepoFiles(repo, rel.index));
    const missing = indexAtStart.filter((f) => !now.has(f));
    if (missing.length) throw lost(`was not kept: index files it started from are gone (${missing.slice(0, 3).join(', ')}), so the repository was pruned meanwhile`);
  };
  const monitor = new LockMonitor(timing, {
    async refresh() {
      await stillOurs();
      await write();
    },
    async prove() {
      await stillOurs();
      await indexIntact();
      await write();
      await sleep(timing.settleMs);
      await stillOurs();
      let taken = (await otherLocks(repo, name, timing, offset)).find((o) => conflicts(kind, o));
      if (taken) {
        // A process taking the lock right now writes first and withdraws
        // when it sees ours: only a conflict that stays means it holds the
        // repository (it judged our lock stale).
        await sleep(2 * timing.settleMs);
        await stillOurs();
        const again = await otherLocks(repo, name, timing, offset);
        taken = again.find((o) => o.name === taken?.name && conflicts(kind, o));
      }
      if (taken) throw lost(`could not be proven after a pause: ${describe(taken)} holds the repository now`);
      await indexIntact();
    },
    async check() {
      await stillOurs();
      await indexIntact();
    },
    lost,
  });

  let released = false;
  return {
    signal: monitor.signal,
    assertHeld: () => monitor.assertHeld(),
    async release() {
      if (released) return;
      released = true;
      monitor.stop();
      await monitor.settle();
      // Another process may have judged it stale and removed it: fine.
      await removeRepoFiles(repo, [file]);
    },
  };
}

function readOnlyLock(): HeldLock {
  const c = new AbortController();
  return { signal: c.signal, assertHeld: async () => undefined, release: async () => undefined };
}

/** Runs `fn` under a lock of `kind`; the lock is released whatever happens. */
export async function withLock<T>(repo: string, kind: LockKind, operation: string, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(repo, kind, operation);
  let result: T;
  try {
    result = await fn(lock);
  } catch (e) {
    // A lock file that cannot be removed (the disk just went away) must
    // not hide why the work failed.
    await lock.release().catch(() => undefined);
    // Whatever the work failed with after the lock was lost, the loss is the reason.
    if (lock.signal.aborted) throw lock.signal.reason;
    throw e;
  }
  await lock.release();
  return result;
}

/** What `snapkeep unlock` and the UI show: every lock with its holder and whether it is stale. */
export async function listLocks(repo: string): Promise<Array<{ name: string; stale: boolean; holder?: Record<string, unknown>; unreadable?: string }>> {
  const timing = lockTiming();
  const self = machineIdentity();
  const out: Array<{ name: string; stale: boolean; holder?: Record<string, unknown>; unreadable?: string }> = [];
  const offset = await storageClockOffset(repo);
  for (const name of await listRepoFiles(repo, rel.locks)) {
    const r = await readLock(repo, rel.lock(name));
    if (r.state === 'gone') continue;
    if (r.state === 'unreadable') out.push({ name, stale: false, unreadable: r.why });
    else out.push({ name, stale: isStale(r.holder, r.mtimeMs, self, Date.now() + offset, timing), holder: { ...r.holder.lock } });
  }
  return out;
}

/** The caller's signal joined with the lock's, so a lost lock stops the work like a cancel (with its own reason). */
export function lockedSignal(signal: AbortSignal | undefined, lock: HeldLock): AbortSignal {
  return signal ? AbortSignal.any([signal, lock.signal]) : lock.signal;
}

/**
 * Removes the named lock files: a stale one always; a live or unreadable
 * one only with `force` (the user says nothing else uses the repository).
 * Returns what was removed; refuses (REPO_LOCKED) what is held otherwise.
 */
export async function removeLocks(repo: string, names: string[], force: boolean): Promise<string[]> {
  const known = new Map((await listLocks(repo)).map((l) => [l.name, l]));
  const remove: string[] = [];
  for (const n of names) {
    const l = known.get(n);
    if (!l) throw new AppError('NOT_FOUND', `no lock ${n} in ${repo}`, { path: repo, lock: n });
    if (!l.stale && !force)
      throw new AppError('REPO_LOCKED', `lock ${n} is held (${l.unreadable ? `unreadable: ${l.unreadable}` : `${String(l.holder?.['operation'])} pid ${String(l.holder?.['pid'])} on ${String(l.holder?.['host'])}`}); remove it only when nothing uses the repository (--force)`, {
        path: repo,
        lock: n,
      });
    remove.push(rel.lock(n));
  }
  await removeRepoFiles(repo, remove);
  return names;
}
