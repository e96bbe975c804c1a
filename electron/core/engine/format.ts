// Constants of the repository format (docs/repository-format.md). Changing
// any of them changes the format: bump FORMAT_VERSION and say why there.
import * as path from 'node:path';

export const FORMAT_NAME = 'snapkeep-repository';
/**
 * 2: index files of sorted fixed-width entries in frames, removal records,
 * list roots in manifests (docs/repository-format.md, "Versions").
 * Repositories of format 1 are read and written in format 1 until upgraded.
 */
export const FORMAT_VERSION = 2;
/**
 * 3: append-only repositories (docs/repository-format-v3.md): the keys in
 * two key objects under keys/ (owner and client), a metadata key and an
 * X25519 key pair instead of one encryption key, config MAC v2. Chosen only
 * at init (`appendOnly`); formats 1 and 2 never become 3.
 */
export const APPEND_ONLY_VERSION = 3;
/** The newest format this Snapkeep reads: a config claiming more is refused as newer. */
export const NEWEST_FORMAT_VERSION = APPEND_ONLY_VERSION;

/**
 * 256 KiB chunks: a power of two that the tracker block (64 KiB .. 1 MiB in
 * practice) divides or equals, small enough that a 1 % scattered change
 * reads little more than the changed blocks, big enough that per-chunk
 * costs (index entry ~80 B in memory, 45 B on disk, 40 B of AEAD overhead)
 * stay below 0.05 % and zstd still finds its matches. Reasons and the
 * measurements: docs/repository-format.md, "Chunk size".
 */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
export const MIN_CHUNK_SIZE = 4096;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

/** Packs are sealed at this size: few files, cheap to rewrite in prune. */
export const PACK_SIZE = 16 * 1024 * 1024;

/** Chunk ids per chunk-list segment (32 KiB of ids, 256 MiB of device). */
export const SEGMENT_ENTRIES = 1024;
export const ID_BYTES = 32;

/**
 * Argon2id cost: 3 passes over 64 MiB (about 0.3 s here). Stored in the
 * config, so later versions can raise it for new repositories.
 */
export const KDF_OPS_LIMIT = 3;
export const KDF_MEM_LIMIT = 64 * 1024 * 1024;

/**
 * Format 3: retired X25519 secret keys an owner key object may hold after
 * the current one (a key pair replaced after a leak keeps the old one for
 * old packs). Bounds the object before it is decrypted.
 */
export const MAX_RETIRED_KEYS = 15;

/** Prune rewrites packs whose live bytes are below this share. */
export const REPACK_BELOW = 0.5;

/** Locks not refreshed for this long are stale, whoever holds them. */
export const LOCK_STALE_MS = 30 * 60 * 1000;
export const LOCK_REFRESH_MS = 5 * 60 * 1000;

/**
 * Bounds of the numbers a config may hold. The config is read from an
 * untrusted place before anything can be authenticated, so each number that
 * sizes memory or work is checked first: pack offsets are u32 (packs end
 * before 4 GiB), and Argon2id costs beyond these would stall or exhaust the
 * machine (libsodium's own limits are far higher).
 */
export const MIN_PACK_SIZE = 64 * 1024;
export const MAX_PACK_SIZE = 1024 * 1024 * 1024;
export const KDF_OPS_MIN = 1;
export const KDF_OPS_MAX = 16;
export const KDF_MEM_MIN = 8 * 1024 * 1024;
export const KDF_MEM_MAX = 1024 * 1024 * 1024;

/** The most bytes read from each kind of file; a longer one is damage or an attack. */
export const MAX_FILE_BYTES = {
  config: 64 * 1024,
  /** A format-3 key object: JSON around at most 16 sealed secret keys (under 1.5 KiB). */
  keySlot: 4 * 1024,
  lock: 64 * 1024,
  /** V8 cannot hold a longer string anyway. */
  manifest: 512 * 1024 * 1024,
  /** A segment: SEGMENT_ENTRIES ids in an envelope (header, nonce, tag or MAC). */
  segment: SEGMENT_ENTRIES * ID_BYTES + 64,
};

/** Paths inside a repository, relative to its root: what repo-files.ts takes. */
export const rel = {
  config: 'config',
  /** Format 3: the key objects, one per role (keys/owner, keys/client). */
  keys: 'keys',
  keySlot: (role: 'owner' | 'client') => `keys/${role}`,
  points: 'points',
  point: (id: string) => `points/${id}`,
  lists: 'lists',
  segment: (id: string) => `lists/${id.slice(0, 2)}/${id}`,
  index: 'index',
  indexFile: (name: string) => `index/${name}`,
  packs: 'packs',
  pack: (id: string) => `packs/${id.slice(0, 2)}/${id}`,
  locks: 'locks',
  lock: (name: string) => `locks/${name}`,
  tmp: 'tmp',
};

/** The same as absolute paths, for messages and tests. */
export const dirs = {
  config: (repo: string) => path.join(repo, 'config'),
  keySlot: (repo: string, role: 'owner' | 'client') => path.join(repo, 'keys', role),
  points: (repo: string) => path.join(repo, 'points'),
  point: (repo: string, id: string) => path.join(repo, 'points', id),
  lists: (repo: string) => path.join(repo, 'lists'),
  segment: (repo: string, id: string) => path.join(repo, 'lists', id.slice(0, 2), id),
  index: (repo: string) => path.join(repo, 'index'),
  packs: (repo: string) => path.join(repo, 'packs'),
  pack: (repo: string, id: string) => path.join(repo, 'packs', id.slice(0, 2), id),
  locks: (repo: string) => path.join(repo, 'locks'),
  tmp: (repo: string) => path.join(repo, 'tmp'),
};
