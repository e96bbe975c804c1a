// One backup run of a job, from the pre-script to the history entry:
//
//   pre-script -> open the repository -> plan the sources -> [live sources:
//   allocate difference storage -> create ONE snapshot of all of them ->
//   append storage -> take -> image devices and change maps] -> back up
//   through the engine (changed blocks only where the tracker allows) ->
//   destroy the snapshot -> delete the storage -> retention -> post-script
//   -> history.
//
// Whatever fails or is cancelled, everything created is released in reverse
// order (cleanup-stack.ts), and the run record on disk lists what exists at
// every moment, so a run killed outright is cleaned up at the next start
// (cleanup.ts). Destination trouble (repository gone, disk full, wrong
// passphrase) fails the run at once with that reason.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import {
  AppError,
  isAppError,
  isRemoteLocation,
  trackerRestartWords,
  type FullReadReason,
  type HistoryEntry,
  type RestorePoint,
  type SnapshotStorage,
  type SourceRead,
  type TrackerRestart,
} from '../../common/contract';
import { ownerIdentity } from '../access/caller';
import { openSource } from '../access/caller-files';
import type { EventBus } from '../api/event-bus';
import type { DeviceDiscovery } from '../devices/discovery';
import type { BackupSource, Engine, RepositoryHandle } from '../engine/api';
import type { HistoryStore } from '../history/history-store';
import type { StoredJob } from '../jobs/job-store';
import { runScript } from '../jobs/scripts';
import { newId } from '../persist/ids';
import type { RepoRegistry } from '../repos/registry';
import { majorMinor } from '../devices/sysfs';
import { DiffStorage } from '../snapshot/diff-storage';
import type { SnapshotDriver } from '../snapshot/driver';
import type { TaskContext } from '../tasks/task-manager';
import type { CbtMark, CbtState } from './cbt-state';
import { CleanupStack } from './cleanup-stack';
import { RunRecords, processAlive, type RunRecord } from './run-records';
import { closePlans, planSources, type SourcePlan } from './sources';
import { trackerRestart } from './tracker-restart';

export interface JobRunnerOptions {
  engine: Engine;
  repos: RepoRegistry;
  discovery: DeviceDiscovery;
  driver: SnapshotDriver;
  records: RunRecords;
  cbt: CbtState;
  history: HistoryStore;
  bus: EventBus;
  /** Where storage goes for jobs that do not say (the state directory's diff/). */
  defaultStorageDir: string;
  sysRoot?: string;
  now?: () => Date;
  /** How often the destination is checked during a run. */
  destinationCheckMs?: number;
  /** Points the user pinned in a repository: retention keeps them (history/point-notes.ts). */
  pinned?: (repositoryId: string) => string[];
  /** Each tracker generation a run meets (tracking/generations.ts: "continuous since"). */
  sawGeneration?: (generation: string) => Promise<void>;
}

export interface RunOutcome extends Record<string, unknown> {
  pointId: string;
  bytesRead: number;
  bytesWritten: number;
  durationMs: number;
}

const MiB = 1 << 20;

/** Storage for jobs without settings: a tenth of what is snapshotted, 256 MiB..16 GiB. */
export function defaultStorage(dir: string, liveBytes: number): SnapshotStorage {
  const max = Math.min(16 * 1024 * MiB, Math.max(256 * MiB, Math.floor(liveBytes / 10)));
  return { directory: dir, maxBytes: max - (max % 4096), allowOnSnapshotted: false };
}

export class JobRunner {
  /** Job id -> task id of its current run. */
  private readonly active = new Map<string, string>();

  constructor(private readonly options: JobRunnerOptions) {}

  isRunning(jobId: string): boolean {
    return this.active.has(jobId);
  }

  /**
   * Claims the job for a run (synchronously, so two starts in one tick
   * cannot both win); CONFLICT when it is running already. A run in another
   * live process is refused later, by its run record.
   */
  claim(job: StoredJob): void {
    if (this.active.has(job.id))
      throw new AppError('CONFLICT', `job ${job.name} is already running`, { jobId: job.id, taskId: this.active.get(job.id) });
    this.active.set(job.id, '');
  }

  /** Names the task of a claimed run (for CONFLICT details). */
  attach(jobId: string, taskId: string): void {
    if (this.active.has(jobId)) this.active.set(jobId, taskId);
  }

  release(jobId: string): void {
    this.active.delete(jobId);
  }

