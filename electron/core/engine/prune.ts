// Prune: forget the restore points retention does not keep, then collect
// garbage. Runs under the exclusive lock, so no backup adds packs
// meanwhile. Every step leaves a valid repository if the process dies
// right after it (docs/repository-format.md, "Prune"):
//
//  1. delete the manifests of forgotten points (each unlink is atomic);
//  2. mark: the chunks and segments of the remaining points are live;
//  3. compact: copy live blobs of sparse packs into new packs, write one
//     new index naming every pack that stays (old index files still valid);
//  4. delete the other index files;
//  5. delete packs no index names (emptied, repacked, or orphans of a
//     killed backup), unreferenced segments and stale temp files.
import type { Progress, Retention } from '../../common/contract';
import { AppError } from '../../common/contract';
import { createCancelToken } from '../../../native/engine';
import type { PruneReport } from './api';
import { isTempFile } from '../persist/atomic-file';
import { readChunkList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { REPACK_BELOW, rel } from './format';
import { type Manifest, listPointIds, readManifest } from './manifest';
import { progressReporter } from './progress';
import { type RepoEntry, isMissing, listRepoDirs, listRepoEntries, listRepoFiles, removeRepoFiles, statRepoFile } from './repo-files';
import { selectKept } from './retention';

const TEMP_MAX_AGE_MS = 60 * 60 * 1000;

/** Files of packs/<xx>/ or lists/<xx>/ by name, with their paths (relative to the repository). */
async function filesInBuckets(repo: string, top: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // A link planted as a bucket (packs/zz -> /etc) is REPO_UNSAFE here,
  // before anything is deleted (security review #2).
  for (const sub of await listRepoDirs(repo, top)) for (const name of await listRepoFiles(repo, `${top}/${sub}`)) out.set(name, `${top}/${sub}/${name}`);
  return out;
}

const packsOnDisk = (repo: string) => filesInBuckets(repo, rel.packs);
const segmentsOnDisk = (repo: string) => filesInBuckets(repo, rel.lists);

/** Temp files a killed writer left: tmp/*, and hidden temp files beside their targets. */
async function staleTemps(repo: string, now: number): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: RepoEntry[];
    try {
      entries = await listRepoEntries(repo, dir);
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    for (const e of entries) {
      const p = dir ? `${dir}/${e.name}` : e.name;
      // Links and special files are neither walked nor swept.
      if (e.type === 'dir' && depth > 0) await walk(p, depth - 1);
      else if (e.type === 'file' && (dir === rel.tmp || isTempFile(e.name))) {
        const st = await statRepoFile(repo, p).catch(() => undefined);
        // Only old ones: a lock being taken writes a temp file too.
        if (st && (dir === rel.tmp || now - st.mtimeMs > TEMP_MAX_AGE_MS)) out.push(p);
      }
    }
  };
  await walk('', 2);
  return out;
}

