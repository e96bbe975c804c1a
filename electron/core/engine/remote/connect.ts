// Opening a remote repository's storage: the connection (with the host key
// check and the login first, so those errors come before anything else),
// the storage the engine's files go through, and the working copy the
// native engine works on.
import { defaultCacheRoot } from '../index-cache';
import { isS3Location, parseS3Location, parseSftpLocation } from '../storage/location';
import { attachStorage } from '../storage/registry';
import type { S3Credentials, S3Storage } from '../storage/s3';
import type { RetryPolicy, SftpCredentials, SftpStorage } from '../storage/sftp';
import { RemoteRepoStorage } from './remote-storage';
import { WorkingCopy, workingCopyDir } from './working-copy';

/** How to reach a remote repository: credentials, the pinned host key, and the retry policy. */
export interface RemoteAccess extends SftpCredentials, S3Credentials {
  retry?: RetryPolicy;
  readyTimeoutMs?: number;
  /** Packs the read cache of restore, verify and readers keeps (16 MiB each; default READ_CACHE_PACKS). */
  readCachePacks?: number;
  /**
   * SFTP, the owner of an append-only repository: its folder is shared with
   * the clients' account through a group, so the owner's files are made
   * group-readable and its folders group-writable (sftp.ts `sharedGroup`).
   * The engine sets it itself for an append-only init and for every open
   * of a format-3 repository; this asks for it up front.
   */
  sharedGroup?: boolean;
}

export interface RemoteConnection {
  /** The canonical location (sftp://user@host[:port]/path or s3[+http]://host[:port]/bucket[/prefix]). */
  location: string;
  readCachePacks: number | undefined;
  storage: RemoteRepoStorage;
  wc: WorkingCopy;
  /** The fingerprint of the server's host key (to pin at first use); undefined for S3 (TLS checks the server). */
  hostKey: string | undefined;
  /** SFTP: files group-readable, folders 2770 from now on (an append-only repository, sftp.ts `sharedGroup`); S3: nothing. */
  shareWithGroup(): void;
  release(): Promise<void>;
}

/** The backend of a remote location, logged in (a wrong key, password or host key, or a missing bucket, fails here). */
export async function openBackend(location: string, access: RemoteAccess | undefined): Promise<{ backend: SftpStorage | S3Storage; url: string; hostKey: string | undefined }> {
  // The AWS SDK and ssh2 are loaded when a remote location is opened, not
  // at start: they are a third of the CLI's start-up time (about 0.45 of
  // 1.5 s here), which every local command paid.
  if (isS3Location(location)) {
    const loc = parseS3Location(location);
    const { S3Storage } = await import('../storage/s3.js');
    const s3 = new S3Storage(loc, access ?? {}, { ...(access?.retry && { retry: access.retry }), ...(access?.readyTimeoutMs !== undefined && { connectTimeoutMs: access.readyTimeoutMs }) });
    try {
      await s3.connectNow();
    } catch (e) {
      await s3.close();
      throw e;
    }
    return { backend: s3, url: loc.url, hostKey: undefined };
  }
  const loc = parseSftpLocation(location);
  const { SftpStorage } = await import('../storage/sftp.js');
  const sftp = new SftpStorage(loc, access ?? {}, {
    ...(access?.retry && { retry: access.retry }),
    ...(access?.readyTimeoutMs !== undefined && { readyTimeoutMs: access.readyTimeoutMs }),
    ...(access?.sharedGroup === true && { sharedGroup: true }),
  });
  // Every open logs in itself, also when the location is open already (and
  // its connection is then shared): a wrong password or a changed host key
  // is never hidden by another handle's session.
  await sftp.connectNow();
  return { backend: sftp, url: loc.url, hostKey: sftp.hostKey };
}

export async function connectRemote(location: string, access: RemoteAccess | undefined, cacheRoot: string | null | undefined): Promise<RemoteConnection> {
  const { backend, url, hostKey } = await openBackend(location, access);
  let wc: WorkingCopy | undefined;
  const attached = attachStorage(new RemoteRepoStorage(backend, () => wc));
  try {
    const storage = attached.storage as RemoteRepoStorage;
    wc = await WorkingCopy.open(workingCopyDir(cacheRoot ?? defaultCacheRoot(), url), storage);
    const shareWithGroup = () => {
      if ('shareWithGroup' in backend) backend.shareWithGroup();
    };
    return { location: url, readCachePacks: access?.readCachePacks, storage, wc, hostKey, shareWithGroup, release: attached.release };
  } catch (e) {
    await attached.release();
    throw e;
  }
}

/** Runs `fn` with the location's storage open (locks, which need no key); `fn` gets the canonical location. */
export async function withRemoteLocation<T>(location: string, access: RemoteAccess | undefined, fn: (location: string) => Promise<T>): Promise<T> {
  const r = await connectRemote(location, access, undefined);
  try {
    return await fn(r.location);
  } finally {
    await r.release();
  }
}
