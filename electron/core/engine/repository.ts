// An open repository: the RepositoryHandle of api.ts. Each operation takes
// the lock it needs (shared for backup, restore, verify and readers,
// exclusive for prune) and reloads the chunk index first, so points and
// packs written by other processes are seen. Operations on one handle run
// one after the other (the native chunk index serves one backup at a time).
import * as fs from 'node:fs/promises';

import type { Progress, Repository as RepositoryInfo, RestorePoint, Retention, VerifyReport } from '../../common/contract';
import { isAppError } from '../../common/contract';
import type { NativeRepo } from '../../../native/engine';
import type { BackupRequest, PointReader, PruneReport, RepositoryHandle, RestoreRequest, RestoreResult } from './api';
import { runBackup } from './backup';
import type { RepoConfig } from './config';
import type { RepoPin } from './config-pin';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { acquireLock, withLock } from './locks';
import { listPointIds, readManifest, toRestorePoint } from './manifest';
import { openPointReader } from './point-reader';
import { runPrune } from './prune';
import { type RepairReport, runRepairIndex } from './repair';
import { runRestore } from './restore';
import { runVerify } from './verify';

export class Repository implements RepositoryHandle, RepoContext {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    readonly config: RepoConfig,
    readonly native: NativeRepo,
    readonly pin: RepoPin,
  ) {}

  /** Runs operations of this handle one at a time; errors become AppErrors. */
  private serial<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run.catch((e: unknown) => {
      throw toAppError(e, what);
    });
  }

  async info(): Promise<Omit<RepositoryInfo, 'id' | 'name' | 'unlocked' | 'remembered' | 'online'>> {
    const stats = this.native.stats();
    const out: Omit<RepositoryInfo, 'id' | 'name' | 'unlocked' | 'remembered' | 'online'> = {
      path: this.path,
      encrypted: this.config.encryption !== 'none',
      formatVersion: this.config.version,
      chunkSize: this.config.chunkSize,
      storedBytes: stats.packBytes,
    };
    try {
      const s = await fs.statfs(this.path);
      out.freeBytes = s.bavail * s.bsize;
    } catch {
      /* unknown */
    }
    return out;
  }

  async listPoints(): Promise<RestorePoint[]> {
    const points: RestorePoint[] = [];
    for (const id of await listPointIds(this.path)) {
      try {
        points.push(toRestorePoint(await readManifest(this.path, this.native, id)));
      } catch (e) {
        // Damaged manifests are listed by verify, not here; a link or
        // special file among them is refused loudly.
        if (isAppError(e) && e.code === 'REPO_UNSAFE') throw e;
      }
    }
    return points.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  backup(req: BackupRequest): Promise<RestorePoint> {
    return this.serial('backup', () =>
      withLock(this.path, 'shared', 'backup', async () => {
        await this.native.loadIndex();
        return runBackup(this, req);
      }),
    );
  }

  restore(req: RestoreRequest): Promise<RestoreResult> {
    return this.serial('restore', () =>
      withLock(this.path, 'shared', 'restore', async () => {
        await this.native.loadIndex();
        return runRestore(this, req);
      }),
    );
  }

  verify(opts: { pointId?: string; data: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal }): Promise<VerifyReport> {
    return this.serial('verify', () => withLock(this.path, 'shared', 'verify', () => runVerify(this, opts)));
  }

  prune(opts: { retention: Retention; dryRun: boolean; now?: Date; onProgress?: (p: Progress) => void; signal?: AbortSignal }): Promise<PruneReport> {
    return this.serial('prune', () =>
      withLock(this.path, opts.dryRun ? 'shared' : 'exclusive', 'prune', async () => {
        try {
          return await runPrune(this, opts);
        } finally {
          // Packs it deleted free their space only once no descriptor holds them.
          this.native.closeFiles();
        }
      }),
    );
  }

  repairIndex(opts: { data: boolean; dryRun: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal }): Promise<RepairReport> {
    return this.serial('repair index', () =>
      withLock(this.path, opts.dryRun ? 'shared' : 'exclusive', 'repair', async () => {
        try {
          return await runRepairIndex(this, opts);
        } finally {
          this.native.closeFiles();
        }
      }),
    );
  }

  /** Holds a shared lock until the reader is closed, so prune cannot pull packs from under an NBD export. */
  openReader(pointId: string, source: string): Promise<PointReader> {
    return this.serial('open reader', async () => {
      const lock = await acquireLock(this.path, 'shared', 'mount');
      try {
        await this.native.loadIndex();
        return await openPointReader(this, pointId, source, () => lock.release());
      } catch (e) {
        await lock.release();
        throw e;
      }
    });
  }

  /** Waits for the running operation, then lets go of the pack files, so the destination can be unmounted. */
  async close(): Promise<void> {
    await this.queue;
    this.native.closeFiles();
  }
}
