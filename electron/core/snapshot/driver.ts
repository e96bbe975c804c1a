// What the job runner needs from the kernel module, and nothing more: a
// snapshot of a set of devices taken together, its difference storage, its
// image devices, its events, and the change trackers. The module's ioctls
// (kmod/include/uapi/snapkeep.h, issue 4) sit behind this interface so the
// runner does not depend on how they are spelled.
//
// Every method fails with an AppError: MODULE_NOT_LOADED, MODULE_ABI_MISMATCH,
// PERMISSION_DENIED, DEVICE_BUSY (a device already in a snapshot),
// DEVICE_NOT_FOUND, SNAPSHOT_OVERFLOW, NOT_FOUND (unknown snapshot id).

/** A range of sectors (512 bytes) on a block device. */
export interface SectorRange {
  start: number;
  count: number;
}

export type SnapshotEvent =
  | { kind: 'low-space'; requestedSectors: number }
  | { kind: 'overflow'; device?: string; errno?: string };

/**
 * A tracker's persistent map (module ABI 1.3, docs/kernel-module.md
 * "Persistent change map"): whether the map found in its store at attach
 * was continued, and if not, why it restarted.
 */
export interface TrackerPersistence {
  /** The map found at attach was continued (same generation, number and cells). */
  continued: boolean;
  /** ... from a store left unsealed by a crash, trusted because of write intent. */
  unclean: boolean;
  /** The store failed since (I/O error, resize): the map is no longer kept. */
  failed: boolean;
  /** Continued, but writes while the module was absent could not be ruled out (contents without counters, no stamp; ABI 1.4). */
  unverified?: boolean;
  /** The module's reason for a restart at attach ('none' when continued). */
  reason: string;
  /** When the metadata found at attach was written (a seal, or the last save before a crash). */
  foundAt?: string;
}

/** A device's change tracker (see electron/core/engine/api.ts for the numbering). */
export interface TrackerInfo {
  generation: string;
  /** The mark writes after the latest take carry (1..255). */
  number: number;
  blockSize: number;
  deviceSizeBytes: number;
  /** Set when the map is kept in a store across reboots. */
  persist?: TrackerPersistence;
}

export interface SnapshotListing {
  id: string;
  devices: string[];
}

export interface SnapshotDriver {
  /** Throws the reason live snapshots cannot be taken now; resolves when they can. */
  check(): Promise<void>;
  /** A snapshot of all `devices` together (not taken yet); returns its id. */
  create(devices: string[]): Promise<string>;
  /**
   * Adds storage ranges on `device` (before or after take). With `file`
   * (the file whose extents they are), the module pins the file until the
   * snapshot is destroyed, so nothing can delete or move its blocks.
   */
  appendStorage(id: string, device: string, ranges: SectorRange[], file?: string): Promise<void>;
  /** Freezes, switches the change maps, thaws: one instant for every device. */
  take(id: string): Promise<void>;
  /** The snapshot image of one of the snapshot's devices, e.g. /dev/snapkeep-img0. */
  imagePath(id: string, device: string): Promise<string>;
  /** Next event, or null after `timeoutMs` without one. */
  waitEvent(id: string, timeoutMs: number): Promise<SnapshotEvent | null>;
  destroy(id: string): Promise<void>;
  list(): Promise<SnapshotListing[]>;
  trackerInfo(device: string): Promise<TrackerInfo>;
  /** The change map frozen at the latest take, one byte per tracker block. */
  readChangeMap(device: string): Promise<Uint8Array>;
}
