// Typed bindings of the kernel module's control device (/dev/snapkeep),
// one function per ioctl of kmod/include/uapi/snapkeep.h. The semantics
// (tracker numbering, snapshot life cycle, events) are described in
// docs/kernel-module.md.
//
// Errors are NativeSysErrors whose `code` is the errno name:
//   ENOENT   module not loaded (syscall "open"), unknown snapshot id or
//            untracked device (syscall "ioctl")
//   EBUSY    device already in a snapshot / still in one (detach)
//   EEXIST   device already tracked (attach)
//   ENOTBLK  the path is not a block device
//   EINVAL   malformed id, bad ranges (empty, unaligned, out of the device)
//   EALREADY snapshot taken before
//   E2BIG    too many ranges or devices in one call
//   EACCES   not root
// Every call but moduleVersion()/headerAbi() runs off the JS thread and
// returns a Promise.
import { readFileSync } from 'node:fs';

import { loadAddon } from './addon';

/** The ABI version the kernel module reports through its control device. */
export interface ModuleVersion {
  abiMajor: number;
  abiMinor: number;
  moduleVersion: string;
}

/** A block device by number. */
export interface DevNumber {
  major: number;
  minor: number;
}

/** Sectors (512 bytes) of a device, counted from its own start. */
export interface SectorRange {
  start: number;
  count: number;
}

/** A device's change tracker. */
export interface TrackerInfo {
  dev: DevNumber;
  /** UUID of the map's generation; maps of different generations cannot be compared. */
  generation: string;
  /**
   * The mark writes carry now: incremented by every take, so after a take
   * it is that snapshot's number. 0 until the first take (1..255 after).
   */
  number: number;
  /** Bytes per tracking block (power of two). */
  blockSize: number;
  /** Tracking blocks, i.e. bytes of the map. */
  blockCount: number;
  /** Device size in bytes when the map was sized. */
  deviceSize: number;
  /** The snapshot the device is in, or null. */
  snapshot: string | null;
}

/** Why a persistent map restarted at attach (SNAPKEEP_PERSIST_REASON_*). */
/** 'absent' (ABI 1.4): the device was written after the seal while the module was not loaded. */
export type PersistReason = 'none' | 'new' | 'corrupt' | 'identity' | 'size' | 'unclean' | 'version' | 'geometry' | 'absent' | 'unknown';
const PERSIST_REASONS: PersistReason[] = ['none', 'new', 'corrupt', 'identity', 'size', 'unclean', 'version', 'geometry', 'absent'];

/** The persistent store of a tracker's map (ABI 1.3), from trackerInfo2(). */
export interface PersistInfo {
  /** The tracker has a store. */
  attached: boolean;
  /** The map found in the store was continued (same generation, number, cells). */
  continued: boolean;
  /** ... from a store that was not sealed but covered by write intent (a crash). */
  unclean: boolean;
  /** Writes wait until their cells are durable in the store. */
  intent: boolean;
  /** Store I/O failed (or the device was resized): the map is no longer kept. */
  failed: boolean;
  /**
   * Continued, but whoever attached could not check the device for writes
   * made while the module was absent (contents without counters to compare,
   * or a store without a stamp page; ABI 1.4). trackerInfo2() always sets
   * it; optional so that PersistInfo values made before 1.4 still type.
   */
  unverified?: boolean;
  /**
   * The store's newest metadata is a seal written in place (ABI 1.6: the
   * shutdown seal of a map whose device a checkpoint holds) and no write
   * has unsealed it since. Optional as `unverified`.
   */
  sealed?: boolean;
  /** Why the map restarted at attach ('none' when continued). */
  reason: PersistReason;
  /** Sequence and time (s since the epoch) of the metadata found at attach; 0 when none. */
  foundSequence: number;
  foundTime: number;
  /** Sequence of the metadata written last. */
  sequence: number;
}

export interface TrackerInfo2 extends TrackerInfo {
  persist: PersistInfo;
}

/** Where a persistent map lives: a preallocated, written file, or raw ranges of a device. */
export interface PersistentStore {
  /** The store file (its extents in `ranges`, in file order); pinned while attached. */
  file?: string;
  /** Or: the block device the raw `ranges` are on. */
  device?: string;
  /** Sectors of the store's device, in store order, 4096-byte aligned. */
  ranges: SectorRange[];
  /** Who the device is (a WWN, serial, partition UUID), at most 64 bytes. */
  identity: string | Buffer;
  /** Do not hold writes for the store: only a clean detach (seal) counts. */
  noIntent?: boolean;
  /**
   * The caller found the device written since the seal while the module was
   * absent: a map that would continue restarts, reason 'absent' (ABI 1.4).
   */
  restart?: boolean;
  /** The caller could not check for such writes: a continued map is flagged unverified (ABI 1.4). */
  unchecked?: boolean;
}

