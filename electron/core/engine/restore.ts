// Restore one device (or one partition of it) of a restore point to a
// block device or an image file. Every chunk is hashed after decryption
// and must match its id before it is written (native pipeline_restore).
import { AppError } from '../../common/contract';
import { createCancelToken } from '../../../native/engine';
import type { RestoreRequest, RestoreResult } from './api';
import { openDeviceList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { readManifest } from './manifest';
import { progressReporter } from './progress';
import { checkRestoreTarget } from './target-check';

export async function runRestore(ctx: RepoContext, req: RestoreRequest): Promise<RestoreResult> {
  if (req.signal?.aborted) throw new AppError('CANCELLED', 'restore cancelled');
  const m = await readManifest(ctx.path, ctx.native, req.pointId);
  const dev = m.devices.find((d) => d.source === req.source);
  if (!dev)
    throw new AppError('NOT_FOUND', `restore point ${m.id} has no device ${req.source} (it has ${m.devices.map((d) => d.source).join(', ')})`, {
      pointId: m.id,
      source: req.source,
    });
  let rangeStart = 0;
  let rangeLength = dev.sizeBytes;
  if (req.partition !== undefined) {
    const p = dev.layout.partitions.find((x) => x.number === req.partition);
    if (!p) throw new AppError('NOT_FOUND', `restore point ${m.id} has no partition ${req.partition} on ${req.source}`, { pointId: m.id, partition: req.partition });
    rangeStart = p.startBytes;
    rangeLength = p.sizeBytes;
  }
  await checkRestoreTarget(req.target);
  const list = await openDeviceList(ctx.native, dev, m.id);
  const token = createCancelToken();
  const onAbort = () => token.cancel();
  req.signal?.addEventListener('abort', onAbort);
  try {
    const r = await ctx.native.restore(
      { list, chunkSize: dev.chunkSize, deviceSize: dev.sizeBytes, rangeStart, rangeLength, target: req.target, skipIdentical: req.skipIdentical },
      progressReporter('restoring', req.onProgress, req.target),
      token,
    );
    return { bytesWritten: r.bytesWritten, bytesSkipped: r.bytesSkipped, verified: true };
  } catch (e) {
    const err = toAppError(e, `restore of ${m.id} to ${req.target}`);
    if (err.code === 'REPO_CORRUPT') throw new AppError(err.code, err.message, { ...err.details, pointId: m.id });
    throw err;
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
  }
}
