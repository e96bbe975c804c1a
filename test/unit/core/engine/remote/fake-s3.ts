// A stand-in for S3Storage over a local directory, for tests that need a
// remote repository whose uploads they can cut short, without a server:
// a test file replaces the module with
//   vi.mock('.../electron/core/engine/storage/s3', async () => (await import('./fake-s3')).fakeS3Module());
// and uses any s3+http:// location; the objects are files under
// `fakeS3.root/<bucket>/<prefix>/`. The access key id 'client' acts like an
// append-only client's login under docs/append-only-design.md §3.1's policy
// in an unversioned bucket: no delete, no overwrite (create answers
// 'exists'), no versions, and `keys/owner` unreadable. Pack reads stay
// allowed (as on SFTP) unless denyClientPackReads (as on S3).
// fakeS3.replace is what a client's overwrite in a versioned bucket does.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../../../../electron/common/contract';
import type { RemoteAccess } from '../../../../../electron/core/engine/remote/connect';
import type { S3Location } from '../../../../../electron/core/engine/storage/location';
import type { S3Credentials } from '../../../../../electron/core/engine/storage/s3';
import type { LoadOptions, ObjectVersion, RepoStorage, StorageEntry, StorageStat } from '../../../../../electron/core/engine/storage/storage';

/**
 * What the next write of a matching name does instead of a whole save:
 * keeps only the first `keep` bytes, then throws (an upload cut by a lost
 * connection) or reports success ('silent': a server that kept a short or
 * other object and said nothing).
 */
export interface Cut {
  match: RegExp;
  keep: number;
  mode: 'throw' | 'silent';
}

/** The passphrases and logins the tests over this store use: 'client' acts as the append-only client. */
export const OWNER = 'owner passphrase';
export const CLIENT = 'client passphrase';
export const owner: RemoteAccess = { accessKeyId: 'owner', secretAccessKey: 'x' };
export const client: RemoteAccess = { accessKeyId: 'client', secretAccessKey: 'x' };

export const fakeS3 = {
  root: '',
  /** Applied once, to the first write whose name matches. */
  cut: undefined as Cut | undefined,
  /** Names whose writes were cut. */
  cutNames: [] as string[],
  /** The client's login may not read packs either (§3.1's ClientNoRead), as on S3. */
  denyClientPackReads: false,
  /** Older versions of objects replaced by `replace`, by file, oldest first (a versioned bucket). */
  history: new Map<string, Buffer[]>(),
  /** What an overwrite in a versioned bucket does: the file gets `data`, its old content stays a version. */
  replace(file: string, data: Buffer): void {
    this.history.set(file, [...(this.history.get(file) ?? []), fs.readFileSync(file)]);
    fs.writeFileSync(file, data);
  },
};

function denied(what: string, location: string): AppError {
  return new AppError('PERMISSION_DENIED', `${what}: the server denied it (AccessDenied)`, { location, s3Code: 'AccessDenied', httpStatus: 403, errnoName: 'EACCES' });
}

export class FakeS3Storage implements RepoStorage {
  readonly remote = true;
  readonly location: string;
  private readonly dir: string;
  private readonly client: boolean;

  constructor(loc: S3Location, creds: S3Credentials) {
    this.location = loc.url;
    this.dir = path.join(fakeS3.root, loc.bucket, loc.prefix);
    this.client = creds.accessKeyId === 'client';
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  private write(name: string, data: Buffer): void {
    const f = this.file(name);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    const cut = fakeS3.cut;
    if (cut && cut.match.test(name)) {
      fakeS3.cut = undefined;
      fakeS3.cutNames.push(name);
      fs.writeFileSync(f, data.subarray(0, cut.keep));
      if (cut.mode === 'throw') throw new AppError('IO_ERROR', `write ${this.location}/${name}: the connection was lost (a test cut it)`, { location: this.location });
      return;
    }
    fs.writeFileSync(f, data);
  }

  async save(name: string, data: Buffer): Promise<void> {
    if (this.client && fs.existsSync(this.file(name))) throw denied(`write ${this.location}/${name}`, this.location);
    this.write(name, data);
  }

  async create(name: string, data: Buffer): Promise<'created' | 'exists'> {
    if (fs.existsSync(this.file(name))) return 'exists';
    this.write(name, data);
    return 'created';
  }

  async load(name: string, opts: LoadOptions): Promise<Buffer> {
    if (this.client && (name === 'keys/owner' || (fakeS3.denyClientPackReads && name.startsWith('packs/')))) throw denied(`read ${this.location}/${name}`, this.location);
    let data: Buffer;
    try {
      data = fs.readFileSync(this.file(name));
    } catch {
      throw new AppError('NOT_FOUND', `read ${this.location}/${name}: no such object`, { location: this.location, errnoName: 'ENOENT' });
    }
    if (opts.offset === undefined) {
      if (data.length > opts.maxBytes) throw new AppError('REPO_CORRUPT', `${this.location}/${name} is too big`, { path: name });
      return data;
    }
    const end = opts.length === undefined ? data.length : opts.offset + opts.length;
    if (end > data.length) throw new AppError('REPO_CORRUPT', `${this.location}/${name} is shorter than the range asked for`, { path: name });
    return data.subarray(opts.offset, end);
  }

  /** Versions "v0".. (older, from `replace`) and "current"; a client's login may not list them (§3.1's ClientNever). */
  async versions(name: string): Promise<ObjectVersion[] | undefined> {
    if (this.client) throw denied(`list the versions of ${this.location}/${name}`, this.location);
    const st = await this.stat(name);
    const older = (fakeS3.history.get(this.file(name)) ?? []).map((b, i) => ({ versionId: `v${i}`, size: b.length, latest: false }));
    return st ? [...older, { versionId: 'current', size: st.size, latest: true }] : older;
  }

  async loadVersion(name: string, versionId: string, opts: { maxBytes: number }): Promise<Buffer> {
    if (this.client) throw denied(`read ${this.location}/${name} (version ${versionId})`, this.location);
    if (versionId === 'current') return this.load(name, opts);
    const b = fakeS3.history.get(this.file(name))?.[Number(versionId.slice(1))];
    if (!b) throw new AppError('NOT_FOUND', `read ${this.location}/${name} (version ${versionId}): no such version`, { location: this.location, errnoName: 'ENOENT' });
    return b;
  }

  async stat(name: string): Promise<StorageStat | undefined> {
    try {
      const st = fs.statSync(this.file(name));
      return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : undefined;
    } catch {
      return undefined;
    }
  }

  async list(dir: string): Promise<StorageEntry[]> {
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(this.file(dir), { withFileTypes: true });
    } catch {
      return [];
    }
    return names.map((d) => (d.isDirectory() ? { name: d.name, type: 'dir', what: 'prefix' } : { name: d.name, type: 'file', what: 'object' }));
  }

  async remove(names: string[]): Promise<number> {
    if (this.client) throw denied(`remove ${this.location}/${names[0] ?? ''}`, this.location);
    let n = 0;
    for (const name of new Set(names)) {
      if (!fs.existsSync(this.file(name))) continue;
      fs.rmSync(this.file(name));
      n++;
    }
    return n;
  }

  async mkdir(): Promise<void> {
    /* folders appear by saving into them */
  }

  async connectNow(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
  }

  async close(): Promise<void> {
    /* nothing held */
  }
}

/** The module vi.mock puts in place of storage/s3. */
export function fakeS3Module(): Record<string, unknown> {
  return { S3Storage: FakeS3Storage };
}
