// Whole-disk restore with a plan (issue 18): preview computes the plan
// before anything is written; restoreDisk recomputes it, refuses when it is
// not the one the user confirmed (its digest), and carries it out: today's
// byte image for a target at least as large, the tiers otherwise.
import { promises as fs } from 'node:fs';

import { AppError, type Progress } from '../../common/contract';
import type { RepositoryHandle, RestoreResult } from '../engine/api';
import { type RestorePlan, planRestore } from '../engine/restore-plan';
import { planInput, readPointTable } from './facts';
import { type BootStep, repairBoot } from './boot-repair';

export { repairBoot };
import { type TieredResult, executePlan } from './tiers';

export interface PlanQuery {
  pointId: string;
  source: string;
  target: string;
  /** A private folder for the table's copy and tier b's copies. */
  workDir: string;
}

export async function previewRestore(h: RepositoryHandle, q: PlanQuery): Promise<RestorePlan> {
  const input = await planInput(h, q);
  return planRestore(input);
}

export interface DiskRestoreOptions extends PlanQuery {
  /** The digest of the plan the user confirmed; a different plan now is refused. */
  digest?: string;
  skipIdentical?: boolean;
  resumeDir?: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Boot repair after the restore (boot-repair.ts); on unless false. */
  bootRepair?: boolean;
}

export type DiskRestoreResult = { plan: RestorePlan; boot: BootStep[] } & ({ kind: 'image'; result: RestoreResult } | { kind: 'tiers'; result: TieredResult });

/** Boot repair of a restored disk, with progress said (it reads and may write the target). */
async function bootSteps(o: DiskRestoreOptions): Promise<BootStep[]> {
  if (o.bootRepair === false) return [];
  o.onProgress?.({ phase: 'restoring', bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0, message: 'boot repair: what the restored system needs to start on this disk' });
  return repairBoot(o.target);
}

export async function restoreDisk(h: RepositoryHandle, opts: DiskRestoreOptions): Promise<DiskRestoreResult> {
  // A file opened as the caller is named /proc/self/fd/N: the tools this runs (sfdisk, losetup) must see this process's N.
  const o = { ...opts, target: opts.target.replace(/^\/proc\/self\//, `/proc/${process.pid}/`) };
  const input = await planInput(h, o);
  const plan = planRestore(input);
  if (o.digest !== undefined && o.digest !== plan.digest)
    throw new AppError('CONFLICT', 'the restore plan changed since it was shown (the target or the point is not the same): look at it again', { digest: plan.digest });
  const common = { ...(o.onProgress && { onProgress: o.onProgress }), ...(o.signal && { signal: o.signal }) };
  if (plan.kind === 'image') {
    const result = await h.restore({ pointId: o.pointId, source: o.source, target: o.target, skipIdentical: o.skipIdentical ?? false, ...(o.resumeDir !== undefined && { resumeDir: o.resumeDir }), ...common });
    return { plan, kind: 'image', result, boot: await bootSteps(o) };
  }
  if (!plan.fits) {
    throw new AppError('TARGET_TOO_SMALL', `restore target ${o.target} is too small: ${plan.reason}`, {
      path: o.target,
      ...(plan.missingBytes !== undefined && { missingBytes: plan.missingBytes }),
      neededBytes: plan.neededBytes,
      targetBytes: plan.targetBytes,
    });
  }
  // Tier b's copies: refused before anything is written when they cannot fit here.
  if (plan.scratchBytes > 0) {
    await fs.mkdir(o.workDir, { recursive: true, mode: 0o700 });
    const st = await fs.statfs(o.workDir);
    const free = st.bavail * st.bsize;
    if (free < plan.scratchBytes)
      throw new AppError('DISK_FULL', `${o.workDir} has ${free} bytes free, shrinking a file system on the way needs ${plan.scratchBytes} there for its copy`, {
        path: o.workDir,
        neededBytes: plan.scratchBytes,
        freeBytes: free,
      });
  }
  const reader = await h.openReader(o.pointId, o.source);
  let table;
  try {
    table = await readPointTable(reader, o.workDir);
  } finally {
    await reader.close();
  }
  if (!table) throw new AppError('REPO_CORRUPT', `the partition table of ${o.source} in point ${o.pointId} cannot be read again`, { pointId: o.pointId });
  const result = await executePlan(h, { pointId: o.pointId, source: o.source, target: o.target, plan, table, fs: input.fs, workDir: o.workDir, ...common });
  return { plan, kind: 'tiers', result, boot: await bootSteps(o) };
}
