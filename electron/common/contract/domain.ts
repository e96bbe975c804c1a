// Domain objects shared by renderer, main, helper and core. One zod schema
// per object: the TypeScript type is inferred from it, and the same schema
// validates it wherever it crosses a process edge.
import { z } from 'zod';

import { ErrorInfo } from './errors';
import { RepositoryRole } from './append-only';
import { HostKeyFingerprint, RepoLocation } from './location';
import { RunProblem, RunResult } from './results';

/** Absolute path without NUL or "..": the only form paths cross edges in. */
export const AbsPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/') && !p.includes('\0') && !p.split('/').includes('..'), {
    message: 'must be an absolute path without ".."',
  });

/** A block device node, e.g. /dev/sda1, /dev/nvme0n1p2, /dev/mapper/vg-root. */
export const DevicePath = AbsPath.refine((p) => p.startsWith('/dev/'), {
  message: 'must be a device under /dev',
});

export const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, - or _');
export const IsoTime = z.iso.datetime({ offset: true });

export const SnapshotSupport = z.object({
  possible: z.boolean(),
  /** Why not, in words (module not loaded, btrfs, read-only, ...). */
  reason: z.string().optional(),
});

export const Device = z.object({
  name: z.string(), // kernel name: sda1
  path: DevicePath, // /dev/sda1
  kind: z.enum(['disk', 'partition', 'loop', 'dm', 'md', 'other']),
  parent: z.string().optional(), // sda for sda1
  sizeBytes: z.number().int().nonnegative(),
  logicalBlockSize: z.number().int().positive(),
  model: z.string().optional(),
  serial: z.string().optional(),
  removable: z.boolean(),
  readOnly: z.boolean(),
  fsType: z.string().optional(),
  fsUuid: z.string().optional(),
  fsLabel: z.string().optional(),
  partTableType: z.enum(['gpt', 'dos']).optional(),
  mountpoints: z.array(z.string()),
  /** Used bytes of the mounted file system, when mounted. */
  fsUsedBytes: z.number().int().nonnegative().optional(),
  snapshot: SnapshotSupport,
});
export type Device = z.infer<typeof Device>;

export const ModuleStatus = z.object({
  loaded: z.boolean(),
  abiMajor: z.number().int().optional(),
  abiMinor: z.number().int().optional(),
  moduleVersion: z.string().optional(),
  runningKernel: z.string(),
  /** Kernels for which a built module is installed (DKMS). */
  builtFor: z.array(z.string()),
  /** Newest installed kernel without a built module: reboot would lose it. */
  missingForKernels: z.array(z.string()),
  secureBoot: z.enum(['enabled', 'disabled', 'unknown']),
  problem: z.string().optional(),
});
export type ModuleStatus = z.infer<typeof ModuleStatus>;

/** A format-3 public key's fingerprint as pins keep it: 16 bytes of SHA-256, hex (electron/core/engine/config-pin.ts). */
export const PublicKeyFingerprint = z.string().regex(/^[0-9a-f]{32}$/, 'must be a public key fingerprint (32 hex digits)');

export const Repository = z.object({
  id: Id,
  name: z.string().min(1).max(200),
  /** An absolute path, sftp://user@host[:port]/path, or s3[+http]://host[:port]/bucket[/prefix]. */
  path: RepoLocation,
  /** Remote repositories: the server's host key pinned on this computer (show it; a change is refused). */
  hostKey: HostKeyFingerprint.optional(),
  encrypted: z.boolean(),
  /** Whether the helper holds the key now (encrypted repositories); always true for unencrypted ones. */
  unlocked: z.boolean(),
  /**
   * Whether a passphrase is stored on this computer for unattended runs;
   * always false for unencrypted ones. True and not unlocked: the stored
   * passphrase no longer opens the repository (or its file is unusable).
   */
  remembered: z.boolean(),
  /** Whether the path is reachable right now (USB disk plugged in ...). */
  online: z.boolean(),
  formatVersion: z.number().int().optional(),
  /**
   * Format 3 (append-only), once opened here: the key this computer holds.
   * 'client' adds backups only; restores and clean-ups need the owner's
   * passphrase and login given for the operation (OwnerAccess).
   */
  role: RepositoryRole.optional(),
  /**
   * Format 3 (append-only): the fingerprint of the repository's public key
   * pinned on this computer when it was added (the user compares it
   * with the one the owner's `snapkeep info` or `key rotate` printed; a
   * config with another key is refused: REPO_CONFIG_CHANGED, reason
   * public-key-changed).
   */
  publicKey: PublicKeyFingerprint.optional(),
  chunkSize: z.number().int().positive().optional(),
  /** The repository's algorithms (docs/repository-format.md, "Algorithms"): chunk ids and encryption ("none" or the AEAD). */
  algorithms: z.object({ chunkId: z.string().max(64), encryption: z.string().max(64) }).optional(),
  storedBytes: z.number().int().nonnegative().optional(),
  freeBytes: z.number().int().nonnegative().optional(),
});
export type Repository = z.infer<typeof Repository>;

