// An open repository: the RepositoryHandle of api.ts. Each operation takes
// the lock it needs (shared for backup, restore, verify and readers,
// exclusive for prune) and reloads the chunk index first, so points and
// packs written by other processes are seen. Operations on one handle run
// one after the other (the native chunk index serves one backup at a time).
import * as fs from 'node:fs/promises';

import type { Progress, Repository as RepositoryInfo, RestorePoint, VerifyReport } from '../../common/contract';
import { AppError, isAppError } from '../../common/contract';
import type { NativeRepo } from '../../../native/engine';
import type { BackupRequest, PointReader, PruneOptions, PruneReport, RepositoryHandle, RestoreRequest, RestoreResult, ResumeInfo, ResumeQuery } from './api';
import { runBackup } from './backup';
import { type RepoConfig, configAlgorithms } from './config';
import type { RepoPin } from './config-pin';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { type KeyRotation, type KeyRotationRequest, checkRotation, rotateKeyPair } from './key-rotate';
import { type RepoKeys, type RepoRole, type SlotRole, changeSlotPassphrase } from './keys';
import { type HeldLock, type LockKind, type LockOptions, acquireLock, lockedSignal, withLock } from './locks';
import { listPointIds, readManifest, toRestorePoint } from './manifest';
import { openPointReader } from './point-reader';
import { runPrune } from './prune';
import { type RepairReport, runRepairIndex } from './repair';
import { probeResume, runRestore } from './restore';
import { runVerify } from './verify';

/** Manifests read at once by listPoints. */
const LIST_READS = 8;

export class Repository implements RepositoryHandle, RepoContext {
  private queue: Promise<unknown> = Promise.resolve();
  /** Readers still open: close() closes them, so no lock outlives the handle. */
  private readonly readers = new Set<PointReader>();
  /** Set by rotateKeyPair: this handle's engine still holds the old pair, so it only closes. */
  private rotated = false;

  constructor(
    readonly path: string,
    readonly config: RepoConfig,
    readonly native: NativeRepo,
    readonly pin: RepoPin,
    /** The keys that opened it: a passphrase change seals them again. */
    private readonly keys: RepoKeys,
    /** Remote repositories: the server's host key, and what closes the connection. */
    private readonly remote?: { hostKey: string | undefined; close: () => Promise<void> },
  ) {}

  get role(): RepoRole {
    return this.keys.role;
  }

  get hostKey(): string | undefined {
    return this.remote?.hostKey;
  }

  /**
   * Lock protocol 3 in format 3 (append-only lock files): a client adds
   * files and never removes one; the owner sweeps ended and stale holders.
   */
  private get locking(): LockOptions {
    return this.config.version === 3 ? { protocol: 3, mayDelete: this.role !== 'client' } : {};
  }

  /** `fn` under this repository's lock of `kind`, by its format's lock protocol. */
  private locked<T>(kind: LockKind, operation: string, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
    return withLock(this.path, kind, operation, fn, this.locking);
  }

  /** An append-only client asking for what needs the owner's key: refused before any lock or write. */
  private ownerOnly(what: string): void {
    if (this.role !== 'client') return;
    throw new AppError(
      'OWNER_KEY_REQUIRED',
      `${what} needs the owner's key: this computer can only add backups to ${this.path} (open it with the owner passphrase, and for a server the owner's login)`,
      { path: this.path, role: this.role },
    );
  }

