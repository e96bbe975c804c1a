// Typed bindings of the backup engine's data path (native/src/engine/).
// Everything long runs off the JS thread and returns a Promise; errors are
// NativeEngineErrors whose `code` is an AppError code (REPO_CORRUPT,
// DISK_FULL, SOURCE_CHANGED, ...) with the errno, path, pack and chunk ids
// involved. The orchestration (manifests, keys, locks, prune) lives in
// electron/core/engine/ and only calls what is declared here.
import { loadAddon } from './addon';

/** Envelope types of docs/repository-format.md. */
export const EnvelopeType = {
  packTrailer: 1,
  index: 2,
  manifest: 3,
  listSegment: 4,
  other: 5,
  /** Format 2: a device's list of segment ids. */
  listRoot: 6,
} as const;
export type EnvelopeType = (typeof EnvelopeType)[keyof typeof EnvelopeType];

export interface NativeEngineError extends Error {
  code: string;
  errno?: number;
  errnoName?: string;
  syscall?: string;
  path?: string;
  pack?: string;
  chunk?: string;
}

export function isNativeEngineError(e: unknown): e is NativeEngineError {
  return e instanceof Error && typeof (e as Partial<NativeEngineError>).code === 'string';
}

export type ProgressCallback = (bytesDone: number, bytesTotal: number) => void;

export interface CancelToken {
  cancel(): void;
  /** Whether cancel() was called (waits on the JS side poll it). */
  readonly cancelled: boolean;
}

export interface BackupDeviceRequest {
  source: string;
  chunkSize: number;
  /** zstd level. */
  level: number;
  /** Bytes at which a pack is sealed. */
  packSize?: number;
  /** Fail with SOURCE_CHANGED unless the source has exactly this size. */
  expectedSize?: number;
  /** Incremental: the parent's chunk list and the changed byte ranges. */
  parent?: NativeList;
  parentList?: Buffer;
  ranges?: Array<[number, number]>;
  /**
   * Full backup (no `ranges`): the byte ranges the source's file systems use.
   * Chunks touching one are read whole; the others are recorded as zero
   * chunks without being read. Absent: every chunk is read.
   */
  usedRanges?: Array<[number, number]>;
  threads?: number;
  /** Store the list's segments as they are built (the list is then not returned). */
  writeSegments?: boolean;
  /** Format 2: also store the list root naming them. */
  writeRoot?: boolean;
  /**
   * Spool mode (remote repositories): the caller uploads and removes sealed
   * packs while the backup runs; the pack stage waits while this many of
   * its sealed packs are still present, and leaves the check that they
   * exist to the caller. 0 or absent: off.
   */
  spoolPacks?: number;
}

export interface BackupDeviceResult {
  /** 32-byte chunk ids in device order; all-zero id = zero chunk. Empty with writeSegments. */
  list: Buffer;
  /** Segment ids in order (32 bytes each). */
  segments: Buffer;
  /** The list root's id (hex), with writeRoot. */
  root?: string;
  segmentsWritten: number;
  /** Chunks the parent's list named that the index no longer holds, read again from the source. */
  chunksRepaired: number;
  size: number;
  bytesRead: number;
  /** With usedRanges: bytes of the chunks not read because no file system uses them. */
  bytesUnused: number;
  bytesNew: number;
  bytesStored: number;
  chunks: number;
  chunksRead: number;
  chunksNew: number;
  chunksZero: number;
  packs: string[];
  indexFile: string;
  /** Whether the source was read with O_DIRECT. */
  direct: boolean;
}

