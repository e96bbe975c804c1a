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
  parentList?: Buffer;
  ranges?: Array<[number, number]>;
  threads?: number;
}

export interface BackupDeviceResult {
  /** 32-byte chunk ids in device order; all-zero id = zero chunk. */
  list: Buffer;
  size: number;
  bytesRead: number;
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
  list: Buffer;
  chunkSize: number;
  deviceSize: number;
  /** Part of the device to restore (a partition); default all. */
  rangeStart?: number;
  rangeLength?: number;
  target: string;
  skipIdentical: boolean;
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

export interface NativeRepo {
  sealEnvelope(type: EnvelopeType, data: Buffer): Buffer;
  /** null when the envelope does not authenticate. */
  openEnvelope(type: EnvelopeType, data: Buffer): Buffer | null;
  chunkId(data: Buffer): Buffer;
  loadIndex(): Promise<{ files: string[]; badFiles: string[]; chunks: number; packs: number }>;
  backup(req: BackupDeviceRequest, onProgress?: ProgressCallback, cancel?: CancelToken): Promise<BackupDeviceResult>;
  restore(
    req: RestoreDeviceRequest,
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): Promise<{ bytesWritten: number; bytesSkipped: number; blockDevice: boolean }>;
  readRange(req: { list: Buffer; chunkSize: number; deviceSize: number; offset: number; length: number }): Promise<Buffer>;
  verify(
    opts: { data: boolean },
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): Promise<{ problems: VerifyProblemNative[]; packs: number; chunks: number }>;
  /** Ids (32 bytes each) of `list` that no indexed pack holds. */
  missingChunks(list: Buffer): Buffer;
  gcPlan(live: Buffer[]): PackUsage[];
  compact(
    req: { live: Buffer[]; rewrite: string[]; drop: string[]; packSize?: number },
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): Promise<{ indexFile: string; newPacks: string[]; copiedBytes: number }>;
  rebuildIndex(packs: string[]): Promise<{ indexFile: string; badPacks: string[] }>;
  locate(chunkIdHex: string): { pack: string; offset: number; storedLength: number; rawLength: number; compressed: boolean } | null;
  stats(): { chunks: number; packs: number; packBytes: number; packIds: string[] };
  /** Closes the pack files kept open for reading (they reopen when needed). */
  closeFiles(): void;
}

interface EngineAddon {
  engine: {
    NativeRepo: new (opts: { path: string; idKey: Buffer; encKey?: Buffer }) => NativeRepo;
    CancelToken: new () => CancelToken;
    deriveKey(passphrase: string, salt: Buffer, opsLimit: number, memLimit: number): Promise<Buffer>;
    aeadSeal(key: Buffer, plain: Buffer, ad: Buffer): Buffer;
    aeadOpen(key: Buffer, sealed: Buffer, ad: Buffer): Buffer | null;
    saltBytes: number;
  };
}

const addon = () => loadAddon<EngineAddon>().engine;

export function openNativeRepo(opts: { path: string; idKey: Buffer; encKey?: Buffer }): NativeRepo {
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

export function kdfSaltBytes(): number {
  return addon().saltBytes;
}
