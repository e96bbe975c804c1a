// Verify: structural (every manifest opens, every chunk-list segment is
// there and authentic, every chunk a point references is in an indexed
// pack, every indexed pack exists and its trailer agrees with the index)
// and, with `data`, every stored chunk is read, decrypted, decompressed and
// hashed. Each problem names the restore points it damages.
//
// Points are checked one at a time through one native checker that reads
// each distinct chunk-list segment once (most are shared between points),
// so memory does not grow with the number of points or their size.
import type { Progress, VerifyReport } from '../../common/contract';
import { AppError } from '../../common/contract';
import { createCancelToken } from '../../../native/engine';
import { openDeviceList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { ID_BYTES } from './format';
import { type Manifest, listPointIds, readManifest } from './manifest';
import { progressReporter } from './progress';
import { reportingWaits } from './remote/remote-native';
import { scanRepository } from './repo-files';

type Problem = VerifyReport['problems'][number];

function ids(buf: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < buf.length; at += ID_BYTES) out.push(buf.subarray(at, at + ID_BYTES).toString('hex'));
  return out;
}

export async function runVerify(
  ctx: RepoContext,
  opts: { pointId?: string; data: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<VerifyReport> {
  // Links and special files anywhere in the repository first: refused, not reported.
  await scanRepository(ctx.path);
  // Points first, index second: a backup running beside this verify writes
  // its index before its manifest, so every listed point's chunks are in
  // the index loaded after the listing (the other order reports a new
  // point's chunks as missing).
  const pointIds = opts.pointId !== undefined ? [opts.pointId] : await listPointIds(ctx.path);
  const load = await ctx.native.loadIndex();
  const problems: Problem[] = [];
  for (const f of load.badFiles) problems.push({ kind: 'bad-index', message: `index file ${f} is damaged`, pointIds: [] });

  const token = createCancelToken();
  const onAbort = () => token.cancel();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    const manifests: Manifest[] = [];
    for (const id of pointIds) {
      try {
        // A replaced manifest whose original is kept (a versioned bucket) is reported, not damage: the point restores.
        manifests.push(await readManifest(ctx.path, ctx.native, id, (message) => problems.push({ kind: 'bad-manifest', message, pointIds: [] })));
      } catch (e) {
        const err = toAppError(e);
        if (err.code === 'NOT_FOUND' && opts.pointId !== undefined) throw err;
        // A link or special file is not damage to report but a refusal.
        if (err.code === 'REPO_UNSAFE') throw err;
        problems.push({ kind: 'bad-manifest', message: err.message, pointIds: [id] });
      }
    }

    let native;
    try {
      native = await reportingWaits(ctx.native, opts.onProgress, () => ctx.native.verify({ data: opts.data }, progressReporter('verifying', opts.onProgress), token));
    } catch (e) {
      throw toAppError(e, 'verify');
    }
    if (opts.signal?.aborted) throw new AppError('CANCELLED', 'verify cancelled');

    // Which points hold the missing or damaged chunks, or chunks of damaged packs.
    const badChunks = [...new Set(native.problems.filter((p) => p.chunk !== undefined).map((p) => p.chunk as string))];
    const badPacks = [...new Set(native.problems.filter((p) => p.chunk === undefined && p.pack !== undefined).map((p) => p.pack as string))];
    const checker = ctx.native.createListChecker({ badChunks: Buffer.from(badChunks.join(''), 'hex'), badPacks });
    const pointsOfChunk = new Map<string, string[]>();
    const pointsOfPack = new Map<string, string[]>();
    const add = (map: Map<string, string[]>, key: string, id: string) => {
      const l = map.get(key) ?? [];
      if (!l.includes(id)) l.push(id);
      map.set(key, l);
    };
    for (const m of manifests) {
      const missing = new Set<string>();
      try {
        for (const d of m.devices) {
          const list = await openDeviceList(ctx.native, d, m.id);
          const v = await checker.check(list, undefined, token);
          if (v.error !== undefined) throw new AppError('REPO_CORRUPT', v.error, { pointId: m.id, ...(v.errorSegment !== undefined && { segment: v.errorSegment }) });
          for (const c of ids(v.missing)) missing.add(c);
          for (const c of ids(v.badChunks)) add(pointsOfChunk, c, m.id);
          for (const p of v.badPacks) add(pointsOfPack, p, m.id);
        }
      } catch (e) {
        if (opts.signal?.aborted) throw new AppError('CANCELLED', 'verify cancelled');
        const err = toAppError(e);
        if (err.code === 'REPO_UNSAFE') throw err;
        problems.push({ kind: 'bad-manifest', message: err.message, pointIds: [m.id] });
        continue;
      }
      for (const chunk of missing)
        problems.push({ kind: 'missing-chunk', message: `chunk ${chunk} of restore point ${m.id} is in no pack`, pointIds: [m.id], chunkId: chunk });
    }
    if (opts.signal?.aborted) throw new AppError('CANCELLED', 'verify cancelled');

    for (const p of native.problems) {
      const pointIds = p.chunk !== undefined ? (pointsOfChunk.get(p.chunk) ?? []) : p.pack !== undefined ? (pointsOfPack.get(p.pack) ?? []) : [];
      problems.push({
        kind: p.kind,
        message: p.message,
        pointIds,
        ...(p.chunk !== undefined && { chunkId: p.chunk }),
        ...(p.pack !== undefined && { pack: p.pack }),
      });
    }
    // Asked about one point: damage elsewhere is not its problem.
    if (opts.pointId !== undefined) {
      const mine = problems.filter((p) => p.pointIds.length > 0);
      problems.length = 0;
      problems.push(...mine);
    }
    const damaged = new Set(problems.flatMap((p) => p.pointIds));
    return {
      ok: problems.length === 0,
      checkedPoints: pointIds.length,
      checkedChunks: native.chunks,
      damagedPoints: [...damaged].sort(),
      problems,
    };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
