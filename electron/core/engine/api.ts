// The backup engine's interface, as the rest of core (job runner, helper,
// CLI, NBD file restore) uses it. The engine (this folder and native/)
// implements it; callers depend on nothing else in engine/.
//
// Conventions: every long operation takes `onProgress` and an AbortSignal and
// rejects with AppError('CANCELLED') when aborted; every failure a user can
// meet is an AppError with a code from contract/errors.ts and the ids
// involved in `details` (pack, chunk, point ids, paths).
import type { Progress, RemoteProbe, Repository, RestorePoint, Retention, VerifyReport } from '../../common/contract';
import type { RepoPin } from './config-pin';
import type { RemoteAccess } from './remote/connect';

export interface OpenOptions {
  path: string;
  /** Required for encrypted repositories (WRONG_PASSPHRASE / PASSPHRASE_REQUIRED). */
  passphrase?: string;
  /** Root of the local index cache (index-cache.ts); default per user, null: keep the index in memory. */
  cacheDir?: string | null;
  /** What this computer pinned about the repository (config-pin.ts); a config that differs is REPO_CONFIG_CHANGED. */
  pin?: RepoPin;
  /** `path` is an sftp:// or s3:// location: how to log in (and for SFTP the host key seen before; docs/remote-repositories.md). */
  remote?: RemoteAccess;
}

export interface InitOptions extends OpenOptions {
  /** Fixed chunk size in bytes (power of two); the engine picks a default. */
  chunkSize?: number;
  /**
   * The algorithm set (config.ts ALGORITHM_SETS); the engine picks `fast`
   * when the CPU has SHA-NI and AES-NI, else `classic`.
   */
  algorithms?: 'fast' | 'classic';
  /**
   * Makes an append-only repository (format 3, docs/repository-format-v3.md):
   * `passphrase` is then the owner passphrase (required: format 3 is always
   * encrypted), this the passphrase of the clients, which can add backups
   * only. It must differ from the owner passphrase. The handle returned is
   * the owner's.
   */
  appendOnly?: { clientPassphrase: string };
}

/**
 * Changed-block tracking identity of a device at the moment of a snapshot.
 * Tracker convention (kmod/include/uapi/snapkeep.h): taking a snapshot
 * increments the tracker's number; every write after the take marks its
 * blocks with the new number. So the map frozen at snapshot C shows the
 * blocks changed since an earlier snapshot P as the cells >= P.number.
 */
export interface CbtState {
  generation: string; // UUID of the tracker generation
  number: number; // the mark writes after this snapshot's take carry (1..255)
  blockSize: number; // bytes per tracker block
}

export interface BackupSource {
  /** What the user chose (device path or image file); recorded in the manifest. */
  source: string;
  /** What to read: the same path, or the snapshot image device of a live source. */
  readFrom: string;
  /** Device facts to record when `readFrom` is a snapshot image (size, layout come from it). */
  cbt?: CbtState;
  /**
   * Byte ranges changed since the parent point, from the tracker. Used only
   * when the parent recorded the same source with the same generation and
   * `sinceNumber` equals the parent's cbt.number; otherwise the engine reads
   * everything and stores only chunks it does not have.
   */
  changes?: { generation: string; sinceNumber: number; ranges: Array<[offset: number, length: number]> };
}

