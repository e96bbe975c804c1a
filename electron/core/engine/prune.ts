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
import type { PruneReport } from './api';
import { isTempFile } from '../persist/atomic-file';
import { collect, markLive, planCollection, pointsMissingChunks } from './collect';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { rel } from './format';
import { type Manifest, listPointIds, readManifest } from './manifest';
import { type RepoEntry, isMissing, listRepoDirs, listRepoEntries, listRepoFiles, removeRepoFiles, statRepoFile } from './repo-files';
import { selectKept } from './retention';

const TEMP_MAX_AGE_MS = 60 * 60 * 1000;

/** Index files beyond which prune merges them even when no pack goes. */
const MAX_INDEX_FILES = 8;

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

  // 2. mark (the index files this prune replaces are listed first)
  const indexFiles = await listRepoFiles(ctx.path, rel.index);
  let load = await ctx.native.loadIndex();
  if (load.badFiles.length) {
    // A damaged index may be the only record of live packs: rebuild it from
    // the pack trailers before anything is deleted.
    const rebuilt = await ctx.native.rebuildIndex([...onDisk.keys()]);
    await removeRepoFiles(ctx.path, load.badFiles.map((f) => rel.indexFile(f)));
    load = await ctx.native.loadIndex();
    indexFiles.splice(0, indexFiles.length, ...load.files);
    if (rebuilt.badPacks.length)
      throw new AppError('REPO_CORRUPT', `prune stopped: packs ${rebuilt.badPacks.join(', ')} are damaged (run verify)`, { packs: rebuilt.badPacks });
  }
  const kept = keptPoints.map((id) => manifests.get(id)).filter((m): m is Manifest => m !== undefined);
  const live = await markLive(ctx, kept, opts);
  if (live.missing) {
    // Named: a manifest replayed from before an earlier prune shows up here.
    const missing = await pointsMissingChunks(ctx, kept);
    throw new AppError('REPO_CORRUPT', `prune stopped: restore points ${missing.join(', ')} reference chunks that are in no pack (run verify)`, { pointIds: missing });
  }
  check();

  // 3. compact (4. the consolidated index replaces the ones listed above)
  const plan = await planCollection(live);
  const drop = plan.drop.map((u) => u.id);
  const rewrite = plan.rewrite.map((u) => u.id);
  const orphans = ctx.native.unindexedPacks([...onDisk.keys()]);
  let removedPacks = 0;
  let freedBytes = 0;
  // Many index files make every lookup search each: merge them too.
  if (drop.length || rewrite.length || indexFiles.length > MAX_INDEX_FILES) {
    const r = await collect(ctx, live, plan, drop, rewrite, indexFiles, opts);
    removedPacks += r.removedPacks;
    freedBytes += r.freedBytes;
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
  await removeRepoFiles(ctx.path, [...segs].filter(([id]) => !live.objects.has(id)).map(([, p]) => p));
  await removeRepoFiles(ctx.path, await staleTemps(ctx.path, Date.now()));
  await ctx.native.loadIndex();
  return { removedPoints: remove, keptPoints, removedPacks, freedBytes: Math.max(0, freedBytes) };
}
