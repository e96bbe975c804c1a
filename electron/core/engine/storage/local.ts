// The local-directory backend: today's guarantees, unchanged. Every call
// goes through the native RepoDir (native/src/engine/repo_dir.h): paths
// resolved only below the root, no symbolic link followed, no FIFO or
// device opened, writes atomic (temp file, fsync, rename, fsync of the
// directory), files 0600 and directories 0700.
import { nativeList, nativeMkdir, nativeRead, nativeRemove, nativeStat, nativeWrite } from '../../../../native/repo-fs';
import { AppError } from '../../../common/contract';
import { toAppError } from '../errors';
import type { LoadOptions, RepoStorage, StorageEntry, StorageStat } from './storage';

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toAppError(e, what);
  }
}

export class LocalStorage implements RepoStorage {
  readonly remote = false;

  constructor(readonly location: string) {}

  save(name: string, data: Buffer): Promise<void> {
    return call(`write ${this.location}/${name}`, () => nativeWrite(this.location, name, data));
  }

  /**
   * Stat, then save: not atomic. A local directory is no append-only
   * boundary (whoever runs here as root can do anything to it); create
   * exists so the client's code runs on local repositories in tests.
   */
  async create(name: string, data: Buffer): Promise<'created' | 'exists'> {
    if ((await this.stat(name)) !== undefined) return 'exists';
    await this.save(name, data);
    return 'created';
  }

  async load(name: string, opts: LoadOptions): Promise<Buffer> {
    const whole = await call(`read ${this.location}/${name}`, () => nativeRead(this.location, name, opts.maxBytes));
    if (opts.offset === undefined) return whole;
    // Ranges serve remote repositories; a local one reads its files in place
    // (the native engine), so this is the rare path and reads the whole file.
    const end = opts.length === undefined ? whole.length : opts.offset + opts.length;
    if (opts.offset < 0 || end > whole.length) throw new AppError('REPO_CORRUPT', `${this.location}/${name} is shorter than the range asked for`, { path: `${this.location}/${name}` });
    return whole.subarray(opts.offset, end);
  }

  async stat(name: string): Promise<StorageStat | undefined> {
    const st = await call(`stat ${this.location}/${name}`, () => nativeStat(this.location, name));
    if (!st) return undefined;
    if (st.type !== 'file') {
      const p = `${this.location}/${name}`;
      throw new AppError('REPO_UNSAFE', `refusing ${p}: it is a ${st.what}, and a Snapkeep repository holds only regular files and directories (was the repository tampered with?)`, {
        path: p,
        found: st.what,
      });
    }
    return { size: st.size, mtimeMs: st.mtimeMs };
  }

  list(dir: string): Promise<StorageEntry[]> {
    return call(`list ${this.location}/${dir}`, () => nativeList(this.location, dir));
  }

  remove(names: string[]): Promise<number> {
    if (names.length === 0) return Promise.resolve(0);
    return call(`remove from ${this.location}`, () => nativeRemove(this.location, names));
  }

  mkdir(dir: string): Promise<void> {
    return call(`mkdir ${this.location}/${dir}`, () => nativeMkdir(this.location, dir));
  }

  async close(): Promise<void> {
    /* nothing held */
  }
}
