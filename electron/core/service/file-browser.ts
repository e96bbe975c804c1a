// Browsing, searching and copying files out of a mounted restore point. Every
// path a request names must lie inside one of the mount's file systems after
// symlinks are resolved, and nothing follows a symlink found inside a backup:
// a link to /etc/shadow in a restored tree lists as a link and copies as a
// link, never as the host's file.
import { closeSync, constants as fsConstants, fchmod as fchmodCb, futimes as futimesCb, promises as fs, write as writeCb, type Stats } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { AppError, isAppError, type FileEntry } from '../../common/contract';
import { copyUserXattrs, FileType, isNativeSysError, mkdirAs, O, openAs, symlinkAs, type Identity } from '../../../native';
import { accessError, openDir, type OpenedFile } from '../access/caller-files';

const fchmod = promisify(fchmodCb);
const futimes = promisify(futimesCb);
const write = promisify(writeCb);

export interface CopyProgress {
  bytesDone: number;
  bytesTotal: number;
  file: string;
}

/**
 * The mount point `p` lies in, after resolving symlinks (all of them, or all
 * but the last component when the link itself is meant, as for a copy);
 * NOT_FOUND / INVALID_ARGUMENT otherwise.
 */
export async function confine(p: string, roots: string[], followLast = true): Promise<{ real: string; root: string }> {
  let real: string;
  try {
    real = followLast ? await fs.realpath(p) : path.join(await fs.realpath(path.dirname(p)), path.basename(p));
    await fs.lstat(real);
  } catch {
    throw new AppError('NOT_FOUND', `${p} does not exist in the mounted restore point`, { path: p });
  }
  for (const root of roots) {
    const r = await fs.realpath(root).catch(() => root);
    if (real === r || real.startsWith(r + '/')) return { real, root: r };
  }
  throw new AppError('INVALID_ARGUMENT', `${p} is outside the mounted restore point`, { path: p });
}

