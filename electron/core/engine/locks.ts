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
//
// That is lock protocol 2 (formats 1-2). Format 3 (append-only
// repositories, docs/append-only-design.md §2.6) uses protocol 3, because
// an append-only client can neither rewrite nor remove a file:
// - a holder's files are locks/<holder>-<seq>.json (holder: 16 random hex
//   digits per acquisition; seq: 8 hex digits from 0); a refresh writes the
//   next seq, and release writes locks/<holder>-end.json;
// - a holder is judged by its newest seq with the rules above; an ended
//   holder is gone;
// - only a process that may delete (the owner) removes the files of ended
//   and stale holders; a client skips them.
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
/** `mtimeMs` of an unreadable file when it could be stat'ed (protocol 3 counts it as a sign of life). */
type Unreadable = { state: 'unreadable'; why: string; mtimeMs?: number };
type ReadResult = { state: 'gone' } | Unreadable | { state: 'ok'; holder: Holder; mtimeMs: number };
type JsonRead = { state: 'gone' } | Unreadable | { state: 'ok'; json: unknown; mtimeMs: number };

/**
 * Reads a lock through RepoDir (never following a link). A link or special
 * file among the locks is refused (REPO_UNSAFE), neither "absent" nor
 * "held": it is not ours to judge.
 */
async function readLockJson(repo: string, file: string): Promise<JsonRead> {
  let text: string;
  let mtimeMs: number;
  try {
    const st = await statRepoFile(repo, file);
    if (!st) return { state: 'gone' };
    if (st.size > MAX_FILE_BYTES.lock) return { state: 'unreadable', why: `${st.size} bytes`, mtimeMs: st.mtimeMs };
    mtimeMs = st.mtimeMs;
    text = (await readRepoFile(repo, file, MAX_FILE_BYTES.lock)).toString('utf8');
  } catch (e) {
    if (isAppError(e) && e.code === 'REPO_UNSAFE') throw e;
    if (isMissing(e)) return { state: 'gone' };
    return { state: 'unreadable', why: isAppError(e) ? e.message : String(e) };
  }
  try {
    return { state: 'ok', json: JSON.parse(text) as unknown, mtimeMs };
  } catch {
    return { state: 'unreadable', why: 'not JSON', mtimeMs };
  }
}

/** A lock of protocol 2 (or 1). */
async function readLock(repo: string, file: string): Promise<ReadResult> {
  const r = await readLockJson(repo, file);
  if (r.state !== 'ok') return r;
  const { json, mtimeMs } = r;
  const v2 = LockV2.safeParse(json);
  if (v2.success) return { state: 'ok', holder: { v: 2, lock: v2.data }, mtimeMs };
  if (json !== null && typeof json === 'object' && 'version' in json) return { state: 'unreadable', why: 'unknown lock format', mtimeMs };
  const v1 = LockV1.safeParse(json);
  if (v1.success) return { state: 'ok', holder: { v: 1, lock: v1.data }, mtimeMs };
  return { state: 'unreadable', why: 'unknown lock format', mtimeMs };
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
  /** The file to name in messages (protocol 3: the holder's newest). */
  name: string;
  /** Who holds it, across refreshes: protocol 2 the file, 3 the holder. */
  id: string;
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
    if (r.state === 'unreadable') out.push({ name, id: name, unreadable: r.why });
    else if (isStale(r.holder, r.mtimeMs, self, Date.now() + offset, timing)) stale.push(rel.lock(name));
    else out.push({ name, id: name, holder: r.holder });
  }
  if (stale.length) await removeRepoFiles(repo, stale);
  return out;
}

export type LockProtocol = 2 | 3;

/** How a process locks a repository; the defaults are protocol 2 with deletion (formats 1-2). */
export interface LockOptions {
  /** 2 (formats 1-2): one file per holder, rewritten and removed. 3 (format 3): append-only files. */
  protocol?: LockProtocol;
  /**
   * Whether this process may remove lock files: the owner may; an
   * append-only client, whose storage login cannot, only skips stale
   * holders. Protocol 2 needs it (its release removes the lock).
   */
  mayDelete?: boolean;
}

