// Which bytes of a source a full backup reads: the blocks its ext2/3/4 file
// systems use (their allocation bitmaps, native/used-blocks.ts), and
// everything that is not inside such a file system (partition tables, gaps,
// other file systems, the tail of a partition past its file system). A file
// system that cannot be trusted (damaged, journal not replayed, unknown) is
// read whole, and the reason is kept for the restore point.
import { ext4UsedBlocks } from '../../../native/used-blocks';
import type { DeviceLayout } from './manifest';

/** Beyond any device: the engine clips ranges at the source's end. */
const TO_END = Number.MAX_SAFE_INTEGER;
const EXT = new Set(['ext2', 'ext3', 'ext4', 'ext4dev']);

export interface UsedFsNote {
  /** The partition (1-based) or absent for a source that is one file system. */
  partition?: number;
  fsType?: string;
  /** Bytes the file system uses, when its bitmaps were read. */
  usedBytes?: number;
  /** Why this file system is read whole. */
  reason?: string;
}

export interface UsedRangesPlan {
  /** Byte ranges to read; undefined: read everything (no file system's bitmaps could be used). */
  ranges?: Array<[number, number]>;
  fileSystems: UsedFsNote[];
}

interface Window {
  start: number;
  end: number;
  used: Array<[number, number]>;
}

/**
 * The ranges to read of `path` whose layout was just probed. `mergeBelow`
 * (the chunk size) keeps the list short without changing which chunks are read.
 */
export async function planUsedRanges(path: string, layout: DeviceLayout, mergeBelow: number): Promise<UsedRangesPlan> {
  const notes: UsedFsNote[] = [];
  const windows: Window[] = [];
  const tryFs = async (fsType: string | undefined, start: number, size: number | undefined, partition?: number) => {
    const note: UsedFsNote = { ...(partition !== undefined && { partition }), ...(fsType !== undefined && { fsType }) };
    notes.push(note);
    if (fsType === undefined || !EXT.has(fsType)) {
      note.reason = fsType === undefined ? 'no file system recognised' : `used blocks are read from ext2/3/4 only, not ${fsType}`;
      return;
    }
    const r = await ext4UsedBlocks(path, { offset: start, ...(size !== undefined && { size }), mergeBelow });
    if (!r.ok) {
      note.reason = r.reason ?? 'the file system could not be read';
      return;
    }
    note.fsType = r.fsType ?? fsType;
    note.usedBytes = r.usedBlocks * r.blockSize;
    windows.push({ start, end: start + r.blocks * r.blockSize, used: r.ranges });
  };
  if (layout.partitions.length === 0) await tryFs(layout.fsType, 0, undefined);
  for (const p of layout.partitions) await tryFs(p.fsType, p.startBytes, p.sizeBytes, p.number);
  if (windows.length === 0) return { fileSystems: notes };
  windows.sort((a, b) => a.start - b.start);
  const ranges: Array<[number, number]> = [];
  const add = (off: number, len: number) => {
    if (len <= 0) return;
    const last = ranges[ranges.length - 1];
    if (last && off <= last[0] + last[1] + mergeBelow) last[1] = Math.max(last[1], off + len - last[0]);
    else ranges.push([off, len]);
  };
  let cursor = 0;
  for (const w of windows) {
    if (w.start < cursor) return { fileSystems: notes.map((n) => ({ ...n, reason: n.reason ?? 'partitions overlap' })) };
    add(cursor, w.start - cursor);
    for (const [off, len] of w.used) add(w.start + off, len);
    cursor = w.end;
  }
  add(cursor, TO_END - cursor);
  return { ranges, fileSystems: notes };
}