export interface RestoreDeviceRequest {
  list: NativeList | Buffer;
  chunkSize: number;
  deviceSize: number;
  /** Part of the device to restore (a partition); default all. */
  rangeStart?: number;
  rangeLength?: number;
  target: string;
  /**
   * Where the range lands in the target (default 0). Given, the target must
   * exist and hold targetOffset + rangeLength bytes; it is neither created
   * nor cut (a partition placed on a disk laid out by the caller).
   */
  targetOffset?: number;
  /** With targetOffset: the caller made the target read as zeros (an image file cut to 0 and back), so zero chunks are not written. */
  targetZeroed?: boolean;
  skipIdentical: boolean;
  /**
   * Resumable restore: the file that records which chunks are on the target
   * for sure (outside the repository), and the key tying it to this point,
   * range and target. A file with another key is ignored.
   */
  resumeFile?: string;
  resumeKey?: string;
  /** Progress is made durable after this many bytes (or 2 s); default 256 MiB. */
  resumeEveryBytes?: number;
  threads?: number;
}

export interface VerifyProblemNative {
  kind: 'missing-pack' | 'bad-index' | 'bad-chunk';
  message: string;
  pack?: string;
  chunk?: string;
}

export interface PackUsage {
  id: string;
  size: number;
  chunks: number;
  liveChunks: number;
  storedBytes: number;
  liveBytes: number;
}

/** A device's chunk list held natively: read a segment at a time, never copied per call. */
export interface NativeList {
  readonly chunks: number;
  readonly segments: number;
  /** The segment ids, 32 bytes each (empty for a list given whole). */
  segmentIds(): Buffer;
}

/** Prune's live set: one bit per index position. */
export interface NativeMark {
  /** Marks every chunk of the lists (each distinct segment read once). */
  add(
    lists: Array<NativeList | Buffer>,
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): Promise<{ missing: Buffer; objects: Buffer; marked: number; segmentsRead: number }>;
  plan(opts: { repackBelow: number; maxRepackBytes?: number }): Promise<GcPlan>;
}

export interface GcPlan {
  drop: PackUsage[];
  rewrite: PackUsage[];
  /** Packs that would be rewritten but for maxRepackBytes. */
  deferredPacks: number;
  packs: number;
  storedBytes: number;
  liveBytes: number;
}

export interface ListVerdict {
  missing: Buffer;
  badChunks: Buffer;
  badPacks: string[];
  error?: string;
  errorSegment?: string;
}

export interface NativeRepo {
  sealEnvelope(type: EnvelopeType, data: Buffer): Buffer;
  /** null when the envelope does not authenticate. */
  openEnvelope(type: EnvelopeType, data: Buffer): Buffer | null;
  chunkId(data: Buffer): Buffer;
  loadIndex(): Promise<{ files: string[]; badFiles: string[]; loaded: number; chunks: number; packs: number }>;
  backup(req: BackupDeviceRequest, onProgress?: ProgressCallback, cancel?: CancelToken): Promise<BackupDeviceResult>;
  /**
   * What restore() with the same list, range, target and record would
   * resume: reads the record and a sample of the target (the check the
   * restore makes first), writes nothing.
   */
  probeResume(req: Omit<RestoreDeviceRequest, 'skipIdentical' | 'resumeEveryBytes' | 'threads'> & { resumeFile: string; resumeKey: string }): Promise<ResumeProbe>;
  restore(
    req: RestoreDeviceRequest,
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): Promise<{ bytesWritten: number; bytesSkipped: number; bytesResumed: number; resumeIgnored?: string; blockDevice: boolean }>;
  readRange(req: { list: NativeList | Buffer; chunkSize: number; deviceSize: number; offset: number; length: number }): Promise<Buffer>;
  /** A device's list from its root (format 2) or its segment ids (format 1). */
  openList(ref: { root: string } | { segments: string[] | Buffer }, chunks: number): Promise<NativeList>;
  writeListRoot(segments: Buffer, chunks: number): Promise<string>;
  /** Every id of a list (at most 32 Mi chunks): small lists and tests. */
  readWholeList(list: NativeList | Buffer): Promise<Buffer>;
  verify(
    opts: { data: boolean },
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): Promise<{ problems: VerifyProblemNative[]; packs: number; chunks: number }>;
  createListChecker(opts: { badChunks?: Buffer; badPacks?: string[] }): {
    check(list: NativeList | Buffer, onProgress?: ProgressCallback, cancel?: CancelToken): Promise<ListVerdict>;
  };
  /** Ids (32 bytes each) of `list` that no indexed pack holds. */
  missingChunks(list: Buffer): Buffer;
  createMark(): NativeMark;
  compact(
    req: { mark: NativeMark; rewrite: string[]; order?: Array<NativeList | Buffer>; packSize?: number },
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): Promise<{ indexFile: string; newPacks: Array<{ id: string; size: number }>; copiedBytes: number; copiedChunks: number }>;
  /** Format 2: an index file saying these packs are gone. */
  writeRemovalRecord(packs: string[]): Promise<string>;
  /** One index file for everything indexed but the excluded packs and entries (chunk id hex + pack id hex). */
  writeConsolidatedIndex(opts: { exclude: string[]; excludeEntries?: string[] }): Promise<string>;
  rebuildIndex(packs: string[]): Promise<{ indexFile: string; badPacks: string[] }>;
  /** Of these pack ids, those no index entry names. */
  unindexedPacks(ids: string[]): string[];
  locate(chunkIdHex: string): { pack: string; offset: number; storedLength: number; rawLength: number; compressed: boolean } | null;
  stats(): { chunks: number; packs: number; packBytes: number; indexFiles: number; mappedIndexFiles: number };
  /** Closes the pack files kept open for reading (they reopen when needed). */
  closeFiles(): void;
}

