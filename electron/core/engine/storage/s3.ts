// The S3 backend (AWS SDK v3): a repository under a key prefix of a bucket
// of any S3-compatible server (Ceph radosgw, AWS, ...).
//
// - Save: one PutObject of the whole object under its final key. S3 makes
//   an object visible whole or not at all, so no temp name and no rename
//   are needed; Content-MD5 lets the server refuse bytes damaged on the way.
//   The SDK's own CRC trailers are off (WHEN_REQUIRED): radosgw 16.2 does not
//   know the newer checksum headers, and MD5 covers the same ground.
// - Load: a GetObject (ranged when asked); the size the server announces is
//   checked against the caller's bound before the body is read, and the
//   body is read only up to that size: a server that sends more, or less,
//   than it said gives REPO_CORRUPT, never a bigger buffer.
// - List: ListObjectsV2 with '/' as delimiter, so "folders" are the common
//   prefixes; paginated, at most MAX_LIST_ENTRIES entries, every name
//   checked (checkName) and every key required to be under the prefix asked.
// - Remove: HeadObject then DeleteObject per name (S3's delete says nothing
//   about whether the object existed, and the callers count what existed).
// - Path-style addressing (host/bucket/key): what self-hosted servers on an
//   address or a single host name answer to, and what AWS still serves.
// - Errors: a refused key or signature is REMOTE_AUTH_FAILED at once;
//   network errors, 5xx and throttling are retried with backoff (the SDK's
//   own retries are off so that one policy, shared with SFTP, rules), then
//   REMOTE_UNAVAILABLE; a missing bucket is REPO_NOT_FOUND; a quota the
//   server enforces is DISK_FULL (EDQUOT), as a full disk would be.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

import { AppError } from '../../../common/contract';
import type { S3Location } from './location';
import { type LoadOptions, MAX_LIST_ENTRIES, type ObjectVersion, type RepoStorage, type StorageEntry, type StorageStat, checkName, checkRelPath, unreachableError } from './storage';

export interface S3Credentials {
  accessKeyId?: string;
  secretAccessKey?: string;
  /** The region requests are signed for; default us-east-1 (what radosgw's default zonegroup accepts). */
  region?: string;
}

export interface S3RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

export const DEFAULT_S3_RETRY: S3RetryPolicy = { attempts: 5, baseDelayMs: 500 };

export interface S3StorageOptions {
  retry?: S3RetryPolicy;
  /** TCP connection timeout. */
  connectTimeoutMs?: number;
  /** No bytes on a request's socket for this long ends it (and the attempt is retried). */
  stallTimeoutMs?: number;
  onSave?: (name: string, bytes: number) => void;
  /** Keys per listing page (the server may give fewer); default the server's (1000 on S3 and radosgw). */
  listPageKeys?: number;
  /**
   * Stat by listing the exact key (ListBucket) instead of HEAD, which S3
   * allows only with GetObject: an append-only client's policy grants it
   * no GetObject on packs (docs/append-only-design.md §2.7).
   */
  statByListing?: boolean;
}

// The SDK warns on every process under Node < 22 that its releases after
// January 2027 will need Node 22. The version is pinned (package-lock), so
// the warning is for whoever upgrades it, not for a user of the CLI, whose
// stderr it would fill before every message (docs/remote-repositories.md
// says it).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const AUTH_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'AuthorizationHeaderMalformed']);
const RETRY_CODES = new Set(['SlowDown', 'RequestTimeout', 'ServiceUnavailable', 'InternalError', 'ThrottlingException']);
/** Delete requests run this many at a time. */
const REMOVE_IN_FLIGHT = 8;
/** Pages a listing may take: enough for MAX_LIST_ENTRIES at 1000 a page, with room for servers that page smaller. */
const MAX_LIST_PAGES = 20_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function statusOf(e: unknown): number | undefined {
  if (e instanceof S3ServiceException) return e.$metadata.httpStatusCode;
  return undefined;
}

