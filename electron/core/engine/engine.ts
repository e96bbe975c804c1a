// The Engine of api.ts: creates and opens repositories.
import * as fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

import { AppError } from '../../common/contract';
import { fastCryptoAvailable, openNativeRepo } from '../../../native/engine';
import type { Engine, InitOptions, OpenOptions, RepositoryHandle } from './api';
import { changedRanges } from './changed-ranges';
import { type RepoConfig, readConfig, sealConfig, verifyConfig, writeConfig } from './config';
import { type RepoPin, checkPin, checkPinnedKeys, mergePin, pinOf } from './config-pin';
import { toAppError } from './errors';
import { DEFAULT_CHUNK_SIZE, FORMAT_NAME, FORMAT_VERSION, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, PACK_SIZE, rel } from './format';
import { indexCacheDir } from './index-cache';
import { createKeys, nativeCrypto, unlockKeys } from './keys';
import { mkdirRepo } from './repo-files';
import { Repository } from './repository';
import { type UpgradeReport, upgradeRepository } from './upgrade';

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

async function openWith(path: string, config: RepoConfig, passphrase: string | undefined, pin: RepoPin | undefined, cacheRoot?: string | null): Promise<RepositoryHandle> {
  // Identity and encryption first: a swapped config costs no key derivation.
  checkPin(config, pin, path);
  const keys = await unlockKeys(config, passphrase, path);
  verifyConfig(config, keys, path);
  checkPinnedKeys(keys, pin, path);
  const cacheDir = await indexCacheDir(config.id, cacheRoot);
  const native = openNativeRepo({ path, idKey: keys.idKey, ...nativeCrypto(config, keys), version: config.version, ...(cacheDir !== undefined && { cacheDir }) });
  await native.loadIndex();
  return new Repository(path, config, native, mergePin(pin, pinOf(config, keys)));
}

export class SnapkeepEngine implements Engine {
  async init(opts: InitOptions): Promise<RepositoryHandle> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!isPowerOfTwo(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE)
      throw new AppError('INVALID_ARGUMENT', `chunk size must be a power of two between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE}`);
    if (!opts.path.startsWith('/')) throw new AppError('INVALID_ARGUMENT', 'the repository path must be absolute');
    try {
      const entries = await fs.readdir(opts.path).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return [] as string[];
        throw e;
      });
      if (entries.includes('config')) throw new AppError('REPO_EXISTS', `a repository already exists at ${opts.path}`, { path: opts.path });
      // What a killed init leaves (our empty folders, no config) may be reused.
      const ours = new Set(['points', 'lists', 'index', 'packs', 'locks', 'tmp']);
      if (entries.some((e) => !ours.has(e))) throw new AppError('INVALID_ARGUMENT', `${opts.path} is not empty`, { path: opts.path });
      // The root is the user's path; a new one is private, as is everything
      // below it (repo-files.ts: 0700 directories, 0600 files), whatever the
      // umask: an unencrypted repository holds whole disks (security #8).
      const created = await fs.mkdir(opts.path, { recursive: true, mode: 0o700 });
      if (created !== undefined) await fs.chmod(opts.path, 0o700);
      for (const d of [rel.points, rel.lists, rel.index, rel.packs, rel.locks, rel.tmp]) await mkdirRepo(opts.path, d);
      // Chosen once, here: a repository keeps its algorithms for life.
      const { keys, fields } = await createKeys(opts.passphrase, opts.algorithms ?? (fastCryptoAvailable() ? 'fast' : 'classic'));
      const config: RepoConfig = {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        id: randomBytes(8).toString('hex'),
        createdAt: new Date().toISOString(),
        chunkSize,
        packSize: PACK_SIZE,
        ...fields,
      };
      const sealed = sealConfig(config, keys);
      // The config is written last: a killed init leaves no repository.
      await writeConfig(opts.path, sealed);
      return await openWith(opts.path, sealed, opts.passphrase, undefined, opts.cacheDir);
    } catch (e) {
      throw toAppError(e, `init ${opts.path}`);
    }
  }

  async open(opts: OpenOptions): Promise<RepositoryHandle> {
    try {
      const config = await readConfig(opts.path);
      return await openWith(opts.path, config, opts.passphrase, opts.pin, opts.cacheDir);
    } catch (e) {
      throw toAppError(e, `open ${opts.path}`);
    }
  }

  upgrade(opts: OpenOptions & { dryRun: boolean }): Promise<UpgradeReport> {
    return upgradeRepository(opts);
  }

  async readPin(path: string): Promise<RepoPin> {
    try {
      return pinOf(await readConfig(path));
    } catch (e) {
      throw toAppError(e, `open ${path}`);
    }
  }

  changedRanges(map: Uint8Array, blockSize: number, sinceNumber: number, deviceSize: number): Array<[number, number]> {
    return changedRanges(map, blockSize, sinceNumber, deviceSize);
  }
}