interface EngineAddon {
  engine: {
    NativeRepo: new (opts: NativeRepoOptions) => NativeRepo;
    CancelToken: new () => CancelToken;
    deriveKey(passphrase: string, salt: Buffer, opsLimit: number, memLimit: number): Promise<Buffer>;
    aeadSeal(key: Buffer, plain: Buffer, ad: Buffer): Buffer;
    aeadOpen(key: Buffer, sealed: Buffer, ad: Buffer): Buffer | null;
    boxKeypair(): BoxKeypair;
    sealKey(publicKey: Buffer, key: Buffer): Buffer;
    openSealedKey(publicKey: Buffer, secretKey: Buffer, sealed: Buffer): Buffer;
    fastCryptoAvailable: boolean;
    benchPrimitive(name: string, bytes: number, rounds: number): number;
    saltBytes: number;
  };
}

const addon = () => loadAddon<EngineAddon>().engine;

export interface NativeRepoOptions {
  path: string;
  idKey: Buffer;
  encKey?: Buffer;
  /**
   * Repository format: which index files and lists to write (default 1).
   * 3 (index files and lists as 2, packs of version 2) goes with metaKey and
   * publicKey, and only with them.
   */
  version?: number;
  /** Where decoded index files are cached and mapped (none: in memory). */
  cacheDir?: string;
  /** The config's chunk-id algorithm (absent: blake2b-keyed). */
  chunkIdAlg?: ChunkIdAlgorithm;
  /** The config's AEAD when encKey is given (absent: xchacha20poly1305). */
  aead?: AeadAlgorithm;
  /**
   * Format 3 (append-only, docs/append-only-design.md): the key of every
   * envelope (manifests, lists, index frames, pack trailers). Given with
   * publicKey; encKey is then absent, since each backup or compaction seals
   * its blobs under a session key of its own. Options that contradict each
   * other (encKey with publicKey, metaKey or secretKeys without it, a
   * version other than 3) are a TypeError.
   */
  metaKey?: Buffer;
  /** Format 3: the repository's X25519 public key; each session key is sealed to it in a version-2 pack header. */
  publicKey?: Buffer;
  /**
   * Format 3, the owner only: X25519 secret keys, the current one first and
   * retired ones after, tried by a pack header's key pair id. Without them
   * (absent or empty) restore, readRange, verify with data and compact fail
   * with OWNER_KEY_REQUIRED before they write anything; backup, the index,
   * lists and structural verify need none. secretKeys[0] must be the
   * secret of publicKey (else a TypeError).
   */
  secretKeys?: Buffer[];
  /**
   * A remote repository's read cache: called (on the JS thread) when a
   * restore, verify or reader meets a pack missing from `path`. Resolves
   * true once the pack is there, false when the store does not have it
   * (the engine then reports it missing); a rejection fails the operation
   * with it. The cache may drop the pack again before a worker opens it:
   * the engine asks again, one fetch at a time after two tries, and fails
   * with IO_ERROR (never a missing-pack verdict) if it keeps being dropped.
   */
  fetchPack?: (packId: string) => Promise<boolean>;
}

