// The lock on a remote repository's working copy (docs/remote-repositories.md,
// "The working copy's lock").
//
// One working copy per location serves every process of the machine, and
// its packs/ folder is both a backup's spool and the read cache, its
// spool-journal a backup's record, its index/ synced by removing what the
// store lacks. Two operations at once would take each other's files for a
// killed process's leftovers, so the operations of remote-native.ts that
// touch them run one after another, on this machine:
//
// - between processes: flock(2) on `working-copy.lock` in the working copy
//   (native/file-lock.ts). The kernel releases it when the holder dies, so
//   a killed backup leaves no stale lock. The attempt never blocks: this
//   side polls, and no libuv thread sleeps in flock().
// - within a process: a FIFO queue per directory in front of the flock. A
//   flock belongs to an open file description, so two attempts of one
//   process would conflict with each other too; the queue makes that never
//   happen (only its head tries the flock) and serves waiters in order
//   without polling each other.
//
// The holder writes its pid and operation into the lock file, for the
// message of those who wait.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type CancelToken, tryLockFile, unlockFile } from '../../../../native';
import { AppError } from '../../../common/contract';

export const LOCK_FILE = 'working-copy.lock';
/** How often the head of the queue tries the flock again. */
export const LOCK_POLL_MS = 200;

export interface LockHolder {
  pid: number;
  operation: string;
}

export interface WorkingCopyLockOptions {
  /** What the holder does (in the waiters' message): "backup", "restore", ... */
  operation: string;
  /** The repository's location, for the message. */
  location: string;
  /** Cancels the wait (CANCELLED); not the operation once it holds the lock. */
  cancel?: CancelToken | undefined;
  /** Told once when the lock is not free at once (default: a line on stderr). */
  onWait?: ((message: string, holder: LockHolder | undefined) => void) | undefined;
  pollMs?: number;
}

export interface HeldWorkingCopyLock {
  /** Releases the lock; a second call does nothing. */
  release(): void;
}

interface Waiter {
  wake(): void;
}

/** One directory's state in this process. */
interface DirState {
  /** This process holds the flock (one operation of it runs). */
  held: LockHolder | undefined;
  queue: Waiter[];
}

const dirs = new Map<string, DirState>();

function stateOf(dir: string): DirState {
  let st = dirs.get(dir);
  if (!st) {
    st = { held: undefined, queue: [] };
    dirs.set(dir, st);
  }
  return st;
}

/** Who holds the lock, as its holder wrote it (may be absent, half written, or a killed holder's). */
export function readLockHolder(dir: string): LockHolder | undefined {
  try {
    // Opening and closing the file does not touch a flock this process holds
    // on it (a flock belongs to its own open file description, unlike fcntl's
    // locks, which any close of the file drops).
    const fd = fs.openSync(path.join(dir, LOCK_FILE), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const buf = Buffer.alloc(4096);
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, 0);
    } finally {
      fs.closeSync(fd);
    }
    const v = JSON.parse(buf.subarray(0, n).toString('utf8')) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && Number.isInteger(v.pid) && typeof v.operation === 'string') return { pid: v.pid, operation: v.operation.slice(0, 100) };
  } catch {
    /* unknown holder */
  }
  return undefined;
}

/** Who holds the lock, in words: "pid 123, backup". */
export function holderWords(holder: LockHolder | undefined): string {
  return holder ? `pid ${holder.pid}, ${holder.operation}` : 'holder unknown';
}

export function waitMessage(location: string, holder: LockHolder | undefined): string {
  return `waiting for another Snapkeep operation on ${location} (${holderWords(holder)})`;
}

/**
 * The flock, on a lock file that is still the one under the name: a working
 * copy deleted while locked would otherwise let the next process lock a new
 * file beside the old holder.
 */
function tryFlock(dir: string, holder: LockHolder): number | null {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    const fd = tryLockFile(file, JSON.stringify(holder));
    if (fd === null) return null;
    let same = false;
    try {
      same = fs.fstatSync(fd).ino === fs.statSync(file).ino;
    } catch {
      /* gone: try again */
    }
    if (same) return fd;
    unlockFile(fd);
  }
  throw new AppError('INTERNAL', `the lock file ${file} keeps being replaced`, { path: file });
}

function held(dir: string, st: DirState, fd: number): HeldWorkingCopyLock {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      st.held = undefined;
      try {
        unlockFile(fd);
      } finally {
        const next = st.queue[0];
        if (next) next.wake();
        else dirs.delete(dir);
      }
    },
  };
}

/** The lock if it is free now (nothing of this process queued or holding, no other process holding it); else undefined. */
export function tryLockWorkingCopy(dir: string, operation: string): HeldWorkingCopyLock | undefined {
  const key = path.resolve(dir);
  const st = stateOf(key);
  if (st.held || st.queue.length > 0) return undefined;
  const holder = { pid: process.pid, operation };
  const fd = tryFlock(key, holder);
  if (fd === null) {
    dirs.delete(key);
    return undefined;
  }
  st.held = holder;
  return held(key, st, fd);
}

/** Waits for the lock: in this process's queue first, then for the flock. */
export async function lockWorkingCopy(dir: string, opts: WorkingCopyLockOptions): Promise<HeldWorkingCopyLock> {
  const key = path.resolve(dir);
  const st = stateOf(key);
  const holder = { pid: process.pid, operation: opts.operation };
  const poll = opts.pollMs ?? LOCK_POLL_MS;
  const me: Waiter = { wake: () => undefined };
  st.queue.push(me);
  let told = false;
  const tell = (h: LockHolder | undefined) => {
    if (told) return;
    told = true;
    const msg = waitMessage(opts.location, h);
    if (opts.onWait) opts.onWait(msg, h);
    else console.warn(msg);
  };
  let got: HeldWorkingCopyLock | undefined;
  try {
    for (;;) {
      if (opts.cancel?.cancelled)
        throw new AppError('CANCELLED', `${opts.operation} cancelled while ${waitMessage(opts.location, st.held ?? readLockHolder(key))}`);
      if (st.held) tell(st.held);
      else if (st.queue[0] === me) {
        const fd = tryFlock(key, holder);
        if (fd !== null) {
          st.held = holder;
          got = held(key, st, fd);
          return got;
        }
        tell(readLockHolder(key));
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, poll);
        me.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      me.wake = () => undefined;
    }
  } finally {
    st.queue.splice(st.queue.indexOf(me), 1);
    // A waiter that gave up may have been the head: the next one tries now.
    if (!got && !st.held) {
      const next = st.queue[0];
      if (next) next.wake();
      else dirs.delete(key);
    }
  }
}

/** Runs `fn` holding the lock. */
export async function withWorkingCopyLock<T>(dir: string, opts: WorkingCopyLockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await lockWorkingCopy(dir, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
