// Preallocated files and their physical extents (fallocate + FIEMAP), for
// the snapshot's difference storage. Long calls run off the JS thread.
import { loadAddon } from './addon';

export interface FileExtent {
  /** Offset in the file, bytes. */
  logical: number;
  /** Offset on the device that holds the file system, bytes. */
  physical: number;
  length: number;
  /** FIEMAP_EXTENT_* bits, see fiemapFlags(). */
  flags: number;
}

export interface FileExtents {
  /** The device the file system is on (st_dev). */
  major: number;
  minor: number;
  size: number;
  extents: FileExtent[];
}

export interface FiemapFlags {
  LAST: number;
  UNKNOWN: number;
  DELALLOC: number;
  ENCODED: number;
  DATA_ENCRYPTED: number;
  NOT_ALIGNED: number;
  DATA_INLINE: number;
  DATA_TAIL: number;
  UNWRITTEN: number;
  MERGED: number;
  SHARED: number;
}

interface FsExtentsAddon {
  allocateFile(path: string, bytes: number): Promise<void>;
  fileExtents(path: string): Promise<FileExtents>;
  fiemapFlags: FiemapFlags;
}

const addon = () => loadAddon<FsExtentsAddon>();

/** Creates `path` (it must not exist) with `bytes` reserved on disk, synced. */
export function allocateFile(path: string, bytes: number): Promise<void> {
  if (!path.startsWith('/')) throw new TypeError('path must be absolute');
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new TypeError('bytes must be a positive integer');
  return addon().allocateFile(path, bytes);
}

/** The physical extents of a file (FS_IOC_FIEMAP with FIEMAP_FLAG_SYNC). */
export function fileExtents(path: string): Promise<FileExtents> {
  if (!path.startsWith('/')) throw new TypeError('path must be absolute');
  return addon().fileExtents(path);
}

export function fiemapFlags(): FiemapFlags {
  return { ...addon().fiemapFlags };
}