function lockOptions(opts: LockOptions): Required<LockOptions> {
  const o = { protocol: opts.protocol ?? 2, mayDelete: opts.mayDelete ?? true };
  if (o.protocol === 2 && !o.mayDelete) throw new AppError('INTERNAL', 'lock protocol 2 removes lock files: a process that may not delete needs protocol 3', { protocol: 2 });
  return o;
}

// Protocol 3 file names.
const STRAY = 'not a lock file name of this repository format';
const V3_NAME = /^([0-9a-f]{16})-([0-9a-f]{8}|end)\.json$/;
const MAX_SEQ = 0xffffffff;
const seqName = (holder: string, seq: number) => `${holder}-${seq.toString(16).padStart(8, '0')}.json`;
const endName = (holder: string) => `${holder}-end.json`;

/** A lock file of protocol 3: the v2 lock plus its place in the holder's sequence. */
const LockV3 = LockV2.extend({ seq: z.number().int().min(0).max(MAX_SEQ) });
type LockV3 = z.infer<typeof LockV3>;
type ReadV3 = { state: 'gone' } | Unreadable | { state: 'ok'; lock: LockV3; mtimeMs: number };

async function readLockV3(repo: string, holder: string, seq: number): Promise<ReadV3> {
  const r = await readLockJson(repo, rel.lock(seqName(holder, seq)));
  if (r.state !== 'ok') return r;
  const l = LockV3.safeParse(r.json);
  if (!l.success) return { state: 'unreadable', why: 'unknown lock format', mtimeMs: r.mtimeMs };
  // Name and content must agree: the seq in the name orders a holder's refreshes.
  if (l.data.seq !== seq) return { state: 'unreadable', why: `it says seq ${l.data.seq}`, mtimeMs: r.mtimeMs };
  return { state: 'ok', lock: l.data, mtimeMs: r.mtimeMs };
}

/** One holder's files in a listing: its seqs (ascending) and whether it ended. */
interface HolderFiles {
  id: string;
  seqs: number[];
  ended: boolean;
}

/** The listing of locks/ by holder; `strays`: names that are no protocol-3 lock file. */
function byHolder(names: string[]): { holders: HolderFiles[]; strays: string[] } {
  const holders = new Map<string, HolderFiles>();
  const strays: string[] = [];
  for (const n of names) {
    const m = V3_NAME.exec(n);
    const id = m?.[1];
    const seq = m?.[2];
    if (id === undefined || seq === undefined) {
      strays.push(n);
      continue;
    }
    let h = holders.get(id);
    if (!h) holders.set(id, (h = { id, seqs: [], ended: false }));
    if (seq === 'end') h.ended = true;
    else h.seqs.push(parseInt(seq, 16));
  }
  for (const h of holders.values()) h.seqs.sort((x, y) => x - y);
  return { holders: [...holders.values()], strays };
}

/**
 * Removes holders' files: every seq (seq 0 first: the holder checks it),
 * then the end files, so a removal cut short never leaves a released
 * holder's seqs without their end file (they would look held until stale).
 */
async function removeHolders(repo: string, holders: HolderFiles[]): Promise<void> {
  const seqs = holders.flatMap((h) => h.seqs.map((s) => rel.lock(seqName(h.id, s))));
  const ends = holders.filter((h) => h.ended).map((h) => rel.lock(endName(h.id)));
  if (seqs.length) await removeRepoFiles(repo, seqs);
  if (ends.length) await removeRepoFiles(repo, ends);
}

type Judged = { state: 'gone' } | { state: 'unreadable'; name: string; why: string } | { state: 'ok'; name: string; lock: LockV3; mtimeMs: number };

/** A holder that has not ended, by its newest seq; `name` is that file's. */
async function judgeHolder(repo: string, h: HolderFiles): Promise<Judged> {
  const top = h.seqs.at(-1);
  if (top === undefined) return { state: 'gone' };
  const name = seqName(h.id, top);
  const r = await readLockV3(repo, h.id, top);
  // Holders never remove their files: gone means an owner swept the holder since the listing.
  if (r.state === 'gone') return { state: 'gone' };
  if (r.state === 'ok') return { state: 'ok', name, lock: r.lock, mtimeMs: r.mtimeMs };
  // A newest file that does not parse may be one being written (a client's
  // SFTP save is not atomic) or one cut by a kill: the seq before it names
  // the holder, and the newer file's mtime counts as its latest refresh.
  const prev = h.seqs.at(-2);
  const p = prev === undefined ? undefined : await readLockV3(repo, h.id, prev);
  if (p?.state === 'ok') return { state: 'ok', name, lock: p.lock, mtimeMs: Math.max(p.mtimeMs, r.mtimeMs ?? 0) };
  return { state: 'unreadable', name, why: r.why };
}