/** What repos.rotateKeyPair did (electron/core/engine/key-rotate.ts KeyRotation, without the pin). */
export const KeyRotationResult = z.object({
  /** The repository as this computer now holds it: its pin names the new public key. */
  repository: Repository,
  /** The new public key's fingerprint: what the other computers compare when they add it again. */
  publicKey: PublicKeyFingerprint,
  previousPublicKey: PublicKeyFingerprint,
  /** Secret keys kept as retired (each opens the points sealed before it). */
  retiredKeys: z.number().int().nonnegative(),
  /** A rotation cut earlier was finished with the pair it had written. */
  finished: z.boolean(),
  /** The backup passphrase given was not the one in use: the other computers need it too. */
  clientPassphraseChanged: z.boolean(),
  ownerPassphraseChanged: z.boolean(),
});
export type KeyRotationResult = z.infer<typeof KeyRotationResult>;

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');

export const Schedule = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('manual') }),
  z.object({ kind: z.literal('hourly'), minute: z.number().int().min(0).max(59) }),
  z.object({ kind: z.literal('daily'), at: HHMM }),
  z.object({ kind: z.literal('weekly'), day: z.number().int().min(0).max(6), at: HHMM }),
  z.object({ kind: z.literal('cron'), expression: z.string().min(9).max(200) }),
]);
export type Schedule = z.infer<typeof Schedule>;

export const Retention = z.object({
  keepLast: z.number().int().min(1).max(10000),
  keepDaily: z.number().int().min(0).max(10000),
  keepWeekly: z.number().int().min(0).max(10000),
  keepMonthly: z.number().int().min(0).max(10000),
});
export type Retention = z.infer<typeof Retention>;

export const SnapshotStorage = z.object({
  /** Directory where difference-storage files are allocated. */
  directory: AbsPath,
  maxBytes: z.number().int().positive(),
  /** Allow the directory to live on a file system being snapshotted. */
  allowOnSnapshotted: z.boolean(),
});
export type SnapshotStorage = z.infer<typeof SnapshotStorage>;

/**
 * Automatic verification after backups: after every N-th successful run,
 * or after the first successful run a week after the last check. What it
 * reads: the structure only (fast), also every chunk of the point just
 * made (its data, read back and hash-checked), or every chunk of the
 * repository.
 */
export const VerifyPolicy = z.object({
  every: z.discriminatedUnion('kind', [z.object({ kind: z.literal('runs'), runs: z.number().int().min(1).max(1000) }), z.object({ kind: z.literal('weekly') })]),
  data: z.enum(['structure', 'newest', 'all']),
});
export type VerifyPolicy = z.infer<typeof VerifyPolicy>;

export const JobInput = z.object({
  name: z.string().min(1).max(200),
  /** Block devices (live, through snapshots) or image files. */
  sources: z.array(AbsPath).min(1).max(32),
  repositoryId: Id,
  schedule: Schedule,
  retention: Retention,
  compressionLevel: z.number().int().min(1).max(19),
  snapshotStorage: SnapshotStorage.optional(),
  /** Root-owned executable files only; run without a shell. */
  preScript: AbsPath.optional(),
  postScript: AbsPath.optional(),
  enabled: z.boolean(),
  /** Check the repository automatically after backups (absent: only by hand). */
  verify: VerifyPolicy.optional(),
  /** Back up when the repository becomes reachable (its USB disk plugged in), besides the schedule. */
  runOnConnect: z.boolean().optional(),
  /**
   * Full backups read every sector. Absent or false: they read only the
   * blocks ext2/3/4 file systems use, and free blocks restore as zeros.
   */
  readAllSectors: z.boolean().optional(),
});
export type JobInput = z.infer<typeof JobInput>;

