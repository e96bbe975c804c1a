// Verify: structural (every manifest opens, every chunk-list segment is
// there and authentic, every chunk a point references is in an indexed
// pack, every indexed pack exists and its trailer agrees with the index)
// and, with `data`, every stored chunk is read, decrypted, decompressed and
// hashed. Each problem names the restore points it damages.
import type { Progress, VerifyReport } from '../../common/contract';
import { createCancelToken } from '../../../native/engine';
import { AppError } from '../../common/contract';
import { readChunkList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { ID_BYTES } from './format';
import { listPointIds, readManifest } from './manifest';
import { progressReporter } from './progress';

type Problem = VerifyReport['problems'][number];

export async function runVerify(
  ctx: RepoContext,
  opts: { pointId?: string; data: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<VerifyReport> {
  // Points first, index second: a backup running beside this verify writes
  // its index before its manifest, so every listed point's chunks are in
  // the index loaded after the listing (the other order reports a new
  // point's chunks as missing).
  const ids = opts.pointId !== undefined ? [opts.pointId] : await listPointIds(ctx.path);
  const load = await ctx.native.loadIndex();
  const problems: Problem[] = [];
  for (const f of load.badFiles) problems.push({ kind: 'bad-index', message: `index file ${f} is damaged`, pointIds: [] });

  // chunk id (hex) -> points that reference it, only for what we check.
  const lists = new Map<string, Buffer>();
  for (const id of ids) {
    try {
      const m = await readManifest(ctx.path, ctx.native, id);
      const parts: Buffer[] = [];
      for (const d of m.devices) parts.push(await readChunkList(ctx.path, ctx.native, d.segments, id));
      lists.set(id, Buffer.concat(parts));
    } catch (e) {
      const err = toAppError(e);
      if (err.code === 'NOT_FOUND' && opts.pointId !== undefined) throw err;
      problems.push({ kind: 'bad-manifest', message: err.message, pointIds: [id] });
    }
  }

  for (const [id, list] of lists) {
    const missing = ctx.native.missingChunks(list);
    for (let at = 0; at < missing.length; at += ID_BYTES) {
      const chunk = missing.subarray(at, at + ID_BYTES).toString('hex');
      problems.push({ kind: 'missing-chunk', message: `chunk ${chunk} of restore point ${id} is in no pack`, pointIds: [id], chunkId: chunk });
    }
  }

  const token = createCancelToken();
  const onAbort = () => token.cancel();
  opts.signal?.addEventListener('abort', onAbort);
  let native;
  try {
    native = await ctx.native.verify({ data: opts.data }, progressReporter('verifying', opts.onProgress), token);
  } catch (e) {
    throw toAppError(e, 'verify');
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (opts.signal?.aborted) throw new AppError('CANCELLED', 'verify cancelled');

  // Which points hold the damaged chunks, or chunks of damaged packs.
  const badChunks = new Set(native.problems.filter((p) => p.chunk !== undefined).map((p) => p.chunk as string));
  const badPacks = new Set(native.problems.filter((p) => p.chunk === undefined && p.pack !== undefined).map((p) => p.pack as string));
  const pointsOfChunk = new Map<string, string[]>();
  const pointsOfPack = new Map<string, Set<string>>();
  if (badChunks.size || badPacks.size)
    for (const [id, list] of lists)
      for (let at = 0; at < list.length; at += ID_BYTES) {
        const chunk = list.subarray(at, at + ID_BYTES).toString('hex');
        if (badChunks.has(chunk)) {
          const l = pointsOfChunk.get(chunk) ?? [];
          if (!l.includes(id)) l.push(id);
          pointsOfChunk.set(chunk, l);
        }
        if (badPacks.size) {
          const loc = ctx.native.locate(chunk);
          if (loc && badPacks.has(loc.pack)) pointsOfPack.set(loc.pack, (pointsOfPack.get(loc.pack) ?? new Set()).add(id));
        }
      }
  for (const p of native.problems) {
    const pointIds = p.chunk !== undefined ? (pointsOfChunk.get(p.chunk) ?? []) : p.pack !== undefined ? [...(pointsOfPack.get(p.pack) ?? [])] : [];
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
    checkedPoints: ids.length,
    checkedChunks: native.chunks,
    damagedPoints: [...damaged].sort(),
    problems,
  };
}