export type KmodEvent =
  | { kind: 'low-space'; code: number; timeNs: number; requestedSectors: number }
  | {
      kind: 'overflow';
      code: number;
      timeNs: number;
      dev: DevNumber;
      /** /dev/<name> of `dev` when it still exists. */
      device: string | null;
      /** Positive errno and its name: ENOSPC (storage exhausted), EIO, ENOMEM. */
      error: number;
      errno: string;
    }
  | { kind: 'unknown'; code: number; timeNs: number };

export interface SnapshotDeviceInfo {
  dev: DevNumber;
  /** /dev/<name> of `dev` when it still exists. */
  device: string | null;
  /** The image device, null before the take. */
  image: DevNumber | null;
  /** e.g. "snapkeep-img0", null before the take. */
  imageName: string | null;
  /** "/dev/snapkeep-img0", null before the take. */
  imagePath: string | null;
  /** Bytes copied at a time (0 before the take). */
  chunkSize: number;
  chunksCopied: number;
}

export interface SnapshotInfo {
  id: string;
  taken: boolean;
  /** Overflowed or failed: images answer EIO. */
  corrupted: boolean;
  /** Why it is corrupted (ENOSPC, EIO, ...), else null. */
  errno: string | null;
  storageSectors: number;
  storageUsedSectors: number;
  devices: SnapshotDeviceInfo[];
}

interface RawSnapshotInfo extends Omit<SnapshotInfo, 'devices'> {
  devices: Array<Omit<SnapshotDeviceInfo, 'device' | 'imagePath'>>;
}

type RawEvent =
  | { kind: 'low-space'; code: number; timeNs: number; requestedSectors: number }
  | { kind: 'overflow'; code: number; timeNs: number; dev: DevNumber; error: number; errno: string }
  | { kind: 'unknown'; code: number; timeNs: number };

/** A device of a checkpoint, as ckptCreate() takes it. */
export interface CheckpointDevice {
  device: string;
  /** Who the device is (a WWN or serial, a partition UUID): 1..64 bytes. */
  identity: string;
}

/** A checkpoint's store: a written, immutable file, or raw ranges of a device. */
export type CheckpointStore =
  | { file: string; ranges: SectorRange[] }
  | { device: string; ranges: SectorRange[] };

export const CHECKPOINT_STATES = { 1: 'active', 4: 'invalid' } as const;
export const CHECKPOINT_REASONS = ['none', 'full', 'io'] as const;

/** A checkpoint attached in the module (ABI 1.5). */
export interface CheckpointInfo {
  id: string;
  name: string;
  /** Invalid: the store filled up or failed; writes go on unsaved, a rollback is refused. */
  state: 'active' | 'invalid' | 'unknown';
  reason: (typeof CHECKPOINT_REASONS)[number] | 'unknown';
  /** Re-attached from its store (at boot). */
  resumed: boolean;
  chunkSize: number;
  /** Seconds since the epoch. */
  created: number;
  storePages: number;
  usedPages: number;
  /** Chunks saved. */
  entries: number;
  records: number;
  sequence: number;
  devs: DevNumber[];
}

interface RawCheckpointInfo extends Omit<CheckpointInfo, 'state' | 'reason' | 'resumed'> {
  state: number;
  reason: number;
  flags: number;
}