export async function runPrune(
  ctx: RepoContext,
  opts: { retention: Retention; dryRun: boolean; now?: Date; onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<PruneReport> {
  const ids = await listPointIds(ctx.path);
  const manifests = new Map<string, Manifest>();
  for (const id of ids) {
    try {
      manifests.set(id, await readManifest(ctx.path, ctx.native, id));
    } catch (e) {
      // A damaged manifest would lose its chunks to GC if ignored: stop.
      throw toAppError(e, `prune stopped: manifest ${id} cannot be read (run verify)`);
    }
  }
  const group = (m: Manifest) => m.jobId ?? `sources:${m.devices.map((d) => d.source).sort().join('\n')}`;
  const { keep, remove } = selectKept(
    [...manifests.values()].map((m) => ({ id: m.id, createdAt: m.createdAt, group: group(m) })),
    opts.retention,
  );
  const keptPoints = ids.filter((id) => keep.has(id));
  if (opts.dryRun) return { removedPoints: remove, keptPoints, removedPacks: 0, freedBytes: 0 };
  const check = () => {
    if (opts.signal?.aborted) throw new AppError('CANCELLED', 'prune cancelled');
  };

  // The buckets are listed before anything is deleted, so a link or special
  // file planted among them stops prune with nothing changed.
  const onDisk = await packsOnDisk(ctx.path);
  await segmentsOnDisk(ctx.path);

  // 1. forget
  await removeRepoFiles(ctx.path, remove.map((id) => rel.point(id)));
  check();

  // 2. mark
  const live: Buffer[] = [];
  const liveOwner: string[] = []; // the point of each list in `live`
  const liveSegments = new Set<string>();
  for (const id of keptPoints) {
    const m = manifests.get(id);
    if (!m) continue;
    for (const d of m.devices) {
      d.segments.forEach((s) => liveSegments.add(s));
      live.push(await readChunkList(ctx.path, ctx.native, d.segments, id));
      liveOwner.push(id);
    }
  }

  const load = await ctx.native.loadIndex();
  if (load.badFiles.length) {
    // A damaged index may be the only record of live packs: rebuild it from
    // the pack trailers before anything is deleted.
    const rebuilt = await ctx.native.rebuildIndex([...onDisk.keys()]);
    await removeRepoFiles(ctx.path, load.badFiles.map((f) => rel.indexFile(f)));
    await ctx.native.loadIndex();
    if (rebuilt.badPacks.length)
      throw new AppError('REPO_CORRUPT', `prune stopped: packs ${rebuilt.badPacks.join(', ')} are damaged (run verify)`, { packs: rebuilt.badPacks });
  }
  // Named: a manifest replayed from before an earlier prune shows up here.
  const missing = [...new Set(live.flatMap((l, i) => (ctx.native.missingChunks(l).length ? [liveOwner[i] ?? ''] : [])))];
  if (missing.length)
    throw new AppError('REPO_CORRUPT', `prune stopped: restore points ${missing.join(', ')} reference chunks that are in no pack (run verify)`, { pointIds: missing });
  check();

  // 3. compact
  const usage = ctx.native.gcPlan(live);
  const drop = usage.filter((u) => u.liveChunks === 0).map((u) => u.id);
  const rewrite = usage.filter((u) => u.liveChunks > 0 && u.liveBytes < u.storedBytes * REPACK_BELOW).map((u) => u.id);
  const indexed = new Set(usage.map((u) => u.id));
  const orphans = [...onDisk.keys()].filter((id) => !indexed.has(id));
  let removedPacks = 0;
  let freedBytes = 0;
  if (drop.length || rewrite.length) {
    const token = createCancelToken();
    const onAbort = () => token.cancel();
    opts.signal?.addEventListener('abort', onAbort);
    let res;
    try {
      res = await ctx.native.compact({ live, rewrite, drop, packSize: ctx.config.packSize }, progressReporter('pruning', opts.onProgress), token);
    } catch (e) {
      throw toAppError(e, 'prune');
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    // 4. the new index is the only one from here on
    const others = (await listRepoFiles(ctx.path, rel.index)).filter((f) => f !== res.indexFile);
    await removeRepoFiles(ctx.path, others.map((f) => rel.indexFile(f)));
    const gone = [...drop, ...rewrite];
    for (const id of gone) freedBytes += usage.find((u) => u.id === id)?.size ?? 0;
    for (const id of res.newPacks) freedBytes -= (await statRepoFile(ctx.path, rel.pack(id)))?.size ?? 0;
    await removeRepoFiles(ctx.path, gone.map((id) => rel.pack(id)));
    removedPacks += gone.length;
  }

  // 5. sweep what nothing names
  for (const id of orphans) {
    const p = onDisk.get(id);
    if (!p) continue;
    freedBytes += (await statRepoFile(ctx.path, p).catch(() => undefined))?.size ?? 0;
    removedPacks++;
  }
  await removeRepoFiles(ctx.path, orphans.flatMap((id) => onDisk.get(id) ?? []));
  const segs = await segmentsOnDisk(ctx.path);
  await removeRepoFiles(ctx.path, [...segs].filter(([id]) => !liveSegments.has(id)).map(([, p]) => p));
  await removeRepoFiles(ctx.path, await staleTemps(ctx.path, Date.now()));
  await ctx.native.loadIndex();
  return { removedPoints: remove, keptPoints, removedPacks, freedBytes: Math.max(0, freedBytes) };
}