  /** The body of a backup task. The job must have been claimed. */
  async run(job: StoredJob, ctx: TaskContext): Promise<RunOutcome> {
    const now = this.options.now ?? (() => new Date());
    const started = now();
    const runId = newId('run', started);
    let point: RestorePoint | null = null;
    let reads: SourceRead[] | undefined;
    let failure: AppError | null = null;
    const warnings: string[] = [];
    const warn = (m: string) => {
      warnings.push(m);
      ctx.warn(m);
    };
    // How far the reading got per source, for a run that ends without a point.
    const readSoFar = new Map<string, number>();
    try {
      ({ point, reads } = await this.backup(job, runId, ctx, warn, readSoFar));
    } catch (e) {
      failure = isAppError(e) ? e : new AppError('INTERNAL', e instanceof Error ? e.message : String(e));
      if (ctx.signal.aborted && failure.code !== 'CANCELLED') failure = new AppError('CANCELLED', 'cancelled');
    }
    const status: HistoryEntry['status'] = failure === null ? 'succeeded' : failure.code === 'CANCELLED' ? 'cancelled' : 'failed';

    if (job.postScript) {
      try {
        ctx.progress({ phase: 'post-script' });
        await runScript(job.postScript, { SNAPKEEP_JOB_ID: job.id, SNAPKEEP_JOB_NAME: job.name, SNAPKEEP_STATUS: status }, new AbortController().signal);
      } catch (e) {
        warn(`post-script: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    const finished = now();
    const durationMs = Math.max(0, finished.getTime() - started.getTime());
    const bytesRead = point ? point.devices.reduce((n, d) => n + d.readBytes, 0) : [...readSoFar.values()].reduce((n, v) => n + v, 0);
    const bytesWritten = point ? point.addedBytes : 0;
    const entry: HistoryEntry = {
      id: newId('h', finished),
      jobId: job.id,
      jobName: job.name,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      status,
      ...(point && { restorePointId: point.id }),
      bytesRead,
      bytesWritten,
      durationMs,
      bytesPerSecond: durationMs > 0 ? Math.round((bytesRead * 1000) / durationMs) : 0,
      ...(failure && { error: failure.toInfo() }),
      warnings,
      ...(reads && { reads }),
    };
    await this.options.history.append(entry);
    if (failure) throw failure;
    if (!point) throw new AppError('INTERNAL', 'the backup produced no restore point');
    return { pointId: point.id, bytesRead, bytesWritten, durationMs };
  }

  private async backup(
    job: StoredJob,
    runId: string,
    ctx: TaskContext,
    warn: (m: string) => void,
    readSoFar: Map<string, number>,
  ): Promise<{ point: RestorePoint; reads: SourceRead[] }> {
    const { records, driver, repos } = this.options;
    const cleanup = new CleanupStack();
    const repo = repos.get(job.repositoryId);
    const record: RunRecord = {
      version: 1,
      runId,
      jobId: job.id,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      repositoryPath: repo.path,
      storageFiles: [],
    };
    const earlier = await records.read(job.id);
    if (earlier && earlier.pid !== process.pid && processAlive(earlier.pid))
      throw new AppError('CONFLICT', `job ${job.name} is running in another process (pid ${earlier.pid})`, { jobId: job.id, pid: earlier.pid });
    await records.write(record);
    let cleanFailures: string[] = [];
    try {
      if (job.preScript) {
        ctx.progress({ phase: 'pre-script' });
        await runScript(job.preScript, { SNAPKEEP_JOB_ID: job.id, SNAPKEEP_JOB_NAME: job.name }, ctx.signal);
      }
      ctx.throwIfCancelled();

      ctx.progress({ phase: 'opening repository' });
      const handle = await repos.open(job.repositoryId);
      cleanup.push('close the repository', () => handle.close());

      ctx.progress({ phase: 'checking sources' });
      const snapshotProblem = await driver.check().then(
        () => null,
        (e: unknown) => (isAppError(e) ? e : new AppError('MODULE_NOT_LOADED', String(e))),
      );
      const plans = await planSources(job.sources, {
        discovery: this.options.discovery,
        snapshotProblem,
        ...(this.options.sysRoot !== undefined && { sysRoot: this.options.sysRoot }),
        openFile: (source) => openSource(ownerIdentity(job.ownerUid, job.name), source),
      });
      cleanup.push('close the image files', async () => closePlans(plans));
      ctx.throwIfCancelled();

      // Overflow of the snapshot or loss of the destination stop the backup
      // through this controller, with their own reason.
      const stop = new AbortController();
      const signal = AbortSignal.any([ctx.signal, stop.signal]);
      const sources = await this.prepareSources(job, runId, plans, record, cleanup, ctx, stop, warn);
      const checkDestination = await this.watchDestination(repo.path, stop, cleanup);

      ctx.progress({ phase: 'reading' });
      let point: RestorePoint;
      try {
        point = await handle.backup({
          sources: sources.backup,
          jobId: job.id,
          jobName: job.name,
          ...(sources.parentId !== undefined && { parentId: sources.parentId }),
          compressionLevel: job.compressionLevel,
          ...(job.readAllSectors === true && { readAllSectors: true }),
          onProgress: (p) => {
            if (p.phase === 'reading' && p.bytesDone !== undefined) readSoFar.set(p.message ?? '', Math.max(readSoFar.get(p.message ?? '') ?? 0, p.bytesDone));
            ctx.progress(p);
          },
          signal,
        });
      } catch (e) {
        // The engine may meet the missing destination before the watch's
        // next look: look now (and again shortly: a disk being removed
        // leaves sysfs a moment after its I/O fails), so an unplugged disk
        // is named as such.
        for (let i = 0; i < 5 && !stop.signal.aborted; i++) {
          await checkDestination();
          if (!stop.signal.aborted && i < 4) await new Promise((r) => setTimeout(r, 100));
        }
        if (stop.signal.aborted && isAppError(stop.signal.reason)) throw stop.signal.reason;
        throw e;
      }
      if (stop.signal.aborted && isAppError(stop.signal.reason)) throw stop.signal.reason;

      // The point is written: release the snapshot before retention, which
      // may take a while and needs no snapshot.
      cleanFailures = await cleanup.run();
      for (const f of cleanFailures) warn(`cleanup: ${f}`);
      if (Object.keys(sources.marks).length > 0)
        await this.options.cbt.set(job.id, Object.fromEntries(Object.entries(sources.marks).map(([s, m]) => [s, { ...m, pointId: point.id }])));

      await this.retention(job, ctx, warn);
      return { point, reads: sourceReads(point, sources.expected, sources.restarts) };
    } finally {
      cleanFailures = cleanFailures.concat(await cleanup.run());
      // The record stays when something could not be released, so the next
      // start of the service tries again.
      if (cleanFailures.length === 0) await records.remove(job.id);
      else ctx.log.error(`run ${runId}: could not release everything (${cleanFailures.join('; ')}); the service retries at its next start`);
    }
  }

  private async prepareSources(
    job: StoredJob,
    runId: string,
    plans: SourcePlan[],
    record: RunRecord,
    cleanup: CleanupStack,
    ctx: TaskContext,
    stop: AbortController,
    warn: (m: string) => void,
  ): Promise<PreparedSources> {
    const { driver, records, bus } = this.options;
    const live = plans.filter((p): p is Extract<SourcePlan, { kind: 'live' }> => p.kind === 'live');
    const backup: BackupSource[] = plans.map((p) => ({ source: p.source, readFrom: p.kind === 'direct' ? p.devicePath : p.kind === 'file' ? p.readFrom : p.source }));
    const marks: Record<string, Omit<CbtMark, 'pointId'>> = {};
    // What a full read of each source would be owed to, decided before the
    // engine says how it read it: a source left here with changes is
    // expected to be read by its changes.
    const expected = new Map<string, FullReadReason | 'changes'>(plans.map((p) => [p.source, p.kind === 'live' ? 'first-backup' : 'not-tracked']));
    const restarts = new Map<string, TrackerRestart>();
    if (live.length === 0) return { backup, marks, expected, restarts };

    ctx.progress({ phase: 'snapshot', message: 'allocating snapshot storage' });
    const liveBytes = live.reduce((n, p) => n + p.device.sizeBytes, 0);
    const settings = job.snapshotStorage ?? defaultStorage(this.options.defaultStorageDir, liveBytes);
    const { storage, first } = await DiffStorage.create({
      ...settings,
      snapshotDevices: live.map((p) => p.device.name),
      runId,
      ...(this.options.sysRoot !== undefined && { sysRoot: this.options.sysRoot }),
      onFile: async (file) => {
        record.storageFiles.push(file);
        await records.write(record);
      },
    }).catch(async (e: unknown) => {
      // create() failed half way: remove what the record lists.
      await Promise.all(record.storageFiles.map((f) => fs.rm(f, { force: true })));
      throw e;
    });
    cleanup.push('delete the snapshot storage', () => storage.remove());
    ctx.throwIfCancelled();

    ctx.progress({ phase: 'snapshot', message: 'taking the snapshot' });
    const devices = live.map((p) => p.devicePath);
    record.snapshot = { devices };
    await records.write(record);
    const id = await driver.create(devices);
    storage.hold(); // its files are deleted only after a successful destroy
    record.snapshot.id = id;
    cleanup.push(`destroy snapshot ${id}`, async () => (await driver.destroy(id), storage.release()));
    await records.write(record);
    await driver.appendStorage(id, first.device, first.ranges, first.file);
    await driver.take(id);
    ctx.log.info(`snapshot ${id} taken of ${devices.join(', ')} (storage ${storage.allocatedBytes} bytes in ${settings.directory})`);
    this.watchSnapshot(id, storage, ctx, stop, cleanup, warn, bus);

    let parentId: string | undefined;
    let parents = 0;
    for (const p of live) {
      const info = await driver.trackerInfo(p.devicePath);
      await this.options.sawGeneration?.(info.generation);
      const entry = backup.find((b) => b.source === p.source);
      if (!entry) continue;
      entry.readFrom = await driver.imagePath(id, p.devicePath);
      entry.cbt = { generation: info.generation, number: info.number, blockSize: info.blockSize };
      marks[p.source] = { generation: info.generation, number: info.number, blockSize: info.blockSize };
      const prev = this.options.cbt.get(job.id, p.source);
      if (prev && prev.generation === info.generation && prev.blockSize === info.blockSize) {
        const map = await driver.readChangeMap(p.devicePath);
        entry.changes = {
          generation: info.generation,
          sinceNumber: prev.number,
          ranges: this.options.engine.changedRanges(map, info.blockSize, prev.number, info.deviceSizeBytes),
        };
        expected.set(p.source, 'changes');
        if (parentId === undefined || parentId === prev.pointId) {
          parentId = prev.pointId;
          parents++;
        }
      } else if (prev) {
        const restart = trackerRestart(info);
        expected.set(p.source, 'tracker-restarted');
        restarts.set(p.source, restart);
        ctx.log.info(`${p.source}: the change tracker started over since the last backup (${trackerRestartWords(restart)}): reading everything, storing only new chunks`);
      }
    }
    // One parent for the whole point: only when every live source agrees.
    return parents === live.length && parentId !== undefined ? { backup, marks, expected, restarts, parentId } : { backup, marks, expected, restarts };
  }

  /** Answers low-space events by growing the storage; stops the backup on overflow. */
  private watchSnapshot(id: string, storage: DiffStorage, ctx: TaskContext, stop: AbortController, cleanup: CleanupStack, warn: (m: string) => void, bus: EventBus): void {
    const { driver } = this.options;
    let watching = true;
    const loop = (async () => {
      while (watching && !stop.signal.aborted) {
        const ev = await driver.waitEvent(id, 1000);
        if (!ev || !watching) continue;
        if (ev.kind === 'low-space') {
          bus.emit('snapshot.event', { taskId: ctx.id, kind: 'low-space', requestedSectors: ev.requestedSectors });
          const chunk = await storage.grow(ev.requestedSectors * 512);
          if (chunk) {
            await driver.appendStorage(id, chunk.device, chunk.ranges, chunk.file);
            ctx.log.info(`snapshot ${id}: storage grown to ${storage.allocatedBytes} bytes`);
          } else {
            warn(`snapshot storage reached its maximum (${storage.allocatedBytes} bytes): the snapshot may overflow if writes continue`);
          }
        } else {
          const err = new AppError(
            'SNAPSHOT_OVERFLOW',
            `the snapshot overflowed its storage (${storage.allocatedBytes} bytes) while the backup ran: raise the job's snapshot storage maximum`,
            { snapshotId: id, ...(ev.device !== undefined && { device: ev.device }), ...(ev.errno !== undefined && { errno: ev.errno }) },
          );
          bus.emit('snapshot.event', { taskId: ctx.id, kind: 'overflow', ...(ev.device !== undefined && { device: ev.device }), error: err.toInfo() });
          stop.abort(err);
        }
      }
    })().catch((e: unknown) => {
      if (!watching) return;
      const err = isAppError(e) ? e : new AppError('INTERNAL', `snapshot events: ${e instanceof Error ? e.message : String(e)}`);
      stop.abort(err);
    });
    cleanup.push('stop watching snapshot events', async () => {
      watching = false;
      await loop;
    });
  }

  /**
   * Stops the backup with a clear reason when the destination goes away:
   * its path vanishes, or the disk under it leaves the system (an unplugged
   * USB disk disappears from /sys/dev/block at once, long before the engine
   * next writes and meets EIO).
   */
  private async watchDestination(repoPath: string, stop: AbortController, cleanup: CleanupStack): Promise<() => Promise<void>> {
    // A server is watched by the storage itself: its retries, then REMOTE_UNAVAILABLE.
    if (isRemoteLocation(repoPath)) return async () => undefined;
    const sysRoot = this.options.sysRoot ?? '/sys';
    const st = await fs.stat(repoPath).catch(() => null);
    const devno = st ? majorMinor(st.dev) : null;
    // Only a real block device can be checked in sysfs (not tmpfs, NFS, ...).
    const sysEntry = devno !== null && !devno.startsWith('0:') ? path.join(sysRoot, 'dev/block', devno) : null;
    const watched = sysEntry !== null && (await fs.stat(sysEntry).catch(() => null)) !== null ? sysEntry : null;
    const gone = (why: string, errno?: string) => {
      if (stop.signal.aborted) return;
      stop.abort(
        new AppError('REPO_NOT_FOUND', `the destination ${repoPath} disappeared during the backup (${why})`, {
          path: repoPath,
          ...(errno !== undefined && { errno }),
          ...(devno !== null && { devno }),
        }),
      );
    };
    const check = async () => {
      if (watched !== null && (await fs.stat(watched).catch(() => null)) === null) return gone('its disk was removed or unplugged');
      const now = await fs.stat(repoPath).catch((e: NodeJS.ErrnoException) => e);
      if (now instanceof Error) return gone('path removed or disk unplugged', now.code);
      if (!now.isDirectory()) return gone('no longer a directory');
    };
    const timer = setInterval(() => void check(), this.options.destinationCheckMs ?? 2000);
    timer.unref();
    cleanup.push('stop watching the destination', async () => clearInterval(timer));
    return check;
  }

  private async retention(job: StoredJob, ctx: TaskContext, warn: (m: string) => void): Promise<void> {
    ctx.progress({ phase: 'retention' });
    try {
      await this.options.repos.with(job.repositoryId, async (h: RepositoryHandle) => {
        if (h.role === 'client') {
          // Append-only: this computer cannot remove anything; the owner prunes.
          ctx.log.info('retention not applied: this computer can only add backups to the repository; its owner removes old restore points');
          return;
        }
        // The job's rules for the job's points only (docs/helper.md): other
        // jobs' and CLI-made points follow their own rules.
        const pinned = this.options.pinned?.(job.repositoryId) ?? [];
        const report = await h.prune({ retention: job.retention, jobId: job.id, pinned, dryRun: false, signal: ctx.signal, onProgress: (p) => ctx.progress(p) });
        if (report.removedPoints.length > 0)
          ctx.log.info(`retention removed ${report.removedPoints.length} restore point(s), freed ${report.freedBytes} bytes`);
      });
    } catch (e) {
      if (ctx.signal.aborted) return;
      // The new point is safe; a failed prune is a warning, retried next run.
      warn(`retention: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

interface PreparedSources {
  backup: BackupSource[];
  marks: Record<string, Omit<CbtMark, 'pointId'>>;
  /** Per source: 'changes' when it was handed over with its changes, else why it is read in full. */
  expected: Map<string, FullReadReason | 'changes'>;
  /** Per source read in full because its tracker started over: why it did. */
  restarts: Map<string, TrackerRestart>;
  parentId?: string;
}

/**
 * How the point read each source, with the reason for every full read: the
 * engine has the last word (it reads in full when the parent the changes
 * were counted from is gone), the runner knows why it had no changes.
 */
export function sourceReads(
  point: RestorePoint,
  expected: ReadonlyMap<string, FullReadReason | 'changes'>,
  restarts: ReadonlyMap<string, TrackerRestart> = new Map(),
): SourceRead[] {
  return point.devices.map((d) => {
    if (d.readMode === 'changed') return { source: d.source, mode: 'changed', bytes: d.readBytes };
    const why = expected.get(d.source) ?? 'not-tracked';
    const restart = why === 'tracker-restarted' ? restarts.get(d.source) : undefined;
    return {
      source: d.source,
      mode: 'full',
      reason: why === 'changes' ? 'parent-missing' : why,
      ...(restart && { restart }),
      bytes: d.readBytes,
      ...(d.unusedBytes ? { unusedBytes: d.unusedBytes } : {}),
    };
  });
}