export const Job = JobInput.extend({
  id: Id,
  createdAt: IsoTime,
  /** Who created or last saved the job: its image-file sources are read with this user's file access. */
  ownerUid: z.number().int().nonnegative().optional(),
  lastRun: z
    .object({
      at: IsoTime,
      status: z.enum(['succeeded', 'failed', 'cancelled']),
      /** The level (results.ts): succeeded, with warnings, failed, cancelled. */
      result: RunResult.optional(),
      /** Why it failed, or the first problem of a run that succeeded with warnings. */
      error: ErrorInfo.optional(),
      /** What did not work in a run that succeeded with warnings (results.ts). */
      warnings: z.array(z.string()).optional(),
      problems: z.array(RunProblem).optional(),
    })
    .optional(),
  nextRun: IsoTime.optional(),
  running: z.boolean(),
});
export type Job = z.infer<typeof Job>;

export const PartitionInfo = z.object({
  number: z.number().int().positive(),
  startBytes: z.number().int().nonnegative(),
  sizeBytes: z.number().int().nonnegative(),
  type: z.string().optional(),
  fsType: z.string().optional(),
  fsUuid: z.string().optional(),
  fsLabel: z.string().optional(),
});

/** How a full backup read one file system of a device: its used blocks only, or (reason) all of it. */
export const UsedBlocksNote = z.object({
  /** 1-based partition; absent when the device is one file system. */
  partition: z.number().int().positive().optional(),
  fsType: z.string().optional(),
  /** Bytes the file system uses (its bitmaps were read and only those blocks were). */
  usedBytes: z.number().int().nonnegative().optional(),
  /** Why it was read whole (unknown, damaged, not ext2/3/4, ...). */
  reason: z.string().optional(),
});
export type UsedBlocksNote = z.infer<typeof UsedBlocksNote>;

export const PointDevice = z.object({
  /** Source as given in the job: device path or image file. */
  source: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  fsType: z.string().optional(),
  fsUuid: z.string().optional(),
  fsLabel: z.string().optional(),
  partTableType: z.enum(['gpt', 'dos']).optional(),
  partitions: z.array(PartitionInfo),
  /** Bytes this point read from the source (changed blocks only if incremental). */
  readBytes: z.number().int().nonnegative(),
  /** Bytes of new chunk data this point added to the repository. */
  addedBytes: z.number().int().nonnegative(),
  /** changed: only the blocks the change tracker recorded since the parent; full: every block (or every used one: unusedBytes). */
  readMode: z.enum(['changed', 'full']).optional(),
  /** Full backup: bytes not read because no file system uses them (they restore as zeros). */
  unusedBytes: z.number().int().nonnegative().optional(),
  /** Full backup: per file system, used blocks only or why it was read whole. */
  usedBlocks: z.array(UsedBlocksNote).optional(),
});
export type PointDevice = z.infer<typeof PointDevice>;

export const RestorePoint = z.object({
  id: Id,
  repositoryId: Id,
  jobId: Id.optional(),
  jobName: z.string().optional(),
  createdAt: IsoTime,
  kind: z.enum(['full', 'incremental']),
  parentId: Id.optional(),
  devices: z.array(PointDevice),
  totalBytes: z.number().int().nonnegative(),
  addedBytes: z.number().int().nonnegative(),
  verified: z
    .object({ at: IsoTime, ok: z.boolean(), data: z.boolean() })
    .optional(),
  /** Kept by retention whatever its rules say (this computer's decision). */
  pinned: z.boolean().optional(),
  /** What the user wrote about it. */
  note: z.string().max(500).optional(),
});
export type RestorePoint = z.infer<typeof RestorePoint>;

export const TaskKind = z.enum(['backup', 'restore', 'verify', 'prune', 'mount', 'copy-files', 'search-points', 'compare-points', 'tracking', 'checkpoint']);
export type TaskKind = z.infer<typeof TaskKind>;

export const Progress = z.object({
  phase: z.string(), // "snapshot", "reading", "restoring", "verifying", ...
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative(),
  bytesPerSecond: z.number().nonnegative(),
  /** Seconds left, absent while unknown. */
  etaSeconds: z.number().nonnegative().optional(),
  message: z.string().optional(),
  /** A backup to a remote repository: what its uploads do beside the reading. */
  upload: z
    .object({
      bytesSent: z.number().nonnegative(),
      bytesPerSecond: z.number().nonnegative(),
      /** Sealed packs (16 MiB each) waiting here or being sent. */
      packsQueued: z.number().int().nonnegative(),
    })
    .optional(),
});
export type Progress = z.infer<typeof Progress>;
export type UploadProgress = NonNullable<Progress['upload']>;

export const TaskState = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);

