// Advisory locks between processes (flock(2) on a lock file), released by
// the kernel when the holder closes it or dies. Never blocks: callers poll
// (electron/core/engine/remote/working-copy-lock.ts). Errors are
// NativeSysErrors with the errno name in `code`.
import { loadAddon } from './addon';

interface FileLockAddon {
  tryLockFile(path: string, holder: string): number | null;
  unlockFile(fd: number): void;
}

const addon = () => loadAddon<FileLockAddon>();

/**
 * Opens `path` (created 0600, O_NOFOLLOW, O_CLOEXEC) and takes an exclusive
 * flock without waiting; writes `holder` into it for those who wait. The
 * descriptor to pass to unlockFile, or null when another open of the file
 * holds the lock, in this process or another (a lock belongs to one open
 * file description, so two attempts in one process conflict too).
 */
export function tryLockFile(path: string, holder: string): number | null {
  if (path.length === 0) throw new TypeError('path must not be empty');
  return addon().tryLockFile(path, holder);
}

/** Releases a lock tryLockFile took (closes its descriptor); call once. */
export function unlockFile(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0) throw new TypeError('fd must be a non-negative integer');
  addon().unlockFile(fd);
}