function typeOf(st: Stats): FileEntry['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

function entry(full: string, st: Stats): FileEntry {
  return {
    name: path.basename(full),
    path: full,
    type: typeOf(st),
    sizeBytes: st.isFile() ? st.size : 0,
    modifiedAt: st.mtime.toISOString(),
  };
}

/** Entries of a directory (or the one entry of a file), directories first. */
export async function listFiles(p: string, roots: string[]): Promise<FileEntry[]> {
  const { real } = await confine(p, roots);
  const st = await fs.lstat(real);
  if (!st.isDirectory()) return [entry(real, st)];
  const names = await fs.readdir(real);
  const out: FileEntry[] = [];
  for (const n of names) {
    const full = path.join(real, n);
    try {
      out.push(entry(full, await fs.lstat(full)));
    } catch {
      // vanished or unreadable: a damaged file system shows what it can
    }
  }
  return out.sort((a, b) => (a.type === 'dir') !== (b.type === 'dir') ? (a.type === 'dir' ? -1 : 1) : a.name.localeCompare(b.name));
}

/** Files whose name contains `query` (case-insensitive), breadth first, at most `limit`. */
export async function searchFiles(roots: string[], query: string, limit: number, signal?: AbortSignal): Promise<FileEntry[]> {
  const q = query.toLowerCase();
  const out: FileEntry[] = [];
  for (const root of roots) {
    const rootDev = (await fs.lstat(root)).dev;
    const queue = [root];
    while (queue.length > 0 && out.length < limit) {
      if (signal?.aborted) throw new AppError('CANCELLED', 'search cancelled');
      const dir = queue.shift() as string;
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      for (const n of names) {
        const full = path.join(dir, n);
        const st = await fs.lstat(full).catch(() => null);
        if (!st) continue;
        if (n.toLowerCase().includes(q)) {
          out.push(entry(full, st));
          if (out.length >= limit) break;
        }
        // Never leave the restored file system (nested mounts, /proc-like trees).
        if (st.isDirectory() && st.dev === rootDev) queue.push(full);
      }
    }
  }
  return out;
}

export interface CopyOptions {
  /**
   * Who the copies are made as (the user who asked): every file, folder and
   * link is created with their identity, so they land only where that user
   * may write and belong to them. Null or absent: this process.
   */
  as?: Identity | null;
  signal?: AbortSignal;
  onProgress?: (p: CopyProgress) => void;
}

async function sizeOf(p: string): Promise<number> {
  const st = await fs.lstat(p);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let n = 0;
  for (const c of await fs.readdir(p)) n += await sizeOf(path.join(p, c));
  return n;
}

/** `name`, else "name (restored).ext", "name (restored 2).ext", ...: the first that `make` can create (EEXIST: taken). */
async function createFree<T>(name: string, make: (n: string) => Promise<T>): Promise<{ name: string; made: T }> {
  const ext = path.extname(name);
  const base = name.slice(0, name.length - ext.length);
  for (let i = 0; ; i++) {
    const n = i === 0 ? name : `${base} (restored${i > 1 ? ` ${i}` : ''})${ext}`;
    try {
      return { name: n, made: await make(n) };
    } catch (e) {
      if (!(isNativeSysError(e) && e.code === 'EEXIST') || i > 10000) throw e;
    }
  }
}

const CHUNK = 1 << 20;

/**
 * Copies files and directories from a restore point into `destination` (an
 * existing directory). Existing files are never overwritten: a name that is
 * taken gets " (restored)" before its extension.
 *
 * Everything is made relative to descriptors of folders opened as the user
 * (openat/mkdirat/symlinkat, O_EXCL, O_NOFOLLOW): a name swapped for a
 * symlink meanwhile is never followed. Only content is copied, then user.*
 * extended attributes (never security.* such as file capabilities), the
 * mode without setuid, setgid and sticky bits, then the times; folders get
 * theirs after their contents.
 */
export async function copyFiles(paths: string[], roots: string[], destination: string, o: CopyOptions = {}): Promise<{ files: number; bytes: number }> {
  const who = o.as ?? null;
  let dest: OpenedFile;
  try {
    dest = await openDir(who, destination);
  } catch (e) {
    if (isAppError(e) && (e.code === 'NOT_FOUND' || e.code === 'INVALID_ARGUMENT'))
      throw new AppError('NOT_FOUND', `destination ${destination} is not an existing directory`, { path: destination });
    throw e;
  }
  try {
    // A link named for copying is copied as the link, wherever it points.
    const sources = await Promise.all(paths.map((p) => confine(p, roots, false)));
    let total = 0;
    for (const s of sources) total += await sizeOf(s.real);
    const state = { files: 0, bytes: 0, total };
    for (const s of sources) await copyInto(s.real, dest.fd, destination, who, state, o);
    return { files: state.files, bytes: state.bytes };
  } finally {
    dest.close();
  }
}

interface CopyState {
  files: number;
  bytes: number;
  total: number;
}

async function copyInto(src: string, dirFd: number, dirName: string, who: Identity | null, state: CopyState, o: CopyOptions): Promise<void> {
  if (o.signal?.aborted) throw new AppError('CANCELLED', 'copy cancelled');
  const st = await fs.lstat(src);
  const base = path.basename(src);
  const fail = (e: unknown, n: string) => accessError(e, path.join(dirName, n), 'create');
  if (st.isDirectory()) {
    const { name } = await createFree(base, (n) => mkdirAs(who, n, 0o700, dirFd)).catch((e: unknown) => {
      throw fail(e, base);
    });
    const sub = await openAs(who, name, { dirfd: dirFd, flags: O.RDONLY | O.DIRECTORY | O.NOFOLLOW, types: FileType.dir }).catch((e: unknown) => {
      throw fail(e, name);
    });
    try {
      for (const c of await fs.readdir(src)) await copyInto(path.join(src, c), sub, path.join(dirName, name), who, state, o);
      const from = await fs.open(src, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
      try {
        await copyUserXattrs(from.fd, sub);
      } finally {
        await from.close();
      }
      await fchmod(sub, st.mode & 0o777);
      await futimes(sub, st.atime, st.mtime);
    } finally {
      closeSync(sub);
    }
  } else if (st.isSymbolicLink()) {
    const target = await fs.readlink(src);
    await createFree(base, (n) => symlinkAs(who, target, n, dirFd)).catch((e: unknown) => {
      throw fail(e, base);
    });
  } else if (st.isFile()) {
    const input = await fs.open(src, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      const { made: fd } = await createFree(base, (n) =>
        openAs(who, n, { dirfd: dirFd, flags: O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, mode: 0o600, types: FileType.file }),
      ).catch((e: unknown) => {
        throw fail(e, base);
      });
      try {
        const buf = Buffer.allocUnsafe(CHUNK);
        for (;;) {
          if (o.signal?.aborted) throw new AppError('CANCELLED', 'copy cancelled');
          const { bytesRead } = await input.read(buf, 0, CHUNK, null);
          if (bytesRead === 0) break;
          for (let off = 0; off < bytesRead; ) off += (await write(fd, buf, off, bytesRead - off)).bytesWritten;
          state.bytes += bytesRead;
          o.onProgress?.({ bytesDone: state.bytes, bytesTotal: state.total, file: src });
        }
        // Last, on the handle: user.* attributes (only those), the mode
        // without setuid/setgid/sticky, then the times.
        await copyUserXattrs(input.fd, fd);
        await fchmod(fd, st.mode & 0o777);
        await futimes(fd, st.atime, st.mtime);
      } finally {
        closeSync(fd);
      }
    } finally {
      await input.close();
    }
  } else {
    return; // devices, sockets, fifos: not restored as files
  }
  state.files++;
}
