// File-system calls with another user's identity (src/caller_fs.cc): the
// root helper opens and creates what a client names as that client, so the
// kernel's own permission checks decide, never a check of ours beforehand.
// Each call runs on a fresh thread that takes the user's fsuid, fsgid and
// groups and ends with the call. `null` as identity: this process's own.
// Errors are NativeSysErrors (code = errno name); EMEDIUMTYPE means the path
// is not the kind of file asked for (a FIFO where a file was expected).
import { constants as C } from 'node:fs';

import { loadAddon } from './addon';

export interface Identity {
  uid: number;
  gid: number;
  /** Supplementary groups (the caller's, as the kernel reported them at connect). */
  groups: number[];
}

export interface UserIdentity extends Identity {
  name: string;
}

/** Kinds of file an open may end on; an open that ends elsewhere fails (EMEDIUMTYPE, EISDIR, ENOTDIR, ELOOP). */
export const FileType = { file: 1, dir: 2, block: 4, link: 8, other: 16 } as const;

interface CallerFsAddon {
  callerOpen(who: Identity | null, dirfd: number | null, path: string, flags: number, mode: number, types: number): Promise<number>;
  callerMkdir(who: Identity | null, dirfd: number | null, path: string, mode: number): Promise<void>;
  callerSymlink(who: Identity | null, target: string, dirfd: number | null, path: string): Promise<void>;
  callerAccess(who: Identity | null, dirfd: number | null, path: string, amode: number): Promise<void>;
  userIdentity(uid: number): UserIdentity | null;
  copyUserXattrs(srcFd: number, dstFd: number): Promise<number>;
  O_PATH: number;
}

const addon = () => loadAddon<CallerFsAddon>();

export interface OpenRequest {
  /** Relative to this directory descriptor (openat); absolute paths ignore it. */
  dirfd?: number;
  flags: number;
  /** Mode of a file O_CREAT makes (before the umask). */
  mode?: number;
  /** Bit mask of FileType; absent: any. */
  types?: number;
}

/** openat(2) as `who`; resolves to the descriptor (close-on-exec). */
export function openAs(who: Identity | null, path: string, r: OpenRequest): Promise<number> {
  return addon().callerOpen(who, r.dirfd ?? null, path, r.flags, r.mode ?? 0o600, r.types ?? 0);
}

/** mkdirat(2) as `who`. */
export function mkdirAs(who: Identity | null, path: string, mode: number, dirfd?: number): Promise<void> {
  return addon().callerMkdir(who, dirfd ?? null, path, mode);
}

/** symlinkat(2) as `who`: a link named `path` holding `target`. */
export function symlinkAs(who: Identity | null, target: string, path: string, dirfd?: number): Promise<void> {
  return addon().callerSymlink(who, target, dirfd ?? null, path);
}

/** faccessat(2) with AT_EACCESS as `who` (R_OK | W_OK | X_OK). */
export function accessAs(who: Identity | null, path: string, amode: number, dirfd?: number): Promise<void> {
  return addon().callerAccess(who, dirfd ?? null, path, amode);
}

/**
 * Copies the user.* extended attributes from one open file to another (never
 * security.*, trusted.* or system.*); resolves to how many. A file system
 * without xattrs on either side copies none.
 */
export function copyUserXattrs(srcFd: number, dstFd: number): Promise<number> {
  return addon().copyUserXattrs(srcFd, dstFd);
}

/** A user's uid, primary gid and groups from the user database now, or null when there is no such user. */
export function userIdentity(uid: number): UserIdentity | null {
  if (!Number.isInteger(uid) || uid < 0 || uid >= 0xffffffff) throw new TypeError('uid must be a valid user id');
  return addon().userIdentity(uid);
}

export const O = {
  RDONLY: C.O_RDONLY,
  WRONLY: C.O_WRONLY,
  RDWR: C.O_RDWR,
  CREAT: C.O_CREAT,
  EXCL: C.O_EXCL,
  TRUNC: C.O_TRUNC,
  NOFOLLOW: C.O_NOFOLLOW,
  DIRECTORY: C.O_DIRECTORY,
  get PATH(): number {
    return addon().O_PATH;
  },
};
