// Browsing, searching and copying files out of a mounted restore point. Every
// path a request names must lie inside one of the mount's file systems after
// symlinks are resolved, and nothing follows a symlink found inside a backup:
// a link to /etc/shadow in a restored tree lists as a link and copies as a
// link, never as the host's file.
import { promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';

import { AppError, type FileEntry } from '../../common/contract';

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
  /** Owner of what is created (the user who asked), when the service runs as root. */
  owner?: { uid: number; gid: number };
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

/**
 * Copies files and directories from a restore point into `destination` (an
 * existing directory). Existing files are never overwritten: a name that is
 * taken gets " (restored)" before its extension.
 */
export async function copyFiles(paths: string[], roots: string[], destination: string, o: CopyOptions = {}): Promise<{ files: number; bytes: number }> {
  const dst = await fs.stat(destination).catch(() => null);
  if (!dst?.isDirectory()) throw new AppError('NOT_FOUND', `destination ${destination} is not an existing directory`, { path: destination });
  // A link named for copying is copied as the link, wherever it points.
  const sources = await Promise.all(paths.map((p) => confine(p, roots, false)));
  let total = 0;
  for (const s of sources) total += await sizeOf(s.real);
  const state = { files: 0, bytes: 0 };

  const copyOne = async (src: string, dstDir: string): Promise<void> => {
    if (o.signal?.aborted) throw new AppError('CANCELLED', 'copy cancelled');
    const st = await fs.lstat(src);
    const target = await freeName(path.join(dstDir, path.basename(src)));
    if (st.isDirectory()) {
      await fs.mkdir(target, { mode: st.mode & 0o777 });
      await own(target, o.owner);
      for (const c of await fs.readdir(src)) await copyOne(path.join(src, c), target);
    } else if (st.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(src), target);
      if (o.owner) await fs.lchown(target, o.owner.uid, o.owner.gid);
    } else if (st.isFile()) {
      await fs.copyFile(src, target, fs.constants.COPYFILE_EXCL);
      await fs.chmod(target, st.mode & 0o777);
      await own(target, o.owner);
      await fs.utimes(target, st.atime, st.mtime);
      state.bytes += st.size;
      o.onProgress?.({ bytesDone: state.bytes, bytesTotal: total, file: src });
    } else {
      return; // devices, sockets, fifos: not restored as files
    }
    state.files++;
  };
  for (const s of sources) await copyOne(s.real, destination);
  return state;
}

async function own(p: string, owner?: { uid: number; gid: number }): Promise<void> {
  if (owner) await fs.chown(p, owner.uid, owner.gid);
}

async function freeName(p: string): Promise<string> {
  const exists = async (q: string) => (await fs.lstat(q).catch(() => null)) !== null;
  if (!(await exists(p))) return p;
  const ext = path.extname(p);
  const base = p.slice(0, p.length - ext.length);
  for (let i = 1; ; i++) {
    const q = `${base} (restored${i > 1 ? ` ${i}` : ''})${ext}`;
    if (!(await exists(q))) return q;
  }
}