export const Task = z.object({
  id: Id,
  kind: TaskKind,
  title: z.string(),
  jobId: Id.optional(),
  repositoryId: Id.optional(),
  state: TaskState,
  startedAt: IsoTime,
  finishedAt: IsoTime.optional(),
  progress: Progress,
  error: ErrorInfo.optional(),
  /** Warnings that did not fail the task (e.g. low difference storage). */
  warnings: z.array(z.string()),
  /** The warnings that have an error behind them, by step, for words (results.ts). */
  problems: z.array(RunProblem).optional(),
  /** What the task produced: restore point id, verify report, ... */
  result: z.record(z.string(), z.unknown()).optional(),
});
export type Task = z.infer<typeof Task>;

/**
 * Why a backup read a source in full rather than only its changes:
 * first-backup (nothing to build on yet), tracker-restarted (the change
 * tracker started a new generation since the last backup: a reboot, a
 * module reload, a resize), not-tracked (a file or an unmounted device read
 * directly: every run reads it all), parent-missing (changes were recorded,
 * but the point they were counted from is gone or no longer matches).
 */
export const FullReadReason = z.enum(['first-backup', 'tracker-restarted', 'not-tracked', 'parent-missing']);
export type FullReadReason = z.infer<typeof FullReadReason>;

/**
 * Why a device's change tracker has another generation than at the last
 * backup, as far as the module can tell (its persistent map's attach
 * reason, docs/kernel-module.md "Attach: continue or restart"):
 * not-persistent (its map lived in RAM only: a restart or module reload
 * lost it), new-store (tracking across reboots was just set up), unclean
 * (not shut down cleanly and the map had no write-intent cover), corrupt
 * (the saved map was damaged), device-changed (another disk, or resized),
 * settings-changed (the module's tracking settings or map format changed),
 * absent (written while the module was not loaded, e.g. another system
 * booted), store-failed (the map's store could not be written), earlier
 * (the map was continued at this boot, so it started over at an earlier
 * boot or after 255 backups), unknown.
 */
export const TrackerRestartCause = z.enum([
  'not-persistent',
  'new-store',
  'unclean',
  'corrupt',
  'device-changed',
  'settings-changed',
  'absent',
  'store-failed',
  'earlier',
  'unknown',
]);
export type TrackerRestartCause = z.infer<typeof TrackerRestartCause>;

export const TrackerRestart = z.object({
  cause: TrackerRestartCause,
  /** When the map was last known good (the seal, or its last save before a crash). */
  since: IsoTime.optional(),
});
export type TrackerRestart = z.infer<typeof TrackerRestart>;

/**
 * A device the module tracks, or that is set up to be tracked from boot
 * (docs/kernel-module.md, "Persistent change map"): where its change map
 * lives, and whether the map goes back to an earlier boot or started over.
 */
export const TrackedDevice = z.object({
  /** /dev/<kernel name>. */
  device: z.string(),
  name: z.string(),
  /** How the boot config names it (a /dev/disk/by-* link), when it is kept across reboots. */
  configuredAs: z.string().optional(),
  /** The module tracks it now. */
  tracked: z.boolean(),
  /**
   * ram: lost at every reboot; across-reboots: in a store, sealed at
   * shutdown; store-failed: the store could not be written, kept in RAM
   * only until the next attach; not-attached: configured, but not tracked now.
   */
  kept: z.enum(['ram', 'across-reboots', 'store-failed', 'not-attached']),
  generation: z.string().optional(),
  number: z.number().int().optional(),
  sizeBytes: z.number().int().nonnegative().optional(),
  /** This boot continued the map from a clean shutdown (seal) or, under write intent, a crash. */
  continuedFrom: z.enum(['seal', 'crash']).optional(),
  /** When the continued map was last saved before this boot. */
  lastSaved: IsoTime.optional(),
  /**
   * Continued, but writes made while the module was not loaded could not be
   * ruled out (contents the boot tool has no counters for, or no stamp).
   */
  unverified: z.boolean().optional(),
  /** This boot's attach started the map over: why. */
  restart: TrackerRestart.optional(),
  /** When the helper first saw this generation of the map: tracking is continuous since then. */
  continuousSince: IsoTime.optional(),
  /** Per job backing it up: whether its next run reads only changes or the whole device. */
  nextBackups: z.array(z.object({ jobId: Id, jobName: z.string(), reads: z.enum(['changes', 'whole-device']) })).optional(),
});
export type TrackedDevice = z.infer<typeof TrackedDevice>;

