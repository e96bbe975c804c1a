// The Engine of api.ts: creates and opens repositories.
import * as fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

import { AppError, type RemoteProbe } from '../../common/contract';
import { fastCryptoAvailable, openNativeRepo } from '../../../native/engine';
import type { Engine, InitOptions, OpenOptions, RepositoryHandle } from './api';
import { changedRanges } from './changed-ranges';
import { type RepoConfig, readConfig, sealConfig, verifyConfig, writeConfig } from './config';
import { type RepoPin, checkPin, checkPinnedKeys, mergePin, pinOf } from './config-pin';
import { toAppError } from './errors';
import { APPEND_ONLY_VERSION, DEFAULT_CHUNK_SIZE, FORMAT_NAME, FORMAT_VERSION, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, PACK_SIZE, rel } from './format';
import { indexCacheDir } from './index-cache';
import { type RepoKeys, checkAppendOnlyPassphrases, createAppendOnlyKeys, createKeys, nativeCrypto, slotText, unlockKeys } from './keys';
import { listRepoEntries, mkdirRepo, writeRepoFile } from './repo-files';
import { type RemoteAccess, type RemoteConnection, connectRemote } from './remote/connect';
import { probeRemote } from './remote/probe';
import { RemoteNative } from './remote/remote-native';
import { mapLimit } from './remote/working-copy';
import { Repository } from './repository';
import { isRemoteLocation, parseLocation } from './storage/location';
import { markAppendOnly } from './storage/registry';
import { type UpgradeReport, upgradeRepository } from './upgrade';

/** Bucket folders an append-only init makes at once. */
const BUCKET_MKDIRS = 16;

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * The keys of a repository whose config was read, checked against that
 * config and what this computer pinned, and the pin to keep after the open:
 * everything of an open that is not the native engine's.
 */
export async function unlockRepository(
  path: string,
  config: RepoConfig,
  passphrase: string | undefined,
  pin: RepoPin | undefined,
): Promise<{ keys: RepoKeys; pin: RepoPin }> {
  // Identity and encryption first: a swapped config costs no key derivation.
  checkPin(config, pin, path);
  const keys = await unlockKeys(config, passphrase, path, pin?.role);
  verifyConfig(config, keys, path);
  checkPinnedKeys(keys, pin, path);
  return { keys, pin: mergePin(pin, pinOf(config, keys)) };
}

async function openWith(
  path: string,
  config: RepoConfig,
  passphrase: string | undefined,
  pin: RepoPin | undefined,
  cacheRoot?: string | null,
  remote?: RemoteConnection,
): Promise<RepositoryHandle> {
  const unlocked = await unlockRepository(path, config, passphrase, pin);
  const keys = unlocked.keys;
  const cacheDir = await indexCacheDir(config.id, cacheRoot);
  // A remote repository: the native engine works on the working copy, and
  // asks for packs it lacks through `fetchPack` (remote/remote-native.ts).
  // The engine holds that function: it reaches the wrapper through `link`,
  // cut at close, so the two do not keep each other alive.
  const link: { to?: RemoteNative } = {};
  const inner = openNativeRepo({
    path: remote ? remote.wc.dir : path,
    idKey: keys.idKey,
    ...nativeCrypto(config, keys),
    version: config.version,
    ...(cacheDir !== undefined && { cacheDir }),
    ...(remote && {
      fetchPack: (id: string) => link.to?.fetchForEngine(id) ?? Promise.reject(new AppError('INTERNAL', `${path} is closed`)),
    }),
  });
  const native = remote ? (link.to = new RemoteNative(inner, remote.wc, remote.readCachePacks)) : inner;
  await native.loadIndex();
  // An append-only client adds objects and never replaces or removes one,
  // whatever its code would do (storage/append-only.ts); the server's rules
  // for its login say the same.
  const client = keys.role === 'client';
  if (remote && client) remote.wc.appendOnly = true;
  const unmark = client ? markAppendOnly(path) : undefined;
  const close = {
    hostKey: remote?.hostKey,
    close: async () => {
      try {
        await link.to?.close();
        link.to = undefined;
        await remote?.release();
      } finally {
        unmark?.();
      }
    },
  };
  return new Repository(path, config, native, unlocked.pin, keys, close);
}

/**
 * Writes a new repository at `path` (a local path, or a remote location
 * whose connection is open): its folders, its key objects (format 3) and
 * its config, the config last, so a killed init leaves no repository.
 * Returns the config written.
 */
