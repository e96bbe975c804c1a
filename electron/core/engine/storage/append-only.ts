// The storage of an append-only client (docs/append-only-design.md §2.7):
// it adds objects and never replaces or removes one. The server enforces
// this with the client's restricted login (an S3 policy without delete, a
// versioned bucket; an SFTP account whose requests are limited); this
// wrapper makes the client's own code keep to it too, so a code path that
// would still overwrite or delete fails in tests instead of at a server
// that refuses it halfway through a backup.
import { AppError } from '../../../common/contract';
import type { LoadOptions, ObjectVersion, RepoStorage, StorageEntry, StorageStat } from './storage';

export class AppendOnlyStorage implements RepoStorage {
  constructor(readonly inner: RepoStorage) {}

  get location(): string {
    return this.inner.location;
  }

  get remote(): boolean {
    return this.inner.remote;
  }

  /** Never replaces: a name already taken is CONFLICT (details.reason 'already-exists'). */
  async save(name: string, data: Buffer): Promise<void> {
    if ((await this.inner.create(name, data)) === 'exists') throw alreadyExists(this.location, name);
  }

  create(name: string, data: Buffer): Promise<'created' | 'exists'> {
    return this.inner.create(name, data);
  }

  load(name: string, opts: LoadOptions): Promise<Buffer> {
    return this.inner.load(name, opts);
  }

  async versions(name: string): Promise<ObjectVersion[] | undefined> {
    return this.inner.versions?.(name);
  }

  loadVersion(name: string, versionId: string, opts: { maxBytes: number }): Promise<Buffer> {
    if (!this.inner.loadVersion) return Promise.reject(new AppError('INTERNAL', `${this.location} keeps no versions`));
    return this.inner.loadVersion(name, versionId, opts);
  }

  stat(name: string): Promise<StorageStat | undefined> {
    return this.inner.stat(name);
  }

  list(dir: string): Promise<StorageEntry[]> {
    return this.inner.list(dir);
  }

  /** A client never removes: reaching this is a bug in the caller. */
  remove(names: string[]): Promise<number> {
    return Promise.reject(new AppError('INTERNAL', `an append-only client tried to remove ${names.length} object(s) from ${this.location} (first: ${names[0] ?? '-'}); it may only add`, { location: this.location }));
  }

  mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(dir);
  }

  async dropCached(name: string): Promise<void> {
    await this.inner.dropCached?.(name);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export function alreadyExists(location: string, name: string): AppError {
  return new AppError('CONFLICT', `${location}/${name} exists already, and an append-only client may not replace it`, { path: `${location}/${name}`, reason: 'already-exists' });
}
