// The blocks a file system uses, from its allocation bitmaps (ext2/3/4
// through libext2fs, read-only): a full backup reads only those. A file
// system that is unknown, damaged or inconsistent gives no ranges and a
// reason, and the caller reads everything.
import { loadAddon } from './addon';

export interface UsedBlocksResult {
  ok: boolean;
  /** Why there are no ranges (unknown or damaged file system, ...), when !ok. */
  reason?: string;
  /** ext2, ext3 or ext4, when the superblock was recognised. */
  fsType?: string;
  blockSize: number;
  blocks: number;
  usedBlocks: number;
  /** Used [offset, length] byte ranges from the file system's start, sorted, merged. */
  ranges: Array<[number, number]>;
}

export interface UsedBlocksOptions {
  /** Where the file system starts in `path` (a partition of a disk image). */
  offset?: number;
  /** Bytes available to it there; default to the end of `path`. */
  size?: number;
  /** Merge used ranges closer than this many bytes (a chunk size keeps the set of chunks the same). */
  mergeBelow?: number;
}

interface UsedBlocksAddon {
  ext4UsedBlocks(path: string, opts: UsedBlocksOptions): Promise<UsedBlocksResult>;
}

/** Never rejects for a bad file system (ok: false and a reason); rejects only for bad arguments. */
export function ext4UsedBlocks(path: string, opts: UsedBlocksOptions = {}): Promise<UsedBlocksResult> {
  if (!path.startsWith('/')) throw new TypeError('path must be absolute');
  for (const k of ['offset', 'size', 'mergeBelow'] as const) {
    const v = opts[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new TypeError(`${k} must be a non-negative integer`);
  }
  return loadAddon<UsedBlocksAddon>().ext4UsedBlocks(path, opts);
}