export interface BackupRequest {
  sources: BackupSource[];
  jobId?: string;
  jobName?: string;
  /** The point to build on; the engine uses the newest point of the job when omitted. */
  parentId?: string;
  compressionLevel: number;
  /** Full backups read every sector, not only the blocks ext2/3/4 file systems use. */
  readAllSectors?: boolean;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface RestoreRequest {
  pointId: string;
  /** Which device of the point (its `source`). */
  source: string;
  /** Block device or image file (created if missing). */
  target: string;
  /** Restore only this partition of the point's disk (1-based). */
  partition?: number;
  /** Restore only this byte range of the device (a tiered restore's pieces, restore-tiers.ts); not with `partition`. */
  range?: { start: number; length: number };
  /**
   * Where the restored bytes land in the target (default 0). Given, the
   * target must exist and be large enough; it is neither created nor cut,
   * and the restore is not resumable (the tiered restore lays out the disk).
   */
  targetOffset?: number;
  /** With targetOffset: the target reads as zeros already (an image file the caller cut), so zero chunks are not written. */
  targetZeroed?: boolean;
  /** Read the target first and skip chunks that are already identical. */
  skipIdentical: boolean;
  /**
   * Makes the restore resumable: a directory outside the repository where
   * its progress is kept (the service's state). A restore of the same point
   * and range to the same target resumes from there.
   */
  resumeDir?: string;
  /** How often progress is made durable: after this many bytes or 2 s (default 256 MiB). */
  resumeEveryBytes?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/** The choices of a restore, asked before it starts: would it resume? */
export interface ResumeQuery {
  pointId: string;
  source: string;
  partition?: number;
  target: string;
  resumeDir: string;
}

export interface ResumeInfo {
  /** Bytes an interrupted restore of the same point, range and target left durable (0: it starts from the beginning). */
  bytes: number;
  /** Bytes the restore covers. */
  totalBytes: number;
  /** Why progress recorded for this target would not be used (another restore's, damaged). */
  ignored?: string;
}

export interface RestoreResult {
  bytesWritten: number;
  bytesSkipped: number;
  /** Bytes an earlier, interrupted run of this restore had written for sure (not read or written again). */
  bytesResumed?: number;
  /** Why the progress of an earlier run was not used (another restore's, damaged). */
  resumeIgnored?: string;
  /** Every chunk was hashed after decryption and matched its id. */
  verified: true;
}

export interface PruneReport {
  removedPoints: string[];
  keptPoints: string[];
  removedPacks: number;
  freedBytes: number;
  /** Unreferenced data kept because it is younger than prune's safety margins (prune.ts). */
  heldBackBytes: number;
  /** When the youngest of it is old enough for a prune to free it. */
  heldBackUntil?: string;
}

/** What prune removes and keeps (prune.ts). */
export interface PruneOptions {
  /** The policy; without it only `forget` removes points. */
  retention?: Retention;
  dryRun: boolean;
  /** The clock the age margins are measured with (tests move it forward). */
  now?: Date;
  /** Apply retention only to this job's points (scheduled retention); others are kept. */
  jobId?: string;
  /** Points kept whatever the policy says; they do not count toward it. */
  pinned?: string[];
  /** Points removed whatever the policy says (pins win). */
  forget?: string[];
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export type { RepairReport } from './repair';

/** Random access to one device of a restore point (NBD export, file restore). */
export interface PointReader {
  readonly sizeBytes: number;
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface RepositoryHandle {
  /** The location: a path, or the canonical sftp:// or s3:// location. */
  readonly path: string;
  /** Remote repositories: the fingerprint of the server's host key (pin it at first use). */
  readonly hostKey?: string | undefined;
  /** The pin to remember for this repository: the one given to open, tightened by what was seen. */
  readonly pin: RepoPin;
  /**
   * Format 3: 'client' may only add backups (restore, readers, verify of the
   * data, prune and repair are OWNER_KEY_REQUIRED before any lock); 'owner'
   * may do everything. Formats 1-2: 'legacy'.
   */
  readonly role: import('./keys').RepoRole;
  info(): Promise<Omit<Repository, 'id' | 'name' | 'unlocked' | 'remembered' | 'online'>>;
  listPoints(): Promise<RestorePoint[]>;
  backup(req: BackupRequest): Promise<RestorePoint>;
  restore(req: RestoreRequest): Promise<RestoreResult>;
  /** What restore() with these choices would resume; reads the progress record and a sample of the target, writes nothing. */
  resumable(q: ResumeQuery): Promise<ResumeInfo>;
  verify(opts: { pointId?: string; data: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal }): Promise<VerifyReport>;
  prune(opts: PruneOptions): Promise<PruneReport>;
  openReader(pointId: string, source: string): Promise<PointReader>;
  /** Drops index entries of missing or damaged packs and blobs (with `data`: every blob is read). */
  repairIndex(opts: { data: boolean; dryRun: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal }): Promise<import('./repair').RepairReport>;
  /**
   * Format 3, the owner only: a new passphrase for one key object (the keys
   * stay; every point and the other passphrase still open). A client handle:
   * OWNER_KEY_REQUIRED before any write; formats 1-2: INVALID_ARGUMENT.
   */
  changePassphrase(req: { role: import('./keys').SlotRole; newPassphrase: string }): Promise<void>;
  /**
   * Format 3, the owner only: a new key pair (key-rotate.ts): keys/owner keeps
   * the old secret key as retired, keys/client and the config get the new
   * public key. The handle then only closes (its engine holds the old pair).
   * A client handle: OWNER_KEY_REQUIRED before any write; formats 1-2:
   * INVALID_ARGUMENT.
   */
  rotateKeyPair(req: import('./key-rotate').KeyRotationRequest): Promise<import('./key-rotate').KeyRotation>;
  close(): Promise<void>;
}

export type { UpgradeReport } from './upgrade';

export interface Engine {
  init(opts: InitOptions): Promise<RepositoryHandle>;
  open(opts: OpenOptions): Promise<RepositoryHandle>;
  /** Converts a repository to the current format (only when asked); `dryRun` says what it would do. */
  upgrade(opts: OpenOptions & { dryRun: boolean }): Promise<import('./upgrade').UpgradeReport>;
  /** A connection test of a remote location: the server's host key (to show and pin) and whether a repository is there; or its error. */
  probeRemote?(path: string, remote: RemoteAccess): Promise<RemoteProbe>;
  /** The pin of a repository's config without unlocking it (no key fingerprint). */
  readPin(path: string, remote?: RemoteAccess): Promise<RepoPin>;
  /** Changed byte ranges from a frozen tracker map: cells >= sinceNumber, merged, clipped to the device. */
  changedRanges(map: Uint8Array, blockSize: number, sinceNumber: number, deviceSize: number): Array<[number, number]>;
}
