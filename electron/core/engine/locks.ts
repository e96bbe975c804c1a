// Repository locks: files under locks/. A backup, restore or verify holds a
// shared lock, prune an exclusive one; they exclude each other, so prune
// never deletes a pack that a running backup is about to reference.
//
// A lock is stale when its holder is gone: same host and the pid no longer
// runs (a backup killed with -9), or it was not refreshed for
// LOCK_STALE_MS (a holder on another host that died). Stale locks are
// removed by whoever meets them.
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';

import { z } from 'zod';

import { AppError, isAppError } from '../../common/contract';
import { LOCK_REFRESH_MS, LOCK_STALE_MS, MAX_FILE_BYTES, rel } from './format';
import { listRepoFiles, readRepoFile, removeRepoFiles, statRepoFile, touchRepoFile, writeRepoFile } from './repo-files';

const LockInfo = z.object({
  kind: z.enum(['shared', 'exclusive']),
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  operation: z.string(),
});
type LockInfo = z.infer<typeof LockInfo>;

export interface HeldLock {
  release(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(repo: string, file: string): Promise<{ info: LockInfo | undefined; mtimeMs: number } | undefined> {
  try {
    const [data, st] = await Promise.all([readRepoFile(repo, file, MAX_FILE_BYTES.lock), statRepoFile(repo, file)]);
    if (!st) return undefined;
    const r = LockInfo.safeParse(JSON.parse(data.toString('utf8')));
    return { info: r.success ? r.data : undefined, mtimeMs: st.mtimeMs };
  } catch (e) {
    // A link or special file among the locks is never treated as a lock.
    if (isAppError(e) && e.code === 'REPO_UNSAFE') throw e;
    return undefined; // removed meanwhile, or torn: treated as absent
  }
}

function isStale(l: { info: LockInfo | undefined; mtimeMs: number }, now: number): boolean {
  if (!l.info) return now - l.mtimeMs > LOCK_STALE_MS;
  if (l.info.host === os.hostname() && !pidAlive(l.info.pid)) return true;
  return now - l.mtimeMs > LOCK_STALE_MS;
}

/** The live locks other than `own`; removes stale ones on the way. */
async function liveLocks(repo: string, own?: string): Promise<Array<{ name: string; info: LockInfo | undefined }>> {
  const out: Array<{ name: string; info: LockInfo | undefined }> = [];
  const stale: string[] = [];
  const now = Date.now();
  for (const name of await listRepoFiles(repo, rel.locks)) {
    if (name === own) continue;
    const l = await readLock(repo, rel.lock(name));
    if (!l) continue;
    if (isStale(l, now)) stale.push(rel.lock(name));
    else out.push({ name, info: l.info });
  }
  if (stale.length) await removeRepoFiles(repo, stale);
  return out;
}

export async function acquireLock(repo: string, kind: 'shared' | 'exclusive', operation: string): Promise<HeldLock> {
  const name = `${randomBytes(8).toString('hex')}.json`;
  const file = rel.lock(name);
  const info: LockInfo = { kind, host: os.hostname(), pid: process.pid, startedAt: new Date().toISOString(), operation };
  try {
    await writeRepoFile(repo, file, JSON.stringify(info));
  } catch (e) {
    // A repository on read-only media (a write-protected disk, a ro NAS
    // export) can still be read: nobody can prune it meanwhile either.
    if (kind === 'shared' && isAppError(e) && e.code === 'READ_ONLY') return { release: async () => undefined };
    throw e;
  }
  // Written first, checked second: of two processes racing, at least one
  // sees the other, so two conflicting holders never both proceed.
  const others = await liveLocks(repo, name);
  const conflict = others.find((o) => kind === 'exclusive' || o.info?.kind !== 'shared');
  if (conflict) {
    await removeRepoFiles(repo, [file]);
    const who = conflict.info ? `${conflict.info.operation} (pid ${conflict.info.pid} on ${conflict.info.host})` : 'another process';
    throw new AppError('REPO_LOCKED', `the repository at ${repo} is in use by ${who}`, {
      path: repo,
      lock: conflict.name,
      ...(conflict.info && { holder: conflict.info }),
    });
  }
  const timer = setInterval(() => {
    touchRepoFile(repo, file).catch(() => undefined);
  }, LOCK_REFRESH_MS);
  timer.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await removeRepoFiles(repo, [file]);
    },
  };
}

/** Runs `fn` under a lock of `kind`. */
export async function withLock<T>(repo: string, kind: 'shared' | 'exclusive', operation: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(repo, kind, operation);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
