// Typed bindings of engine.repoFs (native/src/engine/repo_dir_binding.cc):
// the files of a repository, reached only below its root, never through a
// symbolic link, and never opening a FIFO or device planted there. Paths are
// relative to the root ("packs/ab/<id>"). Errors are NativeEngineErrors:
// REPO_UNSAFE (link or special file, `path` names it), REPO_CORRUPT (file
// longer than allowed), or the errno's code with `errnoName`.
import { loadAddon } from './addon';

export interface RepoEntry {
  name: string;
  type: 'file' | 'dir' | 'other';
  /** "regular file", "symbolic link", "FIFO", ... */
  what: string;
}

export interface RepoStat {
  type: RepoEntry['type'];
  what: string;
  size: number;
  mtimeMs: number;
}

interface RepoFsAddon {
  engine: {
    repoFs: {
      read(root: string, rel: string, maxBytes: number): Promise<Buffer>;
      write(root: string, rel: string, data: Buffer): Promise<void>;
      list(root: string, rel: string): Promise<RepoEntry[]>;
      remove(root: string, rels: string[]): Promise<number>;
      stat(root: string, rel: string): Promise<RepoStat | null>;
      mkdir(root: string, rel: string): Promise<void>;
      touch(root: string, rel: string): Promise<void>;
      resolveMode(mode?: 'auto' | 'walk'): 'openat2' | 'walk';
    };
  };
}

const fs = () => loadAddon<RepoFsAddon>().engine.repoFs;

/** The whole file; REPO_CORRUPT when it has more than maxBytes. */
export const nativeRead = (root: string, rel: string, maxBytes: number) => fs().read(root, rel, maxBytes);
/** Atomic: temp file, fsync, rename, fsync of the directory; 0600, directories 0700. */
export const nativeWrite = (root: string, rel: string, data: Buffer) => fs().write(root, rel, data);
/** Entries of a directory ([] when it does not exist). */
export const nativeList = (root: string, rel: string) => fs().list(root, rel);
/** Unlinks (a planted link is removed, not followed), then fsyncs the directories; returns how many existed. */
export const nativeRemove = (root: string, rels: string[]) => fs().remove(root, rels);
/** lstat: null when absent. */
export const nativeStat = (root: string, rel: string) => fs().stat(root, rel);
export const nativeMkdir = (root: string, rel: string) => fs().mkdir(root, rel);
export const nativeTouch = (root: string, rel: string) => fs().touch(root, rel);
/** Tests: force the O_NOFOLLOW walk used where the kernel has no openat2, or back to automatic. */
export const nativeResolveMode = (mode?: 'auto' | 'walk') => fs().resolveMode(mode);
