// One backup: for each source, decide full or changed-only, run the native
// pipeline, store the chunk list, and write the manifest last. Runs under
// a shared lock; prune (exclusive) waits for it.
//
// Nothing that names chunks is written unless the lock is still provably
// held (lock-monitor.ts), the packs this run sealed still exist, and every
// chunk the new point names is in the index as it is on disk now: a point
// must never inherit a chunk that another process (or a damaged disk) lost.
//
// Changed-only needs proof that the parent saw the same device state the
// tracker counts from: same source, same tracker generation, the change
// list starting at the parent's snapshot number, and the same size. Anything
// else reads the whole source (and stores only chunks the repository lacks).
import { randomBytes } from 'node:crypto';

import { AppError, isAppError, type RestorePoint } from '../../common/contract';
import { createCancelToken } from '../../../native/engine';
import type { BackupRequest, BackupSource } from './api';
import { openDeviceList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { ID_BYTES, rel } from './format';
import { probeLayout } from './layout-probe';
import { type UsedRangesPlan, planUsedRanges } from './used-ranges';
import { type Manifest, type ManifestDevice, listPointIds, readManifest, toRestorePoint, writeManifest } from './manifest';
import type { HeldLock } from './locks';
import { progressReporter } from './progress';
import { reportingWaits, withUploads } from './remote/remote-native';
import { listRepoFiles, removeRepoFiles, statRepoFile } from './repo-files';

export function newPointId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

async function findParent(ctx: RepoContext, req: BackupRequest): Promise<Manifest | undefined> {
  if (req.parentId !== undefined) {
    // The point the changes were counted from may have been deleted since
    // (forget, a prune by another machine): then they cannot be used, and
    // the backup reads everything instead of failing.
    try {
      return await readManifest(ctx.path, ctx.native, req.parentId);
    } catch (e) {
      if (isAppError(e) && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
  }
  const sources = req.sources.map((s) => s.source).sort().join('\n');
  const ids = (await listPointIds(ctx.path)).reverse();
  for (const id of ids) {
    let m: Manifest;
    try {
      m = await readManifest(ctx.path, ctx.native, id);
    } catch {
      continue; // a damaged manifest is verify's business, not a parent
    }
    const same = req.jobId !== undefined ? m.jobId === req.jobId : m.jobId === undefined && m.devices.map((d) => d.source).sort().join('\n') === sources;
    if (same) return m;
  }
  return undefined;
}

function canUseChanges(src: BackupSource, parent: ManifestDevice | undefined, chunkSize: number): boolean {
  const ch = src.changes;
  return !!(ch && parent?.cbt && parent.chunkSize === chunkSize && ch.generation === parent.cbt.generation && ch.sinceNumber === parent.cbt.number);
}

/**
 * The packs a run sealed must still exist before anything names them. When
 * one is gone (another process pruned the repository under this backup),
 * the index this run wrote is replaced by one naming only the survivors, so
 * no later backup dedups against chunks that do not exist.
 */
export async function checkSealedPacks(ctx: RepoContext, packs: string[], indexFile: string): Promise<void> {
  const gone: string[] = [];
  for (const id of packs) {
    if ((await statRepoFile(ctx.path, rel.pack(id))) === undefined) gone.push(id);
  }
  if (gone.length === 0) return;
  const kept = packs.filter((p) => !gone.includes(p));
  if (kept.length > 0) await ctx.native.rebuildIndex(kept);
  // An append-only client cannot take its index file back: the owner's
  // prune drops the entries of the missing packs (an index naming missing
  // packs is what a prune between backups leaves too).
  if (indexFile && ctx.role !== 'client') await removeRepoFiles(ctx.path, [rel.indexFile(indexFile)]);
  await ctx.native.loadIndex();
  throw new AppError('REPO_CORRUPT', `the backup stopped: ${gone.length} pack(s) it wrote are gone (${gone.slice(0, 3).join(', ')}); was the repository pruned by another process?`, {
    packs: gone,
  });
}

/**
 * Every chunk a point names is in the index as it is on disk now (a fresh
 * load, not this process's memory): an incremental copies its parent's ids
 * for unchanged chunks, and those may have been lost since.
 *
 * `relied` names the index files the pipeline's own check used (those loaded
 * at the start, and the ones this backup wrote). Index files are immutable
 * and a prune removes packs only after removing the index files that named
 * them, so while all of them are still there nothing the pipeline found can
 * be gone: the whole-list pass (1.3 GB of list at 10 TiB) is skipped.
 */
export async function ensureIndexed(ctx: RepoContext, devices: ManifestDevice[], pointId: string, relied?: readonly string[]): Promise<void> {
  if (relied !== undefined) {
    const present = new Set(await listRepoFiles(ctx.path, rel.index));
    if (relied.every((f) => present.has(f))) return;
  }
  await ctx.native.loadIndex();
  const checker = ctx.native.createListChecker({});
  for (const dev of devices) {
    const { missing } = await checker.check(await openDeviceList(ctx.native, dev, pointId));
    if (missing.length === 0) continue;
    const n = missing.length / ID_BYTES;
    throw new AppError('REPO_CORRUPT', `the backup of ${dev.source} names ${n} chunk(s) that are in no pack of the repository; no restore point was written (run verify)`, {
      source: dev.source,
      chunks: n,
      chunk: missing.subarray(0, ID_BYTES).toString('hex'),
    });
  }
}

/** indexAtStart: the index files loaded before the pipeline ran (its dedup and inherited-id checks used them). */
export async function runBackup(ctx: RepoContext, req: BackupRequest, lock?: HeldLock, indexAtStart?: readonly string[]): Promise<RestorePoint> {
  if (req.sources.length === 0) throw new AppError('INVALID_ARGUMENT', 'a backup needs at least one source');
  if (!Number.isInteger(req.compressionLevel) || req.compressionLevel < 1 || req.compressionLevel > 19)
    throw new AppError('INVALID_ARGUMENT', 'compressionLevel must be 1-19');
  // A lost lock stops the backup with its own reason, not as "cancelled".
  const stopped = () => {
    if (lock?.signal.aborted) throw lock.signal.reason;
    if (req.signal?.aborted) throw new AppError('CANCELLED', 'backup cancelled');
  };
  stopped();
  const now = new Date();
  const pointId = newPointId(now);
  // Format 1 repositories are written in format 1 until upgraded.
  const v2 = ctx.config.version >= 2;
  const parent = await findParent(ctx, req);
  const devices: ManifestDevice[] = [];
  // Index files this backup wrote: its new chunks are found through them.
  const written: string[] = [];
  const token = createCancelToken();
  const onAbort = () => token.cancel();
  req.signal?.addEventListener('abort', onAbort);
  lock?.signal.addEventListener('abort', onAbort);
  try {
    for (const src of req.sources) {
      const parentDev = parent?.devices.find((d) => d.source === src.source);
      const layout = await probeLayout(src.readFrom);
      const useChanges = canUseChanges(src, parentDev, ctx.config.chunkSize) && parentDev !== undefined;
      const parentList = useChanges && parentDev && parent ? await openDeviceList(ctx.native, parentDev, parent.id) : undefined;
      // A full backup reads only what the file systems use, unless told not to.
      const used: UsedRangesPlan | undefined = useChanges || req.readAllSectors === true ? undefined : await planUsedRanges(src.readFrom, layout, ctx.config.chunkSize);
      const report = progressReporter('reading', withUploads(ctx.native, req.onProgress), src.source);
      let res;
      try {
        res = await reportingWaits(ctx.native, req.onProgress, () => ctx.native.backup(
          {
            source: src.readFrom,
            chunkSize: ctx.config.chunkSize,
            level: req.compressionLevel,
            packSize: ctx.config.packSize,
            // The list is stored a segment at a time as it is built, every
            // inherited chunk checked against the index first.
            writeSegments: true,
            writeRoot: v2,
            ...(useChanges && parentDev && parentList && src.changes
              ? { parent: parentList, ranges: src.changes.ranges, expectedSize: parentDev.sizeBytes }
              : {}),
            ...(used?.ranges && { usedRanges: used.ranges }),
          },
          report,
          token,
        ));
      } catch (e) {
        stopped();
        throw toAppError(e, `backup of ${src.source}`);
      }
      await checkSealedPacks(ctx, res.packs, res.indexFile);
      if (res.indexFile) written.push(res.indexFile);
      await lock?.assertHeld();
      const segments: string[] = [];
      for (let at = 0; at < res.segments.length; at += ID_BYTES) segments.push(res.segments.subarray(at, at + ID_BYTES).toString('hex'));
      devices.push({
        source: src.source,
        readFrom: src.readFrom,
        sizeBytes: res.size,
        chunkSize: ctx.config.chunkSize,
        ...(v2 ? { root: res.root ?? '' } : { segments }),
        layout,
        ...(src.cbt && { cbt: { ...src.cbt } }),
        readMode: useChanges ? 'changed' : 'full',
        readBytes: res.bytesRead,
        addedBytes: res.bytesStored,
        newChunkBytes: res.bytesNew,
        zeroChunks: res.chunksZero,
        ...(used && { unusedBytes: res.bytesUnused, usedBlocks: used.fileSystems }),
      });
    }
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
    lock?.signal.removeEventListener('abort', onAbort);
  }
  stopped();
  await ensureIndexed(ctx, devices, pointId, indexAtStart && [...indexAtStart, ...written]);
  await lock?.assertHeld();
  const manifest: Manifest = {
    version: v2 ? 2 : 1,
    id: pointId,
    repositoryId: ctx.config.id,
    createdAt: now.toISOString(),
    kind: parent ? 'incremental' : 'full',
    ...(parent && { parentId: parent.id }),
    ...(req.jobId !== undefined && { jobId: req.jobId }),
    ...(req.jobName !== undefined && { jobName: req.jobName }),
    devices,
  };
  await writeManifest(ctx.path, ctx.native, manifest);
  return toRestorePoint(manifest);
}
