// The difference storage of one snapshot: preallocated files in the job's
// storage directory, handed to the module as sector ranges of the block
// device underneath. Allocation happens here, before and during the
// snapshot, never on the module's I/O path: the module only ever writes into
// blocks the file system already gave us.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type SnapshotStorage } from '../../common/contract';
import { allocateFile, fiemapFlags, fileExtents, isNativeSysError } from '../../../native';
import { blockAncestry, majorMinor, nameOfDevno } from '../devices/sysfs';
import type { SectorRange } from './driver';

export interface DiffStorageOptions extends SnapshotStorage {
  /** Kernel names of the devices in the snapshot (sda1, dm-0). */
  snapshotDevices: string[];
  /** Names the files, so leftovers can be matched to their run. */
  runId: string;
  sysRoot?: string;
  /** Called with each file path before it is created (the crash record). */
  onFile?: (file: string) => Promise<void>;
}

export interface StorageChunk {
  file: string;
  /** The block device the ranges are on, e.g. /dev/sda2. */
  device: string;
  ranges: SectorRange[];
  bytes: number;
}

const MiB = 1 << 20;
/** Prefix of every storage file; cleanup after a crash looks for it. */
export const STORAGE_PREFIX = 'snapkeep-diff-';

export function storageFileName(runId: string, n: number): string {
  return `${STORAGE_PREFIX}${runId}-${n}`;
}

/** Size of each allocation: a quarter of the maximum, within 16 MiB..1 GiB, sector aligned. */
export function stepBytes(maxBytes: number): number {
  const step = Math.min(1024 * MiB, Math.max(16 * MiB, Math.floor(maxBytes / 4)));
  return Math.min(maxBytes, step) - (Math.min(maxBytes, step) % 4096);
}

export class DiffStorage {
  readonly files: string[] = [];
  private allocated = 0;
  /** Snapshots given this storage and not destroyed yet. */
  private users = 0;

  private constructor(private readonly options: DiffStorageOptions) {}

  /** Checks the directory and allocates the first part. */
  static async create(options: DiffStorageOptions): Promise<{ storage: DiffStorage; first: StorageChunk }> {
    const storage = new DiffStorage(options);
    await fs.mkdir(options.directory, { recursive: true, mode: 0o700 });
    const st = await fs.stat(options.directory);
    if (!st.isDirectory()) throw new AppError('INVALID_ARGUMENT', `snapshot storage ${options.directory} is not a directory`, { path: options.directory });
    // Refuse a bad place before a single byte is allocated there.
    await storage.deviceFor(majorMinor(st.dev));
    const first = await storage.grow(0);
    if (!first) throw new AppError('INVALID_ARGUMENT', `snapshot storage maximum is too small`, { maxBytes: options.maxBytes });
    return { storage, first };
  }

  get allocatedBytes(): number {
    return this.allocated;
  }

  /**
   * Allocates another file of at least `minBytes` (one step when smaller);
   * null when the maximum is reached.
   */
  async grow(minBytes: number): Promise<StorageChunk | null> {
    const left = this.options.maxBytes - this.allocated;
    let bytes = Math.min(left, Math.max(stepBytes(this.options.maxBytes), minBytes));
    bytes -= bytes % 4096;
    if (bytes <= 0) return null;
    const dir = this.options.directory;
    const s = await fs.statfs(dir);
    const free = s.bavail * s.bsize;
    if (free < bytes)
      throw new AppError('DISK_FULL', `not enough free space for snapshot storage in ${dir}: ${bytes} bytes needed, ${free} free`, {
        path: dir,
        neededBytes: bytes,
        freeBytes: free,
      });
    const file = path.join(dir, storageFileName(this.options.runId, this.files.length));
    await this.options.onFile?.(file);
    try {
      await allocateFile(file, bytes);
    } catch (e) {
      throw storageError(e, dir);
    }
    this.files.push(file);
    this.allocated += bytes;
    const chunk = await this.describe(file);
    return chunk;
  }

  /**
   * A snapshot is about to use the storage: until release(), remove()
   * refuses, since the module may still write copies into the files'
   * blocks (which would then belong to other files).
   */
  hold(): void {
    this.users++;
  }