interface KmodAddon {
  moduleVersion(): ModuleVersion;
  headerAbi: { major: number; minor: number };
  kmod: {
    attach(device: string): Promise<void>;
    detach(device: string): Promise<void>;
    trackerInfo(device: string): Promise<TrackerInfo>;
    readMap(device: string, offset?: number, length?: number): Promise<Buffer>;
    markDirty(device: string, ranges: SectorRange[]): Promise<void>;
    listTrackers(): Promise<DevNumber[]>;
    attachPersistent(device: string, store: { file?: string; device?: string; ranges: SectorRange[]; identity: string | Buffer; flags: number }): Promise<void>;
    trackerInfo2(device: string): Promise<TrackerInfo & { persist: { flags: number; reason: number; foundSequence: number; foundTime: number; sequence: number } }>;
    create(devices: string[]): Promise<string>;
    destroy(id: string): Promise<void>;
    appendStorage(id: string, device: string, ranges: SectorRange[]): Promise<void>;
    appendStorageFile(id: string, file: string, ranges: SectorRange[]): Promise<void>;
    take(id: string): Promise<void>;
    waitEvent(id: string, timeoutMs: number): Promise<RawEvent | null>;
    listSnapshots(): Promise<string[]>;
    snapshotInfo(id: string): Promise<RawSnapshotInfo>;
    ckptCreate(devices: CheckpointDevice[], store: { file?: string; device?: string; ranges: SectorRange[] }, name: string, resume: boolean): Promise<string>;
    ckptCommit(id: string): Promise<void>;
    ckptAbandon(id: string): Promise<void>;
    ckptInfo(id: string): Promise<RawCheckpointInfo>;
    ckptList(): Promise<string[]>;
  };
}

const addon = () => loadAddon<KmodAddon>();

/** ABI version of the loaded kernel module; throws code ENOENT when not loaded. */
export function moduleVersion(): ModuleVersion {
  return addon().moduleVersion();
}

/** The ABI version this addon was compiled against (the uapi header). */
export function headerAbi(): { major: number; minor: number } {
  return { ...addon().headerAbi };
}

/**
 * /dev/<name> of a block device number, from /sys/dev/block/M:m/uevent;
 * null when there is no such device (any more).
 */
export function devicePath(dev: DevNumber, sysRoot = '/sys'): string | null {
  try {
    const uevent = readFileSync(`${sysRoot}/dev/block/${dev.major}:${dev.minor}/uevent`, 'utf8');
    const name = /^DEVNAME=(.+)$/m.exec(uevent)?.[1];
    return name ? `/dev/${name}` : null;
  } catch {
    return null;
  }
}

function checkDevice(device: string): string {
  if (typeof device !== 'string' || !device.startsWith('/')) throw new TypeError('device must be an absolute path');
  return device;
}

