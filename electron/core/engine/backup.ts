// One backup: for each source, decide full or changed-only, run the native
// pipeline, store the chunk list, and write the manifest last. Runs under
// a shared lock; prune (exclusive) waits for it.
//
// Changed-only needs proof that the parent saw the same device state the
// tracker counts from: same source, same tracker generation, the change
// list starting at the parent's snapshot number, and the same size. Anything
// else reads the whole source (and stores only chunks the repository lacks).
import { randomBytes } from 'node:crypto';

import { AppError, type RestorePoint } from '../../common/contract';
import { createCancelToken } from '../../../native/engine';
import type { BackupRequest, BackupSource } from './api';
import { openDeviceList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { ID_BYTES } from './format';
import { probeLayout } from './layout-probe';
import { type Manifest, type ManifestDevice, listPointIds, readManifest, toRestorePoint, writeManifest } from './manifest';
import { progressReporter } from './progress';

export function newPointId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

async function findParent(ctx: RepoContext, req: BackupRequest): Promise<Manifest | undefined> {
  if (req.parentId !== undefined) return readManifest(ctx.path, ctx.native, req.parentId);
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

export async function runBackup(ctx: RepoContext, req: BackupRequest): Promise<RestorePoint> {
  if (req.sources.length === 0) throw new AppError('INVALID_ARGUMENT', 'a backup needs at least one source');
  if (!Number.isInteger(req.compressionLevel) || req.compressionLevel < 1 || req.compressionLevel > 19)
    throw new AppError('INVALID_ARGUMENT', 'compressionLevel must be 1-19');
  if (req.signal?.aborted) throw new AppError('CANCELLED', 'backup cancelled');
  const now = new Date();
  // Format 1 repositories are written in format 1 until upgraded.
  const v2 = ctx.config.version >= 2;
  const parent = await findParent(ctx, req);
  const devices: ManifestDevice[] = [];
  const token = createCancelToken();
  const onAbort = () => token.cancel();
  req.signal?.addEventListener('abort', onAbort);
  try {
    for (const src of req.sources) {
      const parentDev = parent?.devices.find((d) => d.source === src.source);
      const layout = await probeLayout(src.readFrom);
      const useChanges = canUseChanges(src, parentDev, ctx.config.chunkSize) && parentDev !== undefined;
      const parentList = useChanges && parentDev && parent ? await openDeviceList(ctx.native, parentDev, parent.id) : undefined;
      const report = progressReporter('reading', req.onProgress, src.source);
      let res;
      try {
        res = await ctx.native.backup(
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
          },
          report,
          token,
        );
      } catch (e) {
        throw toAppError(e, `backup of ${src.source}`);
      }
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
      });
    }
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
  }
  if (req.signal?.aborted) throw new AppError('CANCELLED', 'backup cancelled');
  const manifest: Manifest = {
    version: v2 ? 2 : 1,
    id: newPointId(now),
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