  /** The snapshot holding the storage was destroyed. */
  release(): void {
    if (this.users > 0) this.users--;
  }

  /** Deletes every file this storage allocated; refused while a snapshot holds it. */
  async remove(): Promise<void> {
    if (this.users > 0)
      throw new AppError('DEVICE_BUSY', `snapshot storage kept (${this.files.join(', ')}): its snapshot was not destroyed; the next service start cleans it up`, {
        files: this.files,
      });
    await Promise.all(this.files.map((f) => fs.rm(f, { force: true })));
  }

  /** The kernel name of the storage's device, refused when it is being snapshotted. */
  private async deviceFor(devno: string): Promise<string> {
    const dir = this.options.directory;
    const sysRoot = this.options.sysRoot ?? '/sys';
    const name = devno.startsWith('0:') ? null : await nameOfDevno(sysRoot, devno);
    if (name === null)
      throw new AppError('INVALID_ARGUMENT', `snapshot storage ${dir} is not on a block device (network, btrfs or memory file system): choose a directory on ext4 or xfs`, {
        path: dir,
      });
    const ancestry = await blockAncestry(sysRoot, name);
    const clash = this.options.snapshotDevices.find((d) => ancestry.has(d));
    if (clash !== undefined && !this.options.allowOnSnapshotted)
      throw new AppError(
        'INVALID_ARGUMENT',
        `snapshot storage ${dir} is on ${name}, which is being snapshotted (${clash}): choose a directory on another disk, or allow storage on snapshotted file systems in the job`,
        { path: dir, device: name, source: clash },
      );
    return name;
  }

  private async describe(file: string): Promise<StorageChunk> {
    const dir = this.options.directory;
    let fx;
    try {
      fx = await fileExtents(file);
    } catch (e) {
      throw storageError(e, dir);
    }
    const name = await this.deviceFor(`${fx.major}:${fx.minor}`);
    const flags = fiemapFlags();
    const bad = flags.UNKNOWN | flags.DELALLOC | flags.ENCODED | flags.DATA_ENCRYPTED | flags.NOT_ALIGNED | flags.DATA_INLINE | flags.DATA_TAIL | flags.SHARED;
    const ranges: SectorRange[] = [];
    let covered = 0;
    for (const e of fx.extents) {
      if (e.flags & bad || e.physical % 512 !== 0 || e.length % 512 !== 0)
        throw new AppError('INVALID_ARGUMENT', `the file system of ${dir} cannot give fixed block addresses for snapshot storage (extent flags ${e.flags}): choose a directory on ext4 or xfs`, {
          path: dir,
          flags: e.flags,
        });
      const start = e.physical / 512;
      const count = Math.min(e.length, fx.size - e.logical) / 512;
      if (count <= 0) continue;
      const prev = ranges.at(-1);
      if (prev && prev.start + prev.count === start) prev.count += count;
      else ranges.push({ start, count });
      covered += count * 512;
    }
    if (covered < fx.size) throw new AppError('IO_ERROR', `snapshot storage file ${file} has holes after allocation`, { path: file });
    return { file, device: `/dev/${name}`, ranges, bytes: fx.size };
  }
}

function storageError(e: unknown, dir: string): AppError {
  if (!isNativeSysError(e)) return new AppError('INTERNAL', e instanceof Error ? e.message : String(e));
  switch (e.code) {
    case 'ENOSPC':
      return new AppError('DISK_FULL', `no space left for snapshot storage in ${dir}`, { path: dir, errno: e.code });
    case 'EROFS':
      return new AppError('READ_ONLY', `snapshot storage ${dir} is on a read-only file system`, { path: dir, errno: e.code });
    case 'EACCES':
    case 'EPERM':
      return new AppError('PERMISSION_DENIED', `cannot create snapshot storage in ${dir}: permission denied`, { path: dir, errno: e.code });
    case 'EOPNOTSUPP':
    case 'ENOTTY':
      return new AppError('INVALID_ARGUMENT', `the file system of ${dir} cannot preallocate or map files for snapshot storage: choose a directory on ext4 or xfs`, {
        path: dir,
        errno: e.code,
      });
    default:
      return new AppError('IO_ERROR', `snapshot storage in ${dir}: ${e.message}`, { path: dir, errno: e.code });
  }
}