function codeOf(e: unknown): string {
  if (e instanceof S3ServiceException) return e.name;
  return e instanceof Error ? e.name : '';
}

/** A failure of the way to the server (or of the server as a whole), worth another try. */
function isTransient(e: unknown): boolean {
  if (e instanceof AppError) return false;
  if (!(e instanceof S3ServiceException)) return true;
  const status = e.$metadata.httpStatusCode ?? 0;
  return status >= 500 || status === 429 || RETRY_CODES.has(e.name) || status === 0;
}

export class S3Storage implements RepoStorage {
  readonly remote = true;
  readonly location: string;
  private readonly client: S3Client;
  private readonly retry: S3RetryPolicy;
  private readonly base: string;
  private closed = false;

  constructor(
    readonly loc: S3Location,
    creds: S3Credentials,
    private readonly opts: S3StorageOptions = {},
  ) {
    this.location = loc.url;
    this.retry = opts.retry ?? DEFAULT_S3_RETRY;
    this.base = loc.prefix === '' ? '' : `${loc.prefix}/`;
    if (creds.accessKeyId === undefined || creds.secretAccessKey === undefined)
      throw new AppError('REMOTE_AUTH_FAILED', `${loc.url}: an access key id and its secret are needed`, { location: loc.url });
    this.client = new S3Client({
      endpoint: loc.endpoint,
      region: creds.region ?? 'us-east-1',
      forcePathStyle: true,
      // Only what was given here: never the environment's or ~/.aws's keys.
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: opts.connectTimeoutMs ?? 20_000, requestTimeout: opts.stallTimeoutMs ?? 120_000 },
    });
  }

  private key(name: string): string {
    checkRelPath(this.location, name);
    return `${this.base}${name}`;
  }

  private where(): string {
    return `${this.loc.host}:${this.loc.port}`;
  }

  /** Runs `fn`; transient failures are retried with backoff, then REMOTE_UNAVAILABLE; the rest mapped at once. */
  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new AppError('INTERNAL', `the connection to ${this.location} is closed`);
    let last: unknown;
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      if (attempt > 0) await sleep(this.retry.baseDelayMs * 2 ** (attempt - 1));
      try {
        return await fn();
      } catch (e) {
        if (!isTransient(e)) throw this.mapError(e, what);
        last = e;
      }
    }
    const cause = last instanceof Error ? `${codeOf(last)}: ${last.message}` : String(last);
    throw unreachableError(this.location, what, this.where(), this.retry.attempts, cause);
  }

  private mapError(e: unknown, what: string): AppError {
    if (e instanceof AppError) return e;
    const code = codeOf(e);
    const status = statusOf(e);
    const msg = e instanceof Error ? e.message : String(e);
    const details = { location: this.location, s3Code: code, ...(status !== undefined && { httpStatus: status }) };
    if (AUTH_CODES.has(code))
      return new AppError('REMOTE_AUTH_FAILED', `the server ${this.where()} refused the access key (${code}: wrong access key id or secret?)`, details);
    if (code === 'NoSuchBucket')
      return new AppError('REPO_NOT_FOUND', `${what}: the bucket ${this.loc.bucket} does not exist on ${this.where()} (create it first, or check the location)`, { ...details, reason: 'no-such-bucket' });
    if (code === 'QuotaExceeded')
      return new AppError('DISK_FULL', `${what}: the server ${this.where()} refused it: the account's quota is used up (free space or raise the quota)`, { ...details, errnoName: 'EDQUOT' });
    if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) return new AppError('NOT_FOUND', `${what}: no such object`, { ...details, errnoName: 'ENOENT' });
    if (code === 'AccessDenied' || status === 403) return new AppError('PERMISSION_DENIED', `${what}: the server denied it (${code})`, { ...details, errnoName: 'EACCES' });
    if (code === 'PreconditionFailed' || status === 412)
      return new AppError('CONFLICT', `${what}: an object of that name exists already`, { ...details, reason: 'already-exists' });
    if (code === 'InvalidRange' || status === 416) return new AppError('REPO_CORRUPT', `${what}: the object is shorter than the range asked for`, { ...details, path: what });
    return new AppError('IO_ERROR', `${what}: ${code ? `${code}: ` : ''}${msg}`, details);
  }

  async save(name: string, data: Buffer): Promise<void> {
    const Key = this.key(name);
    const md5 = createHash('md5').update(data).digest('base64');
    await this.run(`write ${this.location}/${name}`, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.loc.bucket, Key, Body: data, ContentLength: data.length, ContentMD5: md5, ContentType: 'application/octet-stream' })),
    );
    this.opts.onSave?.(name, data.length);
  }

  /**
   * PutObject with If-None-Match: *: the server refuses it when the key
   * exists (412). A server that ignores the condition replaces the object:
   * what keeps the old one there is the bucket's versioning (§3.1). A retry
   * of a PUT whose answer was lost meets our own object: 'exists', whole.
   */
  async create(name: string, data: Buffer): Promise<'created' | 'exists'> {
    const Key = this.key(name);
    const md5 = createHash('md5').update(data).digest('base64');
    try {
      await this.run(`create ${this.location}/${name}`, () =>
        this.client.send(new PutObjectCommand({ Bucket: this.loc.bucket, Key, Body: data, ContentLength: data.length, ContentMD5: md5, ContentType: 'application/octet-stream', IfNoneMatch: '*' })),
      );
    } catch (e) {
      if (e instanceof AppError && e.details?.['reason'] === 'already-exists') return 'exists';
      throw e;
    }
    this.opts.onSave?.(name, data.length);
    return 'created';
  }

  load(name: string, opts: LoadOptions): Promise<Buffer> {
    return this.read(name, opts, undefined);
  }

  loadVersion(name: string, versionId: string, opts: { maxBytes: number }): Promise<Buffer> {
    return this.read(name, opts, versionId);
  }

  /**
   * ListObjectVersions of the exact key, oldest first (S3 lists a key's
   * versions newest first); delete markers are not versions. A bucket
   * without versioning lists the one object (version id "null").
   */
  async versions(name: string): Promise<ObjectVersion[]> {
    const Key = this.key(name);
    const shown = `${this.location}/${name}`;
    const unsafe = (why: string) => new AppError('REPO_UNSAFE', `refusing the versions of ${shown}: ${why} (is the server tampered with?)`, { path: shown, found: 'bad listing' });
    const out: ObjectVersion[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= MAX_LIST_PAGES) throw unsafe(`more than ${MAX_LIST_PAGES} pages`);
      const [km, vm] = [keyMarker, versionMarker];
      const res = await this.run(`list the versions of ${shown}`, () =>
        this.client.send(new ListObjectVersionsCommand({ Bucket: this.loc.bucket, Prefix: Key, ...(km !== undefined && { KeyMarker: km }), ...(vm !== undefined && { VersionIdMarker: vm }) })),
      );
      for (const v of res.Versions ?? []) {
        if (v.Key !== Key) continue;
        const size = v.Size;
        if (typeof v.VersionId !== 'string' || v.VersionId === '' || size === undefined || !Number.isSafeInteger(size) || size < 0) throw unsafe('a version without a valid id or size');
        out.push({ versionId: v.VersionId, size, latest: v.IsLatest === true });
        if (out.length > MAX_LIST_ENTRIES) throw unsafe(`more than ${MAX_LIST_ENTRIES} versions`);
      }
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      versionMarker = res.NextVersionIdMarker;
      if (keyMarker === km && versionMarker === vm) throw unsafe('the server gave no new page marker on a truncated page');
    }
    return out.reverse();
  }

  private async read(name: string, opts: LoadOptions, versionId: string | undefined): Promise<Buffer> {
    const Key = this.key(name);
    const shown = `${this.location}/${name}`;
    let range: string | undefined;
    let want: number | undefined;
    if (opts.offset !== undefined) {
      const offset = opts.offset;
      const length = opts.length;
      if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0 || length > opts.maxBytes)))
        throw new AppError('REPO_CORRUPT', `${shown}: range ${offset}+${length ?? '?'} is beyond ${opts.maxBytes} bytes`, { path: shown });
      if (length === 0) {
        const st = await this.stat(name);
        if (!st) throw new AppError('NOT_FOUND', `read ${shown}: no such object`, { location: this.location, errnoName: 'ENOENT' });
        if (offset > st.size) throw new AppError('REPO_CORRUPT', `${shown} has ${st.size} bytes, shorter than the range ${offset}+0`, { path: shown, size: st.size });
        return Buffer.alloc(0);
      }
      range = length === undefined ? `bytes=${offset}-` : `bytes=${offset}-${offset + length - 1}`;
      want = length;
    }
    return this.run(`read ${shown}`, async () => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key, ...(range !== undefined && { Range: range }), ...(versionId !== undefined && { VersionId: versionId }) }));
      const body = out.Body;
      if (!(body instanceof Readable)) throw new AppError('INTERNAL', `read ${shown}: the S3 client gave no stream`);
      try {
        const size = out.ContentLength;
        if (size === undefined || !Number.isSafeInteger(size) || size < 0) throw new AppError('REPO_CORRUPT', `${shown}: the server gave no valid length`, { path: shown });
        if (want === undefined && size > opts.maxBytes)
          throw new AppError('REPO_CORRUPT', `${shown} has ${size} bytes, more than the ${opts.maxBytes} such a file may have`, { path: shown, size, maxBytes: opts.maxBytes });
        if (want !== undefined && size !== want) throw new AppError('REPO_CORRUPT', `${shown} is shorter than the range ${opts.offset}+${want} (the server sent ${size} bytes)`, { path: shown, size });
        return await readExactly(body, size, shown);
      } finally {
        body.destroy();
      }
    });
  }

  async stat(name: string): Promise<StorageStat | undefined> {
    const Key = this.key(name);
    if (this.opts.statByListing) return this.statListed(name, Key);
    try {
      return await this.run(`stat ${this.location}/${name}`, async () => {
        const h = await this.client.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key }));
        const size = h.ContentLength;
        const mtime = h.LastModified?.getTime();
        if (size === undefined || !Number.isSafeInteger(size) || size < 0 || mtime === undefined || !Number.isFinite(mtime))
          throw new AppError('REPO_CORRUPT', `${this.location}/${name}: the server gave no valid size or time`, { path: `${this.location}/${name}` });
        return { size, mtimeMs: mtime };
      });
    } catch (e) {
      if (e instanceof AppError && e.details?.['errnoName'] === 'ENOENT') return undefined;
      // HEAD needs s3:GetObject, which an append-only client's policy denies
      // on packs (§3.1); listing the key needs only s3:ListBucket. The login
      // itself was checked at connect, so a 403 here is that policy.
      if (e instanceof AppError && e.code === 'PERMISSION_DENIED') return this.statListed(name, Key);
      throw e;
    }
  }

  private async statListed(name: string, Key: string): Promise<StorageStat | undefined> {
    const shown = `${this.location}/${name}`;
    const res = await this.run(`stat ${shown}`, () => this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: Key, MaxKeys: 1 })));
    // Keys sort, so the exact key is the first one with it as a prefix.
    const o = res.Contents?.[0];
    if (o === undefined || o.Key !== Key) return undefined;
    const size = o.Size;
    const mtime = o.LastModified?.getTime();
    if (size === undefined || !Number.isSafeInteger(size) || size < 0 || mtime === undefined || !Number.isFinite(mtime))
      throw new AppError('REPO_CORRUPT', `${shown}: the server gave no valid size or time`, { path: shown });
    return { size, mtimeMs: mtime };
  }

  async list(dir: string): Promise<StorageEntry[]> {
    const prefix = dir === '' ? this.base : `${this.key(dir)}/`;
    const shown = `${this.location}/${dir}`;
    const unsafe = (why: string) => new AppError('REPO_UNSAFE', `refusing a listing of ${shown}: ${why} (is the server tampered with?)`, { path: shown, found: 'bad listing' });
    const out: StorageEntry[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= MAX_LIST_PAGES) throw unsafe(`more than ${MAX_LIST_PAGES} pages`);
      const asked = token;
      const res: ListObjectsV2CommandOutput = await this.run(`list ${shown}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, Delimiter: '/', ...(this.opts.listPageKeys !== undefined && { MaxKeys: this.opts.listPageKeys }), ...(asked !== undefined && { ContinuationToken: asked }) })),
      );
      const add = (full: string | undefined, type: 'file' | 'dir') => {
        if (full === undefined || !full.startsWith(prefix)) throw unsafe(`the server named ${JSON.stringify(String(full).slice(0, 80))}, outside the prefix asked for`);
        let rest = full.slice(prefix.length);
        if (type === 'dir') rest = rest.slice(0, -1);
        // An empty "folder" object some tools make (key ending in '/'): nothing to list.
        if (type === 'file' && rest === '') return;
        checkName(this.location, dir, rest);
        const id = `${type}:${rest}`;
        if (seen.has(id)) return;
        seen.add(id);
        out.push(type === 'file' ? { name: rest, type, what: 'object' } : { name: rest, type, what: 'prefix' });
        if (out.length > MAX_LIST_ENTRIES) throw unsafe(`more than ${MAX_LIST_ENTRIES} entries`);
      };
      for (const o of res.Contents ?? []) add(o.Key, 'file');
      for (const p of res.CommonPrefixes ?? []) {
        if (p.Prefix !== undefined && !p.Prefix.endsWith('/')) throw unsafe(`the server gave the folder ${JSON.stringify(p.Prefix.slice(0, 80))} without its delimiter`);
        add(p.Prefix, 'dir');
      }
      if (!res.IsTruncated) break;
      token = res.NextContinuationToken;
      if (token === undefined || token === asked) throw unsafe('the server gave no new page token on a truncated page');
    }
    return out;
  }

  async remove(names: string[]): Promise<number> {
    // A name given twice is one object: removed (and counted) once.
    names = [...new Set(names)];
    let n = 0;
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++] ?? '';
        const Key = this.key(name);
        // Head first: the count of objects that existed is part of the contract.
        if ((await this.stat(name)) === undefined) continue;
        await this.run(`remove ${this.location}/${name}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.loc.bucket, Key })));
        n++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(REMOVE_IN_FLIGHT, names.length) }, worker));
    return n;
  }

  async mkdir(): Promise<void> {
    /* folders are key prefixes: they appear by saving into them */
  }

  /** Checks the keys and the bucket now (init and open call it first, so a wrong key or a missing bucket is said before anything else). */
  async connectNow(): Promise<void> {
    try {
      await this.run(`connect to ${this.location}`, () => this.client.send(new HeadBucketCommand({ Bucket: this.loc.bucket })));
    } catch (e) {
      // HEAD answers carry no body, so a missing bucket is a bare 404 and a bad key a bare 403: ask once more with a GET-type request that says why.
      if (e instanceof AppError && (e.code === 'NOT_FOUND' || e.code === 'PERMISSION_DENIED')) {
        await this.run(`connect to ${this.location}`, () => this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: this.base, MaxKeys: 1 })));
        return;
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.destroy();
  }
}

/** Reads exactly `size` bytes of the body: more is REPO_CORRUPT at once (never buffered), fewer is REPO_CORRUPT at its end. */
async function readExactly(body: Readable, size: number, shown: string): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  let got = 0;
  for await (const chunk of body) {
    const b = chunk instanceof Buffer ? chunk : Buffer.from(chunk as Uint8Array);
    if (got + b.length > size) throw new AppError('REPO_CORRUPT', `${shown}: the server sent more than the ${size} bytes it announced`, { path: shown, size });
    b.copy(out, got);
    got += b.length;
  }
  if (got !== size) throw new AppError('REPO_CORRUPT', `${shown} ended after ${got} of the ${size} bytes the server announced`, { path: shown, size });
  return out;
}