export async function createRepository(opts: InitOptions, path: string, chunkSize: number, remote: boolean): Promise<RepoConfig> {
  const entries = remote
    ? await remoteEntries(path)
    : await fs.readdir(path).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return [] as string[];
        throw e;
      });
  if (entries.includes('config')) throw new AppError('REPO_EXISTS', `a repository already exists at ${path}`, { path });
  // What a killed init leaves (our folders and key objects, no config) may be reused.
  const ours = new Set(['points', 'lists', 'index', 'packs', 'locks', 'tmp', 'keys']);
  if (entries.some((e) => !ours.has(e) && !(remote && e.startsWith('.snapkeep-tmp-')))) throw new AppError('INVALID_ARGUMENT', `${path} is not empty`, { path });
  // The root is the user's path; a new one is private, as is everything
  // below it (repo-files.ts: 0700 directories, 0600 files), whatever the
  // umask: an unencrypted repository holds whole disks (security #8).
  if (remote) await mkdirRepo(path, '');
  else {
    const created = await fs.mkdir(path, { recursive: true, mode: 0o700 });
    if (created !== undefined) await fs.chmod(path, 0o700);
  }
  const folders = [rel.points, rel.lists, rel.index, rel.packs, rel.locks, rel.tmp];
  for (const d of opts.appendOnly ? [...folders, rel.keys] : folders) await mkdirRepo(path, d);
  // Every bucket now: an append-only client may not make folders (§3.2).
  // 512 folders, a round trip or two each on a server: several at a time.
  if (opts.appendOnly) {
    const buckets = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).flatMap((xx) => [`${rel.packs}/${xx}`, `${rel.lists}/${xx}`]);
    await mapLimit(buckets, BUCKET_MKDIRS, (d) => mkdirRepo(path, d));
  }
  // Chosen once, here: a repository keeps its algorithms for life.
  const set = opts.algorithms ?? (fastCryptoAvailable() ? 'fast' : 'classic');
  const id = randomBytes(8).toString('hex');
  // The fields in the order configs have always been written in.
  const head = (version: number) => ({ format: FORMAT_NAME, version, id, createdAt: new Date().toISOString(), chunkSize, packSize: PACK_SIZE }) as const;
  let sealed: RepoConfig;
  if (opts.appendOnly) {
    const { keys, fields, slots } = await createAppendOnlyKeys(opts.passphrase, opts.appendOnly.clientPassphrase, set, id);
    sealed = sealConfig({ ...head(APPEND_ONLY_VERSION), ...fields, mac: '' /* sealConfig's */ }, keys);
    // The key objects before the config that makes them a repository's.
    for (const role of ['owner', 'client'] as const) await writeRepoFile(path, rel.keySlot(role), slotText(slots[role]));
  } else {
    const { keys, fields } = await createKeys(opts.passphrase, set);
    sealed = sealConfig({ ...head(FORMAT_VERSION), ...fields }, keys);
  }
  // The config is written last: a killed init leaves no repository.
  await writeConfig(path, sealed);
  return sealed;
}

/** Runs `fn` with the remote repository's connection; released when `fn` fails (the handle releases it otherwise). */
async function withRemote<T>(opts: OpenOptions, fn: (path: string, remote: RemoteConnection | undefined) => Promise<T>): Promise<T> {
  if (!isRemoteLocation(opts.path)) return fn(opts.path, undefined);
  const remote = await connectRemote(opts.path, opts.remote, opts.cacheDir);
  try {
    return await fn(remote.location, remote);
  } catch (e) {
    await remote.release();
    throw e;
  }
}

/** What a remote repository's folder holds; [] when it does not exist. */
async function remoteEntries(path: string): Promise<string[]> {
  return (await listRepoEntries(path, '')).map((e) => e.name);
}

export class SnapkeepEngine implements Engine {
  async init(opts: InitOptions): Promise<RepositoryHandle> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!isPowerOfTwo(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE)
      throw new AppError('INVALID_ARGUMENT', `chunk size must be a power of two between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE}`);
    parseLocation(opts.path);
    // Refused before a connection is made or a folder created.
    if (opts.appendOnly) checkAppendOnlyPassphrases(opts.passphrase, opts.appendOnly.clientPassphrase);
    try {
      return await withRemote(opts, (path, remote) => this.initAt(opts, path, chunkSize, remote));
    } catch (e) {
      throw toAppError(e, `init ${opts.path}`);
    }
  }

  private async initAt(opts: InitOptions, path: string, chunkSize: number, remote: RemoteConnection | undefined): Promise<RepositoryHandle> {
    // The owner of an append-only repository shares it with the clients' account (docs/append-only-design.md §3.2).
    if (opts.appendOnly) remote?.shareWithGroup();
    const config = await createRepository(opts, path, chunkSize, remote !== undefined);
    return await openWith(path, config, opts.passphrase, undefined, opts.cacheDir, remote);
  }

  async open(opts: OpenOptions): Promise<RepositoryHandle> {
    try {
      return await withRemote(opts, async (path, remote) => {
        const config = await readConfig(path);
        // Format 3 is shared with the clients' account: the owner's writes
        // (locks, prune's index files) readable by it. A client only
        // creates files, whose mode the server's umask sets.
        if (config.version === APPEND_ONLY_VERSION) remote?.shareWithGroup();
        return openWith(path, config, opts.passphrase, opts.pin, opts.cacheDir, remote);
      });
    } catch (e) {
      throw toAppError(e, `open ${opts.path}`);
    }
  }

  upgrade(opts: OpenOptions & { dryRun: boolean }): Promise<UpgradeReport> {
    return upgradeRepository(opts);
  }

  async probeRemote(path: string, remote: RemoteAccess): Promise<RemoteProbe> {
    try {
      return await probeRemote(path, remote);
    } catch (e) {
      throw toAppError(e, `connect to ${path}`);
    }
  }

  async readPin(path: string, remote?: RemoteAccess): Promise<RepoPin> {
    try {
      if (isRemoteLocation(path)) {
        const r = await connectRemote(path, remote, undefined);
        try {
          return pinOf(await readConfig(r.location));
        } finally {
          await r.release();
        }
      }
      return pinOf(await readConfig(path));
    } catch (e) {
      throw toAppError(e, `open ${path}`);
    }
  }

  changedRanges(map: Uint8Array, blockSize: number, sinceNumber: number, deviceSize: number): Array<[number, number]> {
    return changedRanges(map, blockSize, sinceNumber, deviceSize);
  }
}