/** Protocol 3: every holder but `own` that has not ended; ended and stale ones removed on the way when `mayDelete`, skipped otherwise. */
async function otherLocksV3(repo: string, own: string, timing: LockTiming, offset: number, mayDelete: boolean): Promise<Other[]> {
  const self = machineIdentity();
  const out: Other[] = [];
  const gone: HolderFiles[] = [];
  const { holders, strays } = byHolder(await listRepoFiles(repo, rel.locks));
  for (const h of holders) {
    if (h.id === own) continue;
    if (h.ended) {
      gone.push(h);
      continue;
    }
    const j = await judgeHolder(repo, h);
    if (j.state === 'gone') continue;
    if (j.state === 'unreadable') out.push({ name: j.name, id: h.id, unreadable: j.why });
    else if (isStale({ v: 2, lock: j.lock }, j.mtimeMs, self, Date.now() + offset, timing)) gone.push(h);
    else out.push({ name: j.name, id: h.id, holder: { v: 2, lock: j.lock } });
  }
  // Not written by this protocol: not ours to judge, so held like an unreadable lock.
  for (const name of strays) out.push({ name, id: name, unreadable: STRAY });
  if (mayDelete && gone.length) await removeHolders(repo, gone);
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

/** The files of one acquisition, by protocol. */
interface OwnLock {
  /** What messages and details call the lock (protocol 2: its file; 3: the holder). */
  readonly name: string;
  /** Writes the lock with the time of now (protocol 2 rewrites it, 3 adds the next seq). */
  write(): Promise<void>;
  /** Throws `lost(why)` when the lock is no longer provably ours. */
  stillOurs(lost: (why: string) => AppError): Promise<void>;
  /** Everybody else's locks, stale ones swept when this process may delete. */
  others(): Promise<Other[]>;
  /** Gives the lock up: protocol 2 removes its file, protocol 3 writes the end file. */
  end(): Promise<void>;
}

function ownLockV2(repo: string, base: Omit<LockV2, 'time'>, timing: LockTiming): OwnLock {
  const name = `${randomBytes(8).toString('hex')}.json`;
  const file = rel.lock(name);
  let offset = 0;
  return {
    name,
    async write() {
      // The lock's own time is the storage's clock too, so every holder judges by one clock.
      await writeRepoFile(repo, file, JSON.stringify({ ...base, time: new Date(Date.now() + offset).toISOString() }));
      offset = await storageClockOffset(repo, file);
    },
    async stillOurs(lost) {
      const r = await readLock(repo, file);
      if (r.state === 'gone') throw lost('was removed by another process (it judged the lock stale)');
      if (r.state === 'unreadable' || r.holder.v !== 2 || r.holder.lock.token !== base.token) throw lost('was replaced by another process');
    },
    others: () => otherLocks(repo, name, timing, offset),
    async end() {
      await removeRepoFiles(repo, [file]);
    },
  };
}

function ownLockV3(repo: string, base: Omit<LockV2, 'time'>, timing: LockTiming, mayDelete: boolean): OwnLock {
  const holder = randomBytes(8).toString('hex');
  // A seq is never written twice, not even after a failed write: an
  // append-only store may have kept what it got and refuses a second one.
  let next = 0;
  let current = -1;
  let offset = 0;
  const now = () => new Date(Date.now() + offset).toISOString();
  return {
    name: holder,
    async write() {
      const seq = next++;
      if (seq > MAX_SEQ) throw new AppError('INTERNAL', `lock ${holder} ran out of refreshes`, { lock: holder });
      const file = rel.lock(seqName(holder, seq));
      await writeRepoFile(repo, file, JSON.stringify({ ...base, time: now(), seq }));
      current = seq;
      offset = await storageClockOffset(repo, file);
    },
    async stillOurs(lost) {
      const r = await readLockV3(repo, holder, current);
      // An owner sweeps a stale holder from seq 0 up: a refresh written
      // after its listing survives the sweep, seq 0 does not.
      const first = current === 0 ? r.state !== 'gone' : (await statRepoFile(repo, rel.lock(seqName(holder, 0)))) !== undefined;
      if (r.state === 'gone' || !first) throw lost('was removed by another process (it judged the lock stale)');
      if (r.state === 'unreadable' || r.lock.token !== base.token) throw lost('was replaced by another process');
      if (await statRepoFile(repo, rel.lock(endName(holder)))) throw lost('was ended by another process');
    },
    others: () => otherLocksV3(repo, holder, timing, offset, mayDelete),
    async end() {
      await writeRepoFile(repo, rel.lock(endName(holder)), JSON.stringify({ version: 2, end: true, token: base.token, time: now() }));
    },
  };
}

/**
 * Takes a lock of `kind` for `operation`. `opts` picks the protocol (by
 * the repository's format) and whether this process may remove lock files;
 * the defaults (protocol 2, mayDelete) are those of formats 1-2.
 */
export async function acquireLock(repo: string, kind: LockKind, operation: string, opts: LockOptions = {}): Promise<HeldLock> {
  const { protocol, mayDelete } = lockOptions(opts);
  const timing = lockTiming();
  const self = machineIdentity();
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
  const own = protocol === 3 ? ownLockV3(repo, base, timing, mayDelete) : ownLockV2(repo, base, timing);
  try {
    await own.write();
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
    conflict = (await own.others()).find((o) => conflicts(kind, o));
    // Index files are removed only under an exclusive lock (prune): one
    // missing later proves a prune ran while this holder was not looking.
    if (!conflict && kind === 'shared') indexAtStart = await listRepoFiles(repo, rel.index);
  } catch (e) {
    await own.end().catch(() => undefined);
    throw e;
  }
  if (conflict) {
    await own.end();
    throw lockedError(repo, conflict);
  }

  const lost = (why: string, cause?: unknown) =>
    new AppError('REPO_LOCKED', `the ${operation} stopped: its lock on the repository at ${repo} ${why}`, {
      path: repo,
      lock: own.name,
      reason: 'lock-lost',
      ...(cause instanceof AppError && { cause: cause.toInfo() }),
    });
  const stillOurs = () => own.stillOurs(lost);
  const indexIntact = async () => {
    if (kind !== 'shared') return;
    const now = new Set(await listRepoFiles(repo, rel.index));
    const missing = indexAtStart.filter((f) => !now.has(f));
    if (missing.length) throw lost(`was not kept: index files it started from are gone (${missing.slice(0, 3).join(', ')}), so the repository was pruned meanwhile`);
  };
  const monitor = new LockMonitor(timing, {
    async refresh() {
      await stillOurs();
      await own.write();
    },
    async prove() {
      await stillOurs();
      await indexIntact();
      await own.write();
      await sleep(timing.settleMs);
      await stillOurs();
      let taken = (await own.others()).find((o) => conflicts(kind, o));
      if (taken) {
        // A process taking the lock right now writes first and withdraws
        // when it sees ours: only a conflict that stays means it holds the
        // repository (it judged our lock stale).
        await sleep(2 * timing.settleMs);
        await stillOurs();
        const again = await own.others();
        taken = again.find((o) => o.id === taken?.id && conflicts(kind, o));
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
      // Protocol 2: another process may have judged it stale and removed it: fine.
      await own.end();
    },
  };
}

function readOnlyLock(): HeldLock {
  const c = new AbortController();
  return { signal: c.signal, assertHeld: async () => undefined, release: async () => undefined };
}

/** Runs `fn` under a lock of `kind`; the lock is released whatever happens. */
export async function withLock<T>(repo: string, kind: LockKind, operation: string, fn: (lock: HeldLock) => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(repo, kind, operation, opts);
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

export interface LockInfo {
  /** The lock file (protocol 3: the holder's newest). */
  name: string;
  stale: boolean;
  holder?: Record<string, unknown>;
  unreadable?: string;
}

/** What `snapkeep unlock` and the UI show: every lock with its holder and whether it is stale. */
export async function listLocks(repo: string, opts: LockOptions = {}): Promise<LockInfo[]> {
  if (lockOptions(opts).protocol === 3) return listLocksV3(repo);
  const timing = lockTiming();
  const self = machineIdentity();
  const out: LockInfo[] = [];
  const offset = await storageClockOffset(repo);
  for (const name of await listRepoFiles(repo, rel.locks)) {
    const r = await readLock(repo, rel.lock(name));
    if (r.state === 'gone') continue;
    if (r.state === 'unreadable') out.push({ name, stale: false, unreadable: r.why });
    else out.push({ name, stale: isStale(r.holder, r.mtimeMs, self, Date.now() + offset, timing), holder: { ...r.holder.lock } });
  }
  return out;
}

/** Protocol 3: one entry per holder that has not ended (its newest file), and the stray files. Writes nothing. */
async function listLocksV3(repo: string): Promise<LockInfo[]> {
  const timing = lockTiming();
  const self = machineIdentity();
  const before = Date.now();
  const { holders, strays } = byHolder(await listRepoFiles(repo, rel.locks));
  const judged: Judged[] = [];
  for (const h of holders) if (!h.ended) judged.push(await judgeHolder(repo, h));
  // No clock probe (a client could not remove it): the newest lock file
  // proves the storage's clock is at least its mtime. It cannot prove that
  // clock behind ours, so a computer whose clock runs ahead sees old locks
  // older here than taking a lock does (which judges by the lock it wrote).
  let offset = 0;
  if (storageFor(repo).remote) for (const j of judged) if (j.state === 'ok') offset = Math.max(offset, j.mtimeMs - before);
  const out: LockInfo[] = [];
  for (const j of judged) {
    if (j.state === 'unreadable') out.push({ name: j.name, stale: false, unreadable: j.why });
    else if (j.state === 'ok') out.push({ name: j.name, stale: isStale({ v: 2, lock: j.lock }, j.mtimeMs, self, Date.now() + offset, timing), holder: { ...j.lock } });
  }
  for (const name of strays) out.push({ name, stale: false, unreadable: STRAY });
  return out;
}

/** The caller's signal joined with the lock's, so a lost lock stops the work like a cancel (with its own reason). */
export function lockedSignal(signal: AbortSignal | undefined, lock: HeldLock): AbortSignal {
  return signal ? AbortSignal.any([signal, lock.signal]) : lock.signal;
}

/**
 * Removes the named lock files: a stale one always; a live or unreadable
 * one only with `force` (the user says nothing else uses the repository).
 * Protocol 3 removes every file of the named holder, and only for a process
 * that may delete. Returns what was removed; refuses (REPO_LOCKED) what is
 * held otherwise.
 */
export async function removeLocks(repo: string, names: string[], force: boolean, opts: LockOptions = {}): Promise<string[]> {
  const { protocol, mayDelete } = lockOptions(opts);
  if (!mayDelete) throw new AppError('OWNER_KEY_REQUIRED', `removing locks of ${repo} needs the owner's storage login: this computer can only add backups`, { path: repo });
  const known = new Map((await listLocks(repo, opts)).map((l) => [l.name, l]));
  const remove: string[] = [];
  const holders: HolderFiles[] = [];
  const byId = protocol === 3 ? new Map(byHolder(await listRepoFiles(repo, rel.locks)).holders.map((h) => [h.id, h])) : undefined;
  for (const n of names) {
    const l = known.get(n);
    if (!l) throw new AppError('NOT_FOUND', `no lock ${n} in ${repo}`, { path: repo, lock: n });
    if (!l.stale && !force)
      throw new AppError('REPO_LOCKED', `lock ${n} is held (${l.unreadable ? `unreadable: ${l.unreadable}` : `${String(l.holder?.['operation'])} pid ${String(l.holder?.['pid'])} on ${String(l.holder?.['host'])}`}); remove it only when nothing uses the repository (--force)`, {
        path: repo,
        lock: n,
      });
    const h = byId?.get(V3_NAME.exec(n)?.[1] ?? '');
    if (h) holders.push(h);
    else remove.push(rel.lock(n));
  }
  if (remove.length) await removeRepoFiles(repo, remove);
  await removeHolders(repo, holders);
  return names;
}
