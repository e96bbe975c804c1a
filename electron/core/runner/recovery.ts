// At service start: what a killed run left behind, found from the run
// records (run-records.ts) and from the module's list of snapshots, is
// released and reported in the log. Runs whose process still lives (another
// process's run) are left alone.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { SourceLogger } from '../logs/logger';
import { majorMinor } from '../devices/sysfs';
import { sweepTempFiles } from '../persist/atomic-file';
import { STORAGE_PREFIX } from '../snapshot/diff-storage';
import type { SnapshotDriver } from '../snapshot/driver';
import { processAlive, type RunRecords } from './run-records';

export interface RecoveryReport {
  snapshots: string[];
  storageFiles: string[];
  records: string[];
  tempFiles: string[];
  failures: string[];
}

export interface RecoveryOptions {
  records: RunRecords;
  driver: SnapshotDriver;
  log: SourceLogger;
  /** Directories whose temporary files (atomic writes) are swept. */
  stateDirs: string[];
  /** Storage directories of every job, swept for storage files of dead runs. */
  storageDirs: string[];
}

export async function recoverLeftovers(o: RecoveryOptions): Promise<RecoveryReport> {
  const report: RecoveryReport = { snapshots: [], storageFiles: [], records: [], tempFiles: [], failures: [] };
  const liveRuns = new Set<string>();
  const snapshots = await o.driver.list().catch((e: unknown) => {
    o.log.debug(`recovery: no snapshot list (${e instanceof Error ? e.message : String(e)})`);
    return [];
  });

  for (const rec of await o.records.all()) {
    if ('broken' in rec) {
      o.log.warn(`recovery: unreadable run record ${rec.file} removed`);
      await fs.rm(rec.file, { force: true });
      report.records.push(rec.file);
      continue;
    }
    if (rec.pid !== process.pid && processAlive(rec.pid)) {
      liveRuns.add(rec.runId);
      o.log.info(`recovery: job ${rec.jobId} is running in process ${rec.pid}; left alone`);
      continue;
    }
    const problems: string[] = [];
    // The module may still write copies into storage files until their
    // snapshot is destroyed: then they are kept.
    let snapshotAlive = false;
    if (rec.snapshot) {
      const devices = rec.snapshot.devices;
      // The id is written right after create; a crash in between leaves
      // only the devices, which identify the snapshot just as well.
      const ids = new Set<string>();
      if (rec.snapshot.id) ids.add(rec.snapshot.id);
      for (const s of snapshots) if (await sameSet(s.devices, devices)) ids.add(s.id);
      for (const id of ids) {
        if (!snapshots.some((s) => s.id === id)) continue;
        try {
          await o.driver.destroy(id);
          report.snapshots.push(id);
          o.log.warn(`recovery: destroyed snapshot ${id} of ${devices.join(', ')} left by run ${rec.runId} of job ${rec.jobId}`);
        } catch (e) {
          snapshotAlive = true;
          problems.push(`snapshot ${id}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
    if (snapshotAlive && rec.storageFiles.length > 0) problems.push(`storage files kept until the snapshot is destroyed: ${rec.storageFiles.join(', ')}`);
    for (const f of snapshotAlive ? [] : rec.storageFiles) {
      try {
        await fs.rm(f);
        report.storageFiles.push(f);
        o.log.warn(`recovery: deleted snapshot storage ${f} left by run ${rec.runId}`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${f}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (problems.length === 0) {
      await o.records.remove(rec.jobId);
      report.records.push(rec.runId);
      o.log.warn(`recovery: run ${rec.runId} of job ${rec.jobId} (pid ${rec.pid}, started ${rec.startedAt}) had been interrupted; cleaned up`);
    } else {
      report.failures.push(...problems);
      o.log.error(`recovery: run ${rec.runId} could not be cleaned up completely: ${problems.join('; ')}`);
    }
  }

  // Snapshots no record of ours names may belong to another tool driving
  // the module (a CLI run): reported, not touched.
  const claimed = new Set(report.snapshots);
  const alive = snapshots.filter((s) => !claimed.has(s.id));
  for (const s of alive) o.log.warn(`recovery: snapshot ${s.id} of ${s.devices.join(', ')} is not from a run of this service; left alone`);

  // Storage files no record mentions (a record lost with its disk state):
  // their names carry the run id; only live runs keep theirs. Not while a
  // snapshot lives that may be writing into one of them.
  if (alive.length > 0 && o.storageDirs.length > 0)
    o.log.warn(`recovery: orphaned snapshot storage files are kept while ${alive.length} snapshot(s) still exist`);
  for (const dir of alive.length > 0 ? [] : new Set(o.storageDirs)) {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const n of names.filter((n) => n.startsWith(STORAGE_PREFIX))) {
      const runId = /^snapkeep-diff-(.+)-\d+$/.exec(n)?.[1];
      if (runId !== undefined && liveRuns.has(runId)) continue;
      const f = path.join(dir, n);
      await fs.rm(f, { force: true });
      report.storageFiles.push(f);
      o.log.warn(`recovery: deleted orphaned snapshot storage ${f}`);
    }
  }

  for (const dir of o.stateDirs) {
    const swept = await sweepTempFiles(dir);
    for (const n of swept) o.log.info(`recovery: removed ${path.join(dir, n)}, the temporary file of an interrupted write`);
    report.tempFiles.push(...swept.map((n) => path.join(dir, n)));
  }
  return report;
}

/** A device by its number when it exists (/dev/mapper/x and /dev/dm-0 are one device), else by its name. */
async function deviceKey(p: string): Promise<string> {
  const st = await fs.stat(p).catch(() => null);
  return st?.isBlockDevice() ? majorMinor(st.rdev) : p;
}

async function sameSet(a: string[], b: string[]): Promise<boolean> {
  if (a.length !== b.length) return false;
  const ka = await Promise.all(a.map(deviceKey));
  const kb = await Promise.all(b.map(deviceKey));
  return ka.every((x) => kb.includes(x));
}
