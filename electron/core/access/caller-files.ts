// Opening what a caller names, as the caller (native/caller-fs.ts): the
// kernel decides with the caller's fsuid, fsgid and groups, so a member can
// read, write and create through the helper exactly what they could
// themselves. The descriptor is then the file: code that needs a path for
// it (the engine opens by path) gets /proc/self/fd/N, which names this very
// file however the path changes afterwards.
import { closeSync, fstatSync, type Stats } from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { accessAs, FileType, isNativeSysError, mkdirAs, O, openAs, type Identity } from '../../../native';

export { FileType } from '../../../native';

export interface OpenedFile {
  fd: number;
  /**
   * /proc/<this pid>/fd/<fd>: this file for code that opens by path, child
   * processes included (the layout probe runs sfdisk and blkid on it; their
   * own /proc/self would name something else).
   */
  procPath: string;
  stat: Stats;
  close(): void;
}

function opened(fd: number): OpenedFile {
  let open = true;
  return {
    fd,
    procPath: `/proc/${process.pid}/fd/${fd}`,
    stat: fstatSync(fd),
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** A system error from acting as the caller, in words a user can act on. */
export function accessError(e: unknown, p: string, doing: string): unknown {
  if (!isNativeSysError(e)) return e;
  const details = { path: p, errno: e.code };
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return new AppError('PERMISSION_DENIED', `you may not ${doing} ${p}`, details);
    case 'ENOENT':
      return new AppError('NOT_FOUND', `${p} does not exist`, details);
    case 'ELOOP':
      return new AppError('INVALID_ARGUMENT', `${p} is a symbolic link: name the file it points to`, details);
    case 'EISDIR':
      return new AppError('INVALID_ARGUMENT', `${p} is a folder`, details);
    case 'ENOTDIR':
      return new AppError('INVALID_ARGUMENT', `${p} is not a folder`, details);
    case 'EMEDIUMTYPE':
      return new AppError('INVALID_ARGUMENT', `${p} is neither a regular file nor a block device`, details);
    case 'EEXIST':
      return new AppError('CONFLICT', `${p} exists already`, details);
    case 'EROFS':
      return new AppError('READ_ONLY', `${p} is on a read-only file system`, details);
    case 'ENOSPC':
      return new AppError('DISK_FULL', `no space left for ${p}`, details);
    default:
      return new AppError('IO_ERROR', `cannot ${doing} ${p}: ${e.message}`, details);
  }
}

async function open(who: Identity | null, p: string, flags: number, types: number, doing: string, mode = 0o600): Promise<OpenedFile> {
  try {
    return opened(await openAs(who, p, { flags, types, mode }));
  } catch (e) {
    throw accessError(e, p, doing);
  }
}

/** An image file (or a device) to back up, opened for reading as `who`. */
export function openSource(who: Identity | null, p: string): Promise<OpenedFile> {
  return open(who, p, O.RDONLY, FileType.file | FileType.block, 'read');
}

/**
 * A file to restore into: an existing regular file opened for reading and
 * writing, or a new one created (0600, never through a symlink, never over
 * a file that appeared meanwhile), as `who`.
 */
export async function openRestoreFile(who: Identity | null, p: string): Promise<OpenedFile & { created: boolean }> {
  try {
    return { ...opened(await openAs(who, p, { flags: O.RDWR | O.NOFOLLOW, types: FileType.file })), created: false };
  } catch (e) {
    if (!(isNativeSysError(e) && e.code === 'ENOENT')) throw accessError(e, p, 'write');
  }
  try {
    return { ...opened(await openAs(who, p, { flags: O.RDWR | O.CREAT | O.EXCL | O.NOFOLLOW, types: FileType.file, mode: 0o600 })), created: true };
  } catch (e) {
    if (isNativeSysError(e) && e.code === 'ENOENT') throw new AppError('NOT_FOUND', `the folder ${path.dirname(p)} does not exist`, { path: p });
    throw accessError(e, p, 'create');
  }
}

/** A folder to create things in, as `who`. */
export function openDir(who: Identity | null, p: string): Promise<OpenedFile> {
  return open(who, p, O.RDONLY | O.DIRECTORY, FileType.dir, 'open the folder');
}

/** What `p` is, as `who` sees it (search permission on the folders is all it takes, as for ls -l). */
export async function statAs(who: Identity | null, p: string, follow = true): Promise<Stats | null> {
  let fd: number;
  try {
    fd = await openAs(who, p, { flags: O.PATH | (follow ? 0 : O.NOFOLLOW) });
  } catch (e) {
    if (isNativeSysError(e) && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return null;
    throw accessError(e, p, 'look at');
  }
  try {
    return fstatSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Throws unless `who` may read (and with `write`, also create and delete in) the folder `p`. */
export async function requireDirAccess(who: Identity | null, p: string, write: boolean): Promise<void> {
  const R_OK = 4;
  const W_OK = 2;
  const X_OK = 1;
  try {
    await accessAs(who, p, R_OK | X_OK | (write ? W_OK : 0));
  } catch (e) {
    throw accessError(e, p, write ? 'write into' : 'read');
  }
}

/** Creates the missing folders of `p` as `who` (mode 0700), like mkdir -p. */
export async function mkdirpAs(who: Identity | null, p: string): Promise<void> {
  const parts = p.split('/').filter(Boolean);
  let cur = '';
  for (const part of parts) {
    cur = `${cur}/${part}`;
    if (await statAs(who, cur)) continue;
    try {
      await mkdirAs(who, cur, 0o700);
    } catch (e) {
      if (!(isNativeSysError(e) && e.code === 'EEXIST')) throw accessError(e, path.dirname(cur), 'create a folder in');
    }
  }
}
