// The one way the engine's TypeScript side reaches the files of a
// repository: list, read, write atomically, remove, stat. A repository is
// untrusted input (a NAS share, a disk someone else had, a server): every
// call goes through the repository's storage (storage/storage.ts). A local
// one is the native RepoDir, which resolves paths only below the root,
// follows no symbolic link and never opens a FIFO or device planted there;
// a remote one (storage/sftp.ts) checks every name and size the server
// sends. Such things are refused with REPO_UNSAFE naming the path, and
// nothing outside the repository is touched. Paths are relative to the
// root, as in `rel` of format.ts; `repo` is the repository's location (a
// path, or an sftp:// location whose repository is open). No fs.* call in
// engine/ may take a path inside a repository.
import { AppError, isAppError } from '../../common/contract';
import { type RepoEntry, nativeTouch } from '../../../native/repo-fs';
import { toAppError } from './errors';
import { storageFor } from './storage/registry';

export type { RepoEntry };

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toAppError(e, what);
  }
}

/** Whether an error says "no such file" (the file, or a directory on its way). */
export function isMissing(e: unknown): boolean {
  return isAppError(e) && e.details?.['errnoName'] === 'ENOENT';
}

function unsafe(repo: string, rel: string, what: string): AppError {
  const p = `${repo}/${rel}`;
  return new AppError(
    'REPO_UNSAFE',
    `refusing ${p}: it is a ${what}, and a Snapkeep repository holds only regular files and directories (was the repository tampered with?)`,
    { path: p, found: what },
  );
}

/** The whole file; REPO_CORRUPT when it is longer than `maxBytes`, NOT_FOUND (isMissing) when absent. */
export function readRepoFile(repo: string, rel: string, maxBytes: number): Promise<Buffer> {
  return storageFor(repo).load(rel, { maxBytes });
}

/** Like readRepoFile, undefined when the file does not exist. */
export async function readRepoFileIfExists(repo: string, rel: string, maxBytes: number): Promise<Buffer | undefined> {
  try {
    return await readRepoFile(repo, rel, maxBytes);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

/**
 * The older versions of a file where the storage keeps them (a versioned
 * S3 bucket), oldest first, each read on demand; [] where it keeps none.
 */
export async function olderVersions(repo: string, rel: string, maxBytes: number): Promise<Array<{ versionId: string; read: () => Promise<Buffer> }>> {
  const s = storageFor(repo);
  const versions = (await s.versions?.(rel)) ?? [];
  return versions
    .filter((v) => !v.latest && v.size <= maxBytes)
    .map((v) => ({ versionId: v.versionId, read: () => (s.loadVersion ? s.loadVersion(rel, v.versionId, { maxBytes }) : Promise.reject(new AppError('INTERNAL', `${repo} keeps no versions`))) }));
}

/** Forgets a remote repository's cached copy of `rel` (repo-storage's dropCached); nothing for a local one. */
export async function dropCachedCopy(repo: string, rel: string): Promise<void> {
  await storageFor(repo).dropCached?.(rel);
}

/** Written whole or not at all (temp file, fsync, rename, fsync of the directory); 0600, new directories 0700. */
export function writeRepoFile(repo: string, rel: string, data: Buffer | string): Promise<void> {
  return storageFor(repo).save(rel, typeof data === 'string' ? Buffer.from(data) : data);
}

/** Every entry of a directory, links and special files included ([] when the directory does not exist). */
export function listRepoEntries(repo: string, rel: string): Promise<RepoEntry[]> {
  return storageFor(repo).list(rel);
}

async function listOf(repo: string, rel: string, type: 'file' | 'dir', hidden: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await listRepoEntries(repo, rel)) {
    if (!hidden && e.name.startsWith('.')) continue;
    if (e.type === 'other') throw unsafe(repo, `${rel}/${e.name}`, e.what);
    if (e.type === type) out.push(e.name);
  }
  return out;
}

/**
 * Names of the regular files of a directory ([] when it does not exist);
 * REPO_UNSAFE when it holds a link or special file. Hidden names (temp
 * files) only with `hidden`.
 */
export function listRepoFiles(repo: string, rel: string, opts: { hidden?: boolean } = {}): Promise<string[]> {
  return listOf(repo, rel, 'file', opts.hidden ?? false);
}

/** Names of the subdirectories of a directory; REPO_UNSAFE for links and special files. */
export function listRepoDirs(repo: string, rel: string): Promise<string[]> {
  return listOf(repo, rel, 'dir', false);
}

/** Unlinks the files (a planted link is removed itself, never followed) and fsyncs their directories; returns how many existed. */
export function removeRepoFiles(repo: string, rels: string[]): Promise<number> {
  return storageFor(repo).remove(rels);
}

/** Size and mtime of a regular file; undefined when absent; REPO_UNSAFE when it is anything else. */
export async function statRepoFile(repo: string, rel: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  return storageFor(repo).stat(rel);
}

export async function repoFileExists(repo: string, rel: string): Promise<boolean> {
  return (await statRepoFile(repo, rel)) !== undefined;
}

/** Creates the directory and its missing parents (0700). */
export function mkdirRepo(repo: string, rel: string): Promise<void> {
  return storageFor(repo).mkdir(rel);
}

/** Sets a regular file's mtime to now (local repositories: tests age files with it). */
export function touchRepoFile(repo: string, rel: string): Promise<void> {
  return call(`touch ${repo}/${rel}`, () => nativeTouch(repo, rel));
}

/**
 * Walks the repository's directories (the top level, each of its
 * directories, and the buckets of packs/ and lists/) and refuses the first
 * link or special file with REPO_UNSAFE: verify's way to find what the
 * operations that never look there would not meet.
 */
export async function scanRepository(repo: string): Promise<void> {
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await listRepoEntries(repo, dir)) {
      const p = dir ? `${dir}/${e.name}` : e.name;
      if (e.type === 'other') throw unsafe(repo, p, e.what);
      if (e.type === 'dir' && depth > 0) await walk(p, depth - 1);
    }
  };
  await walk('', 2);
}
