// One storage interface under a repository, shaped like restic's backend
// and kopia's blob storage: a repository is a set of named objects
// ("packs/ab/<id>"), each saved whole under its final name, read whole or
// by range, stat'ed, listed by folder, removed. Nothing more is asked of a
// backend: no rename, no append, no directory semantics (folders appear by
// saving into them). Publication order (packs, then index, then manifest)
// and every format rule stay with the callers, so a backend only moves
// bytes. Implementations: local.ts (a directory, through the native
// RepoDir), sftp.ts (an SSH server), s3.ts (an S3 bucket).
//
// Everything a backend returns comes from a place whoever controls the
// storage can write: names are checked here (checkName), sizes against the
// caller's bound before anything is read, and types (a link, a FIFO, a
// device) refused with REPO_UNSAFE, never followed.
import { AppError } from '../../../common/contract';

export interface StorageEntry {
  name: string;
  type: 'file' | 'dir' | 'other';
  /** "regular file", "symbolic link", "FIFO", ... */
  what: string;
}

export interface StorageStat {
  size: number;
  /** Modification time by the storage's clock (the server's, for a remote one). */
  mtimeMs: number;
}

export interface LoadOptions {
  /** The most bytes the object may have; a longer one is REPO_CORRUPT before a byte is read. */
  maxBytes: number;
  /** A range instead of the whole object. */
  offset?: number;
  length?: number;
}

/** One stored version of an object in a store that keeps them (a versioned S3 bucket). */
export interface ObjectVersion {
  versionId: string;
  size: number;
  /** The newest version: what a plain load reads. */
  latest: boolean;
}

export interface RepoStorage {
  /** What the user named: a path or an sftp:// location, for messages. */
  readonly location: string;
  /** True when times come from another machine's clock (locks then use that clock). */
  readonly remote: boolean;
  /** Saves the object whole under its final name, or not at all; an existing one is replaced. */
  save(name: string, data: Buffer): Promise<void>;
  /**
   * Saves a new object under its final name and never replaces one:
   * 'exists' when the name is taken (that object is left as it is). What an
   * append-only client's saves go through (append-only.ts). A save cut
   * short may leave a short object under the name on SFTP, whose servers
   * have no atomic create: a retry of our own cut save that finds it says
   * so (IO_ERROR, details.reason 'already-exists') rather than "exists".
   */
  create(name: string, data: Buffer): Promise<'created' | 'exists'>;
  /** The object, or its range; NOT_FOUND (details.errnoName ENOENT) when absent. */
  load(name: string, opts: LoadOptions): Promise<Buffer>;
  /**
   * The versions of an object, oldest first, where the store keeps them (an
   * overwrite there is a new version and the old one stays:
   * docs/append-only-design.md §4); undefined where it does not. A login
   * that may not list versions (an append-only client's) is refused.
   */
  versions?(name: string): Promise<ObjectVersion[] | undefined>;
  /** One version of the object (see versions), whole. */
  loadVersion?(name: string, versionId: string, opts: { maxBytes: number }): Promise<Buffer>;
  /** Size and mtime of a regular object; undefined when absent; REPO_UNSAFE when it is anything else. */
  stat(name: string): Promise<StorageStat | undefined>;
  /** Entries of a folder ([] when it does not exist), links and special files included. */
  list(dir: string): Promise<StorageEntry[]>;
  /** Removes the objects (a link itself, never what it names); returns how many existed. */
  remove(names: string[]): Promise<number>;
  /** Local directories only: creates a folder (remote backends create folders as they save). */
  mkdir(dir: string): Promise<void>;
  /**
   * Forgets this machine's cached copy of the object, if there is one (a
   * remote repository's working copy), so the next load fetches the
   * store's: a copy that did not authenticate must not stand in for an
   * object the owner has since put right.
   */
  dropCached?(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Longest object name a listing may hold (POSIX NAME_MAX). */
export const MAX_NAME_BYTES = 255;
/** Most entries one listing may hold: a bucket of 256 holds ids, a hostile server cannot make us hold more. */
export const MAX_LIST_ENTRIES = 1_000_000;

/**
 * A name a listing may hold: one path component, not "." or "..", no
 * slash, NUL or control character, at most 255 bytes. A server answering
 * anything else is broken or hostile: REPO_UNSAFE naming it, never a path
 * to follow.
 */
export function checkName(location: string, dir: string, name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name === '' || name === '.' || name === '..' || /[/\\\x00-\x1f\x7f]/.test(name) || Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const shown = JSON.stringify(name.slice(0, 80));
    throw new AppError('REPO_UNSAFE', `refusing a listing of ${location}/${dir}: the storage named an entry ${shown}, which cannot be a file name (is the server tampered with?)`, {
      path: `${location}/${dir}`,
      found: 'bad name',
    });
  }
  return name;
}

/** A relative object name of a repository: components checked like listed names, nothing above the root. */
export function checkRelPath(location: string, rel: string): string {
  if (rel === '') return rel;
  const parts = rel.split('/');
  for (const p of parts) checkName(location, rel, p);
  return rel;
}

/** What a remote backend throws when its retries ran out: one wording for every server kind. */
export function unreachableError(location: string, what: string, server: string, attempts: number, cause: string): AppError {
  return new AppError('REMOTE_UNAVAILABLE', `${what}: the server ${server} could not be reached after ${attempts} attempts (${cause})`, {
    location,
    attempts,
    cause,
    reason: 'unreachable',
  });
}