/** Chunk-id algorithms (docs/repository-format.md, "Algorithms"). */
export type ChunkIdAlgorithm = 'blake2b-keyed' | 'hmac-sha256';
/** AEADs of encrypted repositories. */
export type AeadAlgorithm = 'xchacha20poly1305' | 'aes256gcm';

/** The CPU has SHA-NI, AES-NI and PCLMULQDQ: new repositories get the fast set. */
export function fastCryptoAvailable(): boolean {
  return addon().fastCryptoAvailable;
}

/** Nanoseconds for `rounds` runs of one primitive over `bytes` bytes, one thread (test/bench/crypto.mjs); -1 if unavailable. */
export function benchPrimitive(name: string, bytes: number, rounds: number): number {
  return addon().benchPrimitive(name, bytes, rounds);
}

export function openNativeRepo(opts: NativeRepoOptions): NativeRepo {
  return new (addon().NativeRepo)(opts);
}

export function createCancelToken(): CancelToken {
  return new (addon().CancelToken)();
}

/** Argon2id (libsodium crypto_pwhash), off the JS thread. */
export function deriveKey(passphrase: string, salt: Buffer, opsLimit: number, memLimit: number): Promise<Buffer> {
  return addon().deriveKey(passphrase, salt, opsLimit, memLimit);
}

/** XChaCha20-Poly1305: nonce | ciphertext | tag. */
export function aeadSeal(key: Buffer, plain: Buffer, ad: Buffer): Buffer {
  return addon().aeadSeal(key, plain, ad);
}

/** null when the tag does not verify. */
export function aeadOpen(key: Buffer, sealed: Buffer, ad: Buffer): Buffer | null {
  return addon().aeadOpen(key, sealed, ad);
}

/** An X25519 key pair (32 bytes each) of an append-only repository (docs/append-only-design.md). */
export interface BoxKeypair {
  publicKey: Buffer;
  /** The owner's: stored only wrapped under the owner passphrase. */
  secretKey: Buffer;
}

/** A fresh key pair (libsodium crypto_box_keypair). */
export function boxKeypair(): BoxKeypair {
  return addon().boxKeypair();
}

/**
 * A 32-byte key sealed to `publicKey` (crypto_box_seal: 80 bytes, different
 * each call); only the secret key opens it again. Throws REPO_CORRUPT for a
 * public key that is not a usable X25519 key; a TypeError for wrong lengths.
 */
export function sealKey(publicKey: Buffer, key: Buffer): Buffer {
  return addon().sealKey(publicKey, key);
}

/**
 * The key `sealKey` sealed. Throws a NativeEngineError REPO_CORRUPT when the
 * seal does not open with this pair (damaged, or sealed to another pair);
 * a TypeError for wrong lengths.
 */
export function openSealedKey(publicKey: Buffer, secretKey: Buffer, sealed: Buffer): Buffer {
  return addon().openSealedKey(publicKey, secretKey, sealed);
}

/** Bytes of the range an interrupted restore left durable, or why its record would be ignored. */
export interface ResumeProbe {
  bytes: number;
  ignored?: string;
}

export function kdfSaltBytes(): number {
  return addon().saltBytes;
}
