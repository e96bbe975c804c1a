// `repair index`: make the index stop trusting what is lost, so dedup and
// incrementals no longer build on it (review finding 5). Under the
// exclusive lock:
//  1. packs on disk no index file names get indexed from their trailers,
//     and damaged index files are replaced (their packs are among those);
//  2. verify (with `data`: every blob) finds missing packs, packs whose
//     trailer or size is wrong, and blobs that do not decode to their id;
//  3. one consolidated index without those packs and entries replaces the
//     others.
// Restore points that reference what was dropped stay damaged (verify
// names them); the next backup of their device stores those chunks anew
// and an incremental reads them again from the source.
import type { Progress } from '../../common/contract';
import { AppError } from '../../common/contract';
import { createCancelToken } from '../../../native/engine';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { rel } from './format';
import { progressReporter } from './progress';
import { listRepoDirs, listRepoFiles, removeRepoFiles } from './repo-files';

export interface RepairReport {
  /** Packs the index no longer names: missing, or their trailer or size is wrong. */
  droppedPacks: string[];
  /** Entries of damaged blobs the index no longer names. */
  droppedChunks: Array<{ chunkId: string; pack: string }>;
  /** Packs on disk that were indexed again from their trailers. */
  reindexedPacks: string[];
  /** Index files that did not decode and were replaced. */
  badIndexFiles: string[];
  dryRun: boolean;
}

async function packsOnDisk(repo: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await listRepoDirs(repo, rel.packs)) for (const name of await listRepoFiles(repo, `${rel.packs}/${sub}`)) out.push(name);
  return out;
}

export async function runRepairIndex(
  ctx: RepoContext,
  opts: { data: boolean; dryRun: boolean; onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<RepairReport> {
  const check = () => {
    if (opts.signal?.aborted) throw new AppError('CANCELLED', 'repair cancelled');
  };
  let load = await ctx.native.loadIndex();
  const unindexed = ctx.native.unindexedPacks(await packsOnDisk(ctx.path));
  const report: RepairReport = { droppedPacks: [], droppedChunks: [], reindexedPacks: [], badIndexFiles: load.badFiles, dryRun: opts.dryRun };
  if (!opts.dryRun && (unindexed.length || load.badFiles.length)) {
    const rebuilt = await ctx.native.rebuildIndex(unindexed);
    report.reindexedPacks = unindexed.filter((p) => !rebuilt.badPacks.includes(p));
    await removeRepoFiles(ctx.path, load.badFiles.map((f) => rel.indexFile(f)));
    load = await ctx.native.loadIndex();
  } else {
    report.reindexedPacks = unindexed;
  }
  check();

  const token = createCancelToken();
  const onAbort = () => token.cancel();
  opts.signal?.addEventListener('abort', onAbort);
  let found;
  try {
    found = await ctx.native.verify({ data: opts.data }, progressReporter('verifying', opts.onProgress), token);
  } catch (e) {
    check();
    throw toAppError(e, 'repair');
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const packs = new Set<string>();
  const entries = new Map<string, { chunkId: string; pack: string }>();
  for (const p of found.problems) {
    if (p.pack === undefined) continue;
    if (p.chunk === undefined) packs.add(p.pack);
    else entries.set(p.chunk + p.pack, { chunkId: p.chunk, pack: p.pack });
  }
  report.droppedPacks = [...packs].sort();
  report.droppedChunks = [...entries.values()].filter((e) => !packs.has(e.pack));
  if (opts.dryRun || (packs.size === 0 && entries.size === 0)) return report;
  check();

  const before = load.files;
  const fresh = await ctx.native.writeConsolidatedIndex({ exclude: report.droppedPacks, excludeEntries: report.droppedChunks.map((e) => e.chunkId + e.pack) });
  await removeRepoFiles(ctx.path, before.filter((f) => f !== fresh).map((f) => rel.indexFile(f)));
  await ctx.native.loadIndex();
  return report;
}