/** How one run read one source. */
export const SourceRead = z.object({
  source: z.string(),
  mode: z.enum(['changed', 'full']),
  /** Set when mode is full. */
  reason: FullReadReason.optional(),
  /** With reason tracker-restarted: why the tracker started over, when known. */
  restart: TrackerRestart.optional(),
  bytes: z.number().int().nonnegative(),
  /** A full read of used blocks only: the free space it did not read (restored as zeros). */
  unusedBytes: z.number().int().nonnegative().optional(),
});
export type SourceRead = z.infer<typeof SourceRead>;

export const HistoryEntry = z.object({
  id: Id,
  jobId: Id,
  jobName: z.string(),
  startedAt: IsoTime,
  finishedAt: IsoTime,
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  restorePointId: Id.optional(),
  bytesRead: z.number().int().nonnegative(),
  bytesWritten: z.number().int().nonnegative(),
  durationMs: z.number().int().nonnegative(),
  bytesPerSecond: z.number().nonnegative(),
  error: ErrorInfo.optional(),
  warnings: z.array(z.string()),
  /** The warnings that have an error behind them, by step (results.ts). */
  problems: z.array(RunProblem).optional(),
  /**
   * Bytes the run added to the repository, failed and cancelled runs
   * included: their packs stay until a clean-up removes them.
   */
  storedBytes: z.number().int().nonnegative().optional(),
  /** Per source of a run that made a point: only its changes or all of it, and why. */
  reads: z.array(SourceRead).optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const VerifyReport = z.object({
  ok: z.boolean(),
  checkedPoints: z.number().int().nonnegative(),
  checkedChunks: z.number().int().nonnegative(),
  damagedPoints: z.array(Id),
  problems: z.array(
    z.object({
      kind: z.enum(['missing-pack', 'missing-chunk', 'bad-chunk', 'bad-index', 'bad-manifest']),
      message: z.string(),
      pointIds: z.array(Id),
      chunkId: z.string().optional(),
      pack: z.string().optional(),
    }),
  ),
});
export type VerifyReport = z.infer<typeof VerifyReport>;

export const Mount = z.object({
  id: Id,
  repositoryId: Id,
  pointId: Id,
  source: z.string(),
  /**
   * What serves the point's disk: the NBD device (/dev/nbd0), or, without
   * the nbd module, the file that exports it (see access).
   */
  device: AbsPath,
  /**
   * How the point was opened: nbd (the kernel's nbd client), or export (a
   * FUSE file of the disk, its file systems read by the kernel through a
   * loop device or in user space; see filesystems[].reader).
   */
  access: z.enum(['nbd', 'export']).optional(),
  filesystems: z.array(
    z.object({
      /** The block device mounted (/dev/nbd0p1, /dev/loop3) or the exported disk file. */
      device: AbsPath,
      fsType: z.string().optional(),
      label: z.string().optional(),
      mountpoint: AbsPath.optional(),
      /** Who reads it: the kernel (mounted), fuse2fs (ext2/3/4 in user space) or mtools (FAT). */
      reader: z.enum(['kernel', 'fuse2fs', 'mtools']).optional(),
      error: z.string().optional(),
    }),
  ),
});
export type Mount = z.infer<typeof Mount>;

export const FileEntry = z.object({
  name: z.string(),
  path: AbsPath,
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  sizeBytes: z.number().int().nonnegative(),
  modifiedAt: IsoTime,
});
export type FileEntry = z.infer<typeof FileEntry>;

/**
 * The plan of a whole-disk restore, shown before anything is written
 * (core/engine/restore-plan.ts computes it): today's byte image for a
 * target at least as large as the source; for a smaller one, a new
 * partition table and a tier per partition: a (byte image, moved or cut
 * after its file system), b (ext2/3/4 shrunk with resize2fs on a copy),
 * c (a new file system with the same UUID and label, the files copied).
 */
export const RestorePlan = z.object({
  kind: z.enum(['image', 'tiers']),
  fits: z.boolean(),
  sourceBytes: z.number().int().nonnegative(),
  targetBytes: z.number().int().nonnegative(),
  /** The smallest target this layout needs (space needed vs targetBytes available). */
  neededBytes: z.number().int().nonnegative(),
  /** When it does not fit: how much is missing. */
  missingBytes: z.number().int().positive().optional(),
  reason: z.string(),
  /** Free room the restoring computer needs for tier b's copies (0 without tier b). */
  scratchBytes: z.number().int().nonnegative(),
  table: z.object({ label: z.enum(['gpt', 'dos']), id: z.string().optional(), sectorSize: z.number().int().positive() }).optional(),
  partitions: z.array(
    z.object({
      number: z.number().int().positive(),
      tier: z.enum(['a', 'b', 'c']),
      fsType: z.string().optional(),
      fsUuid: z.string().optional(),
      fsLabel: z.string().optional(),
      oldStartBytes: z.number().int().nonnegative(),
      oldSizeBytes: z.number().int().nonnegative(),
      newStartBytes: z.number().int().nonnegative(),
      newSizeBytes: z.number().int().nonnegative(),
      usedBytes: z.number().int().nonnegative().optional(),
      minBytes: z.number().int().nonnegative().optional(),
      copyBytes: z.number().int().nonnegative(),
      why: z.string(),
    }),
  ),
  /** restore.start takes it back as `plan`: a plan that changed since is refused. */
  digest: z.string(),
});
export type RestorePlan = z.infer<typeof RestorePlan>;

/** What a backup run is expected to need, said before it starts. */
export const RunEstimate = z.object({
  /** Size of the sources together. */
  sizeBytes: z.number().int().nonnegative(),
  /** What the run is expected to read: the last run's figure, or everything. */
  readBytes: z.number().int().nonnegative(),
  /** New data it is expected to add to the repository. */
  newBytes: z.number().int().nonnegative(),
  /**
   * recent-runs: the largest of the last runs' stored data (failed ones
   * included); first-run: no run yet, so at most the sources' size.
   */
  basis: z.enum(['recent-runs', 'first-run']),
  /** Free space at the destination, when it is reachable. */
  freeBytes: z.number().int().nonnegative().optional(),
  /** Whether the expected new data fits in the free space (with a margin). */
  fits: z.boolean(),
});
export type RunEstimate = z.infer<typeof RunEstimate>;

/** A file of a restore point, named independently of where it is opened: the file system (its partition name, e.g. "p1", or "disk") and the path inside it. */
export const PointFile = z.object({
  filesystem: z.string(),
  /** Path inside the file system, starting with "/". */
  path: z.string(),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  sizeBytes: z.number().int().nonnegative(),
  modifiedAt: IsoTime,
});
export type PointFile = z.infer<typeof PointFile>;

/** What files.searchPoints found: per restore point, newest first (Task.result). */
export const PointSearchResult = z.object({
  query: z.string(),
  points: z.array(z.object({ pointId: Id, createdAt: IsoTime, files: z.array(PointFile), error: ErrorInfo.optional() })),
  /** Matches beyond the limit were not listed. */
  truncated: z.boolean(),
});
export type PointSearchResult = z.infer<typeof PointSearchResult>;

/** What changed from one restore point to another (Task.result of files.compare). */
export const PointComparison = z.object({
  basePointId: Id,
  pointId: Id,
  added: z.array(PointFile),
  removed: z.array(PointFile),
  /** Files whose size, time or type differ; `before` is the base point's. */
  changed: z.array(PointFile.extend({ before: PointFile })),
  /** Counts, including what is beyond the lists' limit. */
  counts: z.object({ added: z.number().int(), removed: z.number().int(), changed: z.number().int(), unchanged: z.number().int() }),
});
export type PointComparison = z.infer<typeof PointComparison>;

export const LogEntry = z.object({
  time: IsoTime,
  level: z.enum(['debug', 'info', 'warn', 'error']),
  source: z.string(), // "helper", "job:<id>", "kmod", ...
  message: z.string(),
});
export type LogEntry = z.infer<typeof LogEntry>;

export const SystemInfo = z.object({
  appVersion: z.string(),
  hostname: z.string(),
  kernel: z.string(),
  /** Who answers: the root helper service, or in-process core (no root). */
  backend: z.enum(['helper', 'local']),
  module: ModuleStatus,
  /** What the answering service is, so web mode and the CLI can say it truthfully. */
  service: z
    .object({
      /** The user the service runs as. */
      uid: z.number().int().nonnegative(),
      root: z.boolean(),
      /**
       * always: the helper runs schedules whether anyone is logged in;
       * while-running: schedules run in this process (snapkeep serve, the
       * app without the helper) and stop with it; off: this process runs none.
       */
      schedules: z.enum(['always', 'while-running', 'off']),
      /** The command that installs the helper on this installation (its real path). */
      installCommand: z.string(),
    })
    .optional(),
});
export type SystemInfo = z.infer<typeof SystemInfo>;
