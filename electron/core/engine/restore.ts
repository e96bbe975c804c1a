// Restore one device (or one partition of it) of a restore point to a
// block device or an image file. Every chunk is hashed after decryption
// and must match its id before it is written (native pipeline_restore).
// Given a resume directory, the restore records what is durably on the
// target as it goes, and a later run to the same target picks up there
// (restore-resume.ts, native restore_resume.h).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { createCancelToken } from '../../../native/engine';
import type { RestoreRequest, RestoreResult, ResumeInfo, ResumeQuery } from './api';
import { openDeviceList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { type HeldLock, lockedSignal } from './locks';
import { readManifest } from './manifest';
import { progressReporter } from './progress';
import { reportingWaits } from './remote/remote-native';
import { type ResumeKeyParts, resumeRecord, targetIdentity } from './restore-resume';
import { checkRestoreTarget } from './target-check';

/** The device of the point a restore reads, and the byte range of it (a partition, or all of it). */
async function planRestore(ctx: RepoContext, req: Pick<RestoreRequest, 'pointId' | 'source' | 'partition' | 'range'>) {
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
  if (req.range !== undefined) {
    const { start, length } = req.range;
    if (req.partition !== undefined || ![start, length].every((n) => Number.isSafeInteger(n) && n >= 0) || start + length > dev.sizeBytes)
      throw new AppError('INVALID_ARGUMENT', `the range ${start}+${length} is not inside device ${req.source} of ${m.id} (${dev.sizeBytes} bytes)`, { pointId: m.id });
    rangeStart = start;
    rangeLength = length;
  }
  return { m, dev, rangeStart, rangeLength };
}

type Plan = Awaited<ReturnType<typeof planRestore>>;

function resumeKeyParts(ctx: RepoContext, plan: Plan, target: string): ResumeKeyParts {
  return {
    repositoryId: ctx.config.id,
    pointId: plan.m.id,
    source: plan.dev.source,
    rangeStart: plan.rangeStart,
    rangeLength: plan.rangeLength,
    chunkSize: plan.dev.chunkSize,
    target,
  };
}

/**
 * What a restore with these choices would resume from an earlier,
 * interrupted run to the same target, before anything is written: the
 * progress record and the sample of the target the restore checks first
 * are read (a missing image file is not created).
 */
export async function probeResume(ctx: RepoContext, req: ResumeQuery): Promise<ResumeInfo> {
  const plan = await planRestore(ctx, req);
  const identity = await targetIdentity(req.target, { create: false });
  if (identity === undefined) return { bytes: 0, totalBytes: plan.rangeLength };
  const record = resumeRecord(req.resumeDir, resumeKeyParts(ctx, plan, identity));
  const list = await openDeviceList(ctx.native, plan.dev, plan.m.id);
  const probe = await ctx.native.probeResume({
    list,
    chunkSize: plan.dev.chunkSize,
    deviceSize: plan.dev.sizeBytes,
    rangeStart: plan.rangeStart,
    rangeLength: plan.rangeLength,
    target: req.target,
    resumeFile: record.file,
    resumeKey: record.key,
  });
  return { bytes: probe.bytes, totalBytes: plan.rangeLength, ...(probe.ignored !== undefined && { ignored: probe.ignored }) };
}

export async function runRestore(ctx: RepoContext, request: RestoreRequest, lock?: HeldLock): Promise<RestoreResult> {
  // A lost lock (a prune may be deleting packs) stops the restore like a cancel.
  const req = lock ? { ...request, signal: lockedSignal(request.signal, lock) } : request;
  if (req.signal?.aborted) throw new AppError('CANCELLED', 'restore cancelled');
  const plan = await planRestore(ctx, req);
  const { m, dev, rangeStart, rangeLength } = plan;
  await checkRestoreTarget(req.target);
  const placed = req.targetOffset !== undefined;
  if (placed && !(Number.isSafeInteger(req.targetOffset) && (req.targetOffset ?? -1) >= 0))
    throw new AppError('INVALID_ARGUMENT', `targetOffset must be a whole number of bytes, not ${req.targetOffset}`);
  const resume = req.resumeDir !== undefined && !placed ? resumeRecord(req.resumeDir, resumeKeyParts(ctx, plan, await targetIdentity(req.target))) : undefined;
  if (resume) await fs.mkdir(path.dirname(resume.file), { recursive: true, mode: 0o700 });
  const list = await openDeviceList(ctx.native, dev, m.id);
  const token = createCancelToken();
  const onAbort = () => token.cancel();
  req.signal?.addEventListener('abort', onAbort);
  try {
    const r = await reportingWaits(ctx.native, req.onProgress, () => ctx.native.restore(
      {
        list,
        chunkSize: dev.chunkSize,
        deviceSize: dev.sizeBytes,
        rangeStart,
        rangeLength,
        target: req.target,
        ...(placed && { targetOffset: req.targetOffset, targetZeroed: req.targetZeroed === true }),
        skipIdentical: req.skipIdentical,
        ...(resume && { resumeFile: resume.file, resumeKey: resume.key }),
        ...(req.resumeEveryBytes !== undefined && { resumeEveryBytes: req.resumeEveryBytes }),
      },
      progressReporter('restoring', req.onProgress, req.target),
      token,
    ));
    // Done and synced: nothing is left to resume.
    if (resume) await fs.rm(resume.file, { force: true });
    return {
      bytesWritten: r.bytesWritten,
      bytesSkipped: r.bytesSkipped,
      ...(r.bytesResumed > 0 && { bytesResumed: r.bytesResumed }),
      ...(r.resumeIgnored !== undefined && { resumeIgnored: r.resumeIgnored }),
      verified: true,
    };
  } catch (e) {
    const err = toAppError(e, `restore of ${m.id} to ${req.target}`);
    if (err.code === 'REPO_CORRUPT') throw new AppError(err.code, err.message, { ...err.details, pointId: m.id });
    throw err;
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
  }
}