function checkRanges(ranges: SectorRange[]): SectorRange[] {
  if (!Array.isArray(ranges)) throw new TypeError('ranges must be an array');
  for (const r of ranges)
    if (!Number.isSafeInteger(r.start) || r.start < 0 || !Number.isSafeInteger(r.count) || r.count < 0)
      throw new TypeError('range start and count must be non-negative integers');
  return ranges.map((r) => ({ start: r.start, count: r.count }));
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkId(id: string): string {
  if (typeof id !== 'string' || !UUID_RE.test(id)) throw new TypeError(`malformed snapshot id '${String(id)}'`);
  return id.toLowerCase();
}

/**
 * The kernel module's snapshots and change trackers. Devices are given as
 * block device paths (/dev/vda1, /dev/mapper/x); the module sees their
 * numbers.
 */
export const kmod = {
  /** Starts tracking changes of a device (EEXIST when tracked already). */
  attach(device: string): Promise<void> {
    return addon().kmod.attach(checkDevice(device));
  },

  /**
   * Starts tracking a device with its map kept in a store (ABI 1.3): the
   * map found there is continued when it is provably exact, else restarted
   * (trackerInfo2().persist says which and why). ENOSPC when the store is
   * too small, ETXTBSY when the file is pinned already, ELOOP when the
   * store is stacked on a tracked device.
   */
  attachPersistent(device: string, store: PersistentStore): Promise<void> {
    const hasFile = typeof store?.file === 'string';
    const path = hasFile ? store.file : store?.device;
    if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) throw new TypeError('store.file or store.device must be an absolute path');
    const identity = store.identity;
    if (!(typeof identity === 'string' || Buffer.isBuffer(identity))) throw new TypeError('store.identity must be a string or a Buffer');
    if (Buffer.byteLength(identity) > 64) throw new RangeError('store.identity is longer than 64 bytes');
    return addon().kmod.attachPersistent(checkDevice(device), {
      ...(hasFile ? { file: path } : { device: path }),
      ranges: checkRanges(store.ranges),
      identity,
      flags: (store.noIntent ? 1 : 0) | (store.restart ? 2 : 0) | (store.unchecked ? 4 : 0),
    });
  },

  /** Tracker of a device with the state of its persistent store (ABI 1.3). */
  async trackerInfo2(device: string): Promise<TrackerInfo2> {
    const raw = await addon().kmod.trackerInfo2(checkDevice(device));
    const f = raw.persist.flags;
    return {
      ...raw,
      persist: {
        attached: (f & 1) !== 0,
        continued: (f & 2) !== 0,
        unclean: (f & 4) !== 0,
        intent: (f & 8) !== 0,
        failed: (f & 16) !== 0,
        unverified: (f & 32) !== 0,
        sealed: (f & 64) !== 0,
        reason: PERSIST_REASONS[raw.persist.reason] ?? 'unknown',
        foundSequence: raw.persist.foundSequence,
        foundTime: raw.persist.foundTime,
        sequence: raw.persist.sequence,
      },
    };
  },

  /** Stops tracking and forgets the map (EBUSY while in a snapshot, ENOENT when not tracked). */
  detach(device: string): Promise<void> {
    return addon().kmod.detach(checkDevice(device));
  },

  /** Tracker of a device (ENOENT when not tracked). */
  trackerInfo(device: string): Promise<TrackerInfo> {
    return addon().kmod.trackerInfo(checkDevice(device));
  },

  /**
   * The change map frozen at the latest take: one byte per tracking block,
   * from block `offset`, `length` bytes (default: to the end). Blocks
   * changed since snapshot P are the cells >= P's number.
   */
  readCbtMap(device: string, offset = 0, length?: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TypeError('offset must be a non-negative integer');
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw new TypeError('length must be a non-negative integer');
    return addon().kmod.readMap(checkDevice(device), offset, length);
  },

  /** Marks sector ranges changed in both maps (current and next backup read them). */
  markDirty(device: string, ranges: SectorRange[]): Promise<void> {
    return addon().kmod.markDirty(checkDevice(device), checkRanges(ranges));
  },

  /** Tracked devices. */
  async listTrackers(): Promise<Array<DevNumber & { device: string | null }>> {
    const devs = await addon().kmod.listTrackers();
    return devs.map((d) => ({ ...d, device: devicePath(d) }));
  },

  /**
   * A snapshot of `devices` together (not taken yet); attaches trackers
   * where needed. EBUSY when a device is in another snapshot.
   */
  create(devices: string[]): Promise<string> {
    if (!Array.isArray(devices) || devices.length === 0) throw new TypeError('devices must be a non-empty array');
    return addon().kmod.create(devices.map(checkDevice));
  },

  /** Adds difference storage: sector ranges of `device` (before or after the take). */
  appendStorage(id: string, device: string, ranges: SectorRange[]): Promise<void> {
    return addon().kmod.appendStorage(checkId(id), checkDevice(device), checkRanges(ranges));
  },

  /**
   * Adds difference storage given as a file: its extents (`ranges`,
   * sectors of the device its file system is on, from FIEMAP), and the
   * module pins the file until the snapshot is destroyed: deleting it
   * fails with EPERM, truncating, writing or moving its blocks with
   * ETXTBSY (ABI 1.2; ETXTBSY too when another snapshot pins it).
   */
  appendStorageFile(id: string, file: string, ranges: SectorRange[]): Promise<void> {
    if (typeof file !== 'string' || !file.startsWith('/') || file.includes('\0')) throw new TypeError('file must be an absolute path');
    return addon().kmod.appendStorageFile(checkId(id), file, checkRanges(ranges));
  },

  /** Freezes, switches the maps, thaws, creates the images (EALREADY when taken). */
  take(id: string): Promise<void> {
    return addon().kmod.take(checkId(id));
  },

  /** Removes the images and the storage; trackers keep tracking. */
  destroy(id: string): Promise<void> {
    return addon().kmod.destroy(checkId(id));
  },

  /** Ids of existing snapshots. */
  list(): Promise<string[]> {
    return addon().kmod.listSnapshots();
  },

  /** State, storage use and devices of a snapshot. */
  async info(id: string): Promise<SnapshotInfo> {
    const raw = await addon().kmod.snapshotInfo(checkId(id));
    return {
      ...raw,
      devices: raw.devices.map((d) => ({ ...d, device: devicePath(d.dev), imagePath: d.imageName ? `/dev/${d.imageName}` : null })),
    };
  },

  /** Name of the image of `device` in a taken snapshot, e.g. "snapkeep-img0". */
  async imageName(id: string, device: string): Promise<string> {
    const [info, dev] = await Promise.all([kmod.info(id), kmod.trackerInfo(device)]);
    const entry = info.devices.find((d) => d.dev.major === dev.dev.major && d.dev.minor === dev.dev.minor);
    if (!entry) throw sysError('ENODEV', `${device} is not in snapshot ${id}`);
    if (!entry.imageName) throw sysError('ENXIO', `snapshot ${id} is not taken yet`);
    return entry.imageName;
  },

  /** Path of that image, e.g. "/dev/snapkeep-img0". */
  async imagePath(id: string, device: string): Promise<string> {
    return `/dev/${await kmod.imageName(id, device)}`;
  },

  /**
   * The next event of a snapshot, or null when none came within
   * `timeoutMs` (waits on a worker thread). Rejects with ENOENT once the
   * snapshot is destroyed, EINTR when a signal interrupted the wait.
   */
  async waitEvent(id: string, timeoutMs: number): Promise<KmodEvent | null> {
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0xffffffff) throw new TypeError('timeoutMs must be an integer in 0..2^32-1');
    const ev = await addon().kmod.waitEvent(checkId(id), timeoutMs);
    if (ev?.kind === 'overflow') return { ...ev, device: devicePath(ev.dev) };
    return ev;
  },

  /**
   * A checkpoint of the devices, taken at one instant (ABI 1.5): from now
   * on the first write to each chunk waits until the chunk's old data is
   * durable in the store; `snapkeep-boot rollback` writes it back. With
   * `resume`, the active checkpoint found in the store is re-attached
   * instead (EXDEV: other devices, ESTALE: not active, EUCLEAN: the log
   * does not check). EBUSY when a device is in a checkpoint already,
   * ENOSPC for a store under 8 pages, ELOOP for a store stacked on a
   * device of the checkpoint. Resolves to the checkpoint's id.
   */
  checkpointCreate(devices: CheckpointDevice[], store: CheckpointStore, name: string, opts: { resume?: boolean } = {}): Promise<string> {
    if (!Array.isArray(devices) || devices.length < 1 || devices.length > 16) throw new RangeError('a checkpoint has 1..16 devices');
    const devs = devices.map((d) => {
      if (typeof d?.identity !== 'string' || !d.identity || Buffer.byteLength(d.identity) > 64 || d.identity.includes('\0'))
        throw new RangeError('identity must be 1..64 bytes without NUL');
      return { device: checkDevice(d.device), identity: d.identity };
    });
    const hasFile = 'file' in store && typeof store.file === 'string';
    const path = hasFile ? (store as { file: string }).file : (store as { device: string }).device;
    if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) throw new TypeError('store.file or store.device must be an absolute path');
    const resume = opts.resume === true;
    if (!resume && (typeof name !== 'string' || !name || Buffer.byteLength(name) > 64 || name.includes('\0')))
      throw new RangeError('name must be 1..64 bytes without NUL');
    return addon().kmod.ckptCreate(devs, { ...(hasFile ? { file: path } : { device: path }), ranges: checkRanges(store.ranges) }, resume ? '' : name, resume);
  },

  /** Keeps the new data: the store says committed, writes stop waiting, the store file is unpinned. */
  checkpointCommit(id: string): Promise<void> {
    return addon().kmod.ckptCommit(checkId(id));
  },

  /** As checkpointCommit(), recorded as abandoned. */
  checkpointAbandon(id: string): Promise<void> {
    return addon().kmod.ckptAbandon(checkId(id));
  },

  /** A checkpoint attached in the module (ENOENT when not). */
  checkpointInfo(id: string): Promise<CheckpointInfo> {
    return addon().kmod.ckptInfo(checkId(id)).then((raw) => {
      const { flags, ...rest } = raw;
      return {
        ...rest,
        state: CHECKPOINT_STATES[raw.state as keyof typeof CHECKPOINT_STATES] ?? 'unknown',
        reason: CHECKPOINT_REASONS[raw.reason] ?? 'unknown',
        resumed: (flags & 1) !== 0,
      };
    });
  },

  /** Ids of the checkpoints attached. */
  listCheckpoints(): Promise<string[]> {
    return addon().kmod.ckptList();
  },
};

export type Kmod = typeof kmod;

function sysError(code: string, message: string): Error & { code: string; errno: number } {
  const err = new Error(message) as Error & { code: string; errno: number };
  err.code = code;
  err.errno = 0;
  return err;
}
