// The storage the engine's TypeScript side uses for a remote repository:
// the remote store, with manifests cached in the working copy by name (a
// point id names one manifest for life), and removals applied to the
// working copy too, so no copy outlives the file it copies. Counts what it
// uploads (tests, progress).
import { AppError } from '../../../common/contract';
import { rel } from '../format';
import type { LoadOptions, ObjectVersion, RepoStorage, StorageEntry, StorageStat } from '../storage/storage';
import type { WorkingCopy } from './working-copy';

const POINT = /^points\/[0-9A-Za-z-]{1,80}$/;

export interface TransferStats {
  /** Objects saved, by top folder ("packs", "index", ...). */
  saved: Record<string, number>;
  savedBytes: number;
}

export class RemoteRepoStorage implements RepoStorage {
  readonly remote = true;
  readonly stats: TransferStats = { saved: {}, savedBytes: 0 };

  constructor(
    readonly inner: RepoStorage,
    private readonly wc: () => WorkingCopy | undefined,
  ) {}

  get location(): string {
    return this.inner.location;
  }

  async save(name: string, data: Buffer): Promise<void> {
    await this.inner.save(name, data);
    const top = name.split('/')[0] ?? name;
    this.stats.saved[top] = (this.stats.saved[top] ?? 0) + 1;
    this.stats.savedBytes += data.length;
  }

  async create(name: string, data: Buffer): Promise<'created' | 'exists'> {
    const r = await this.inner.create(name, data);
    if (r === 'created') {
      const top = name.split('/')[0] ?? name;
      this.stats.saved[top] = (this.stats.saved[top] ?? 0) + 1;
      this.stats.savedBytes += data.length;
    }
    return r;
  }

  async load(name: string, opts: LoadOptions): Promise<Buffer> {
    const wc = this.wc();
    if (!wc || opts.offset !== undefined || !POINT.test(name)) return this.inner.load(name, opts);
    const cached = await wc.local.load(name, opts).catch(() => undefined);
    if (cached) return cached;
    const data = await this.inner.load(name, opts);
    await wc.local.save(name, data);
    return data;
  }

  async versions(name: string): Promise<ObjectVersion[] | undefined> {
    return this.inner.versions?.(name);
  }

  /** Never cached: the working copy holds the current version of a name only. */
  loadVersion(name: string, versionId: string, opts: { maxBytes: number }): Promise<Buffer> {
    if (!this.inner.loadVersion) return Promise.reject(new AppError('INTERNAL', `${this.location} keeps no versions`));
    return this.inner.loadVersion(name, versionId, opts);
  }

  stat(name: string): Promise<StorageStat | undefined> {
    return this.inner.stat(name);
  }

  async list(dir: string): Promise<StorageEntry[]> {
    const entries = await this.inner.list(dir);
    const wc = this.wc();
    if (wc && dir === rel.points) {
      // Manifests the store no longer has (pruned) leave the cache.
      const there = new Set(entries.map((e) => e.name));
      const gone = (await wc.local.list(rel.points)).filter((e) => e.type === 'file' && !there.has(e.name));
      await wc.local.remove(gone.map((e) => rel.point(e.name)));
    }
    return entries;
  }

  async remove(names: string[]): Promise<number> {
    const n = await this.inner.remove(names);
    const wc = this.wc();
    if (wc) await wc.local.remove(names.filter((x) => /^(points|index|lists|packs)\//.test(x)));
    return n;
  }

  mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(dir);
  }

  async dropCached(name: string): Promise<void> {
    const wc = this.wc();
    if (wc && POINT.test(name)) await wc.local.remove([name]);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