  /** Runs operations of this handle one at a time; errors become AppErrors. */
  private serial<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const guarded = () => {
      if (this.rotated) throw new AppError('CONFLICT', `the key pair of ${this.path} was rotated through this handle: open the repository again`, { path: this.path });
      return fn();
    };
    const run = this.queue.then(guarded, guarded);
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
      algorithms: configAlgorithms(this.config),
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
    const ids = await listPointIds(this.path);
    let next = 0;
    // A few reads at a time: a NAS answers each with a round trip.
    const reader = async () => {
      for (let id = ids[next++]; id !== undefined; id = ids[next++]) {
        try {
          points.push(toRestorePoint(await readManifest(this.path, this.native, id)));
        } catch (e) {
          // Damaged manifests are listed by verify, not here; a link or
          // special file among them is refused loudly.
          if (isAppError(e) && e.code === 'REPO_UNSAFE') throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_READS, ids.length) }, reader));
    return points.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  backup(req: BackupRequest): Promise<RestorePoint> {
    return this.serial('backup', () =>
      this.locked('shared', 'backup', async (lock) => {
          const { files } = await this.native.loadIndex();
          return runBackup(this, req, lock, files);
        }),
    );
  }

  restore(req: RestoreRequest): Promise<RestoreResult> {
    return this.serial('restore', async () => {
      this.ownerOnly('restoring');
      return this.locked('shared', 'restore', async (lock) => {
          await this.native.loadIndex();
          return runRestore(this, req, lock);
        });
    });
  }

  resumable(q: ResumeQuery): Promise<ResumeInfo> {
    // Reads chunk lists: under the shared lock, like any reader.
    this.ownerOnly('restoring');
    return this.locked('shared', 'restore', () => probeResume(this, q));
  }

  verify(opts: { pointId?: string; data: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal }): Promise<VerifyReport> {
    return this.serial('verify', async () => {
      // The structure (manifests, lists, index, pack trailers) is under the metadata key a client holds; the data is not.
      if (opts.data) this.ownerOnly('checking the data');
      return this.locked('shared', 'verify', async (lock) => {
          const report = await runVerify(this, { ...opts, signal: lockedSignal(opts.signal, lock) });
          // A report made while a prune ran (the lock lost) would show its deletions as damage.
          await lock.assertHeld();
          return report;
        });
    });
  }

  prune(opts: PruneOptions): Promise<PruneReport> {
    return this.serial('prune', async () => {
      this.ownerOnly('removing restore points');
      return this.locked(opts.dryRun ? 'shared' : 'exclusive', 'prune', async (lock) => {
          try {
            return await runPrune(this, opts, lock);
          } finally {
            // Packs it deleted free their space only once no descriptor holds them.
            this.native.closeFiles();
          }
        });
    });
  }

  repairIndex(opts: { data: boolean; dryRun: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal }): Promise<RepairReport> {
    return this.serial('repair index', async () => {
      this.ownerOnly('repairing the index');
      return this.locked(opts.dryRun ? 'shared' : 'exclusive', 'repair', async () => {
          try {
            return await runRepairIndex(this, opts);
          } finally {
            this.native.closeFiles();
          }
        });
    });
  }

  changePassphrase(req: { role: SlotRole; newPassphrase: string }): Promise<void> {
    return this.serial('change passphrase', async () => {
      this.ownerOnly(`changing the ${req.role} passphrase`);
      await changeSlotPassphrase(this.config, this.keys, req.role, req.newPassphrase, this.path);
    });
  }

  rotateKeyPair(req: KeyRotationRequest): Promise<KeyRotation> {
    return this.serial('rotate key pair', async () => {
      this.ownerOnly('rotating the key pair');
      checkRotation(this.config, this.keys, req, this.path);
      // Exclusive: two rotations at once would each keep only their own new pair.
      const done = await this.locked('exclusive', 'rotate key pair', () => rotateKeyPair(this.config, this.keys, req, this.path));
      this.rotated = true;
      return done;
    });
  }

  /** Holds a shared lock until the reader is closed, so prune cannot pull packs from under an NBD export. */
  openReader(pointId: string, source: string): Promise<PointReader> {
    return this.serial('open reader', async () => {
      this.ownerOnly('reading a restore point');
      const lock = await acquireLock(this.path, 'shared', 'mount', this.locking);
      try {
        await this.native.loadIndex();
        const reader: PointReader = await openPointReader(this, pointId, source, async () => {
          this.readers.delete(reader);
          await lock.release();
        });
        this.readers.add(reader);
        return reader;
      } catch (e) {
        await lock.release();
        throw e;
      }
    });
  }

  /** Waits for the running operation, closes readers left open (their locks), then lets go of the pack files, so the destination can be unmounted. */
  async close(): Promise<void> {
    await this.queue;
    for (const r of [...this.readers]) await r.close();
    this.native.closeFiles();
    await this.remote?.close();
  }
}
