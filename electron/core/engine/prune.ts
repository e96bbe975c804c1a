// Prune: forget the restore points retention does not keep, then collect
// garbage. Runs under the exclusive lock, so no backup adds packs
// meanwhile. Every step leaves a valid repository if the process dies
// right after it (docs/repository-format.md, "Prune"):
//
//  1. delete the manifests of forgotten points (each unlink is atomic);
//  2. mark: the chunks and segments of the remaining points are live;
//  3. compact: copy live blobs of sparse packs into new packs, write one
//     new index naming every pack that stays (old index files still valid);
//  4. delete the index files the mark step read (never one written since);
//  5. delete packs no index names (emptied, repacked, or orphans of a
//     killed backup), unreferenced segments and stale temp files.
//
// Second line of defence, for when locking fails (a lock judged stale by
// mistake, a machine whose clock is off): nothing young is deleted or
// rewritten (kopia's maintenance safety margins). A running backup's
// sealed packs are unindexed until it ends, its segments unreferenced
// until its manifest exists, and a pack it just indexed may hold no chunk a
// manifest names yet: all young. Margins are by file mtime against `now`.
//
// Scope: retention applies to one job's points when `jobId` is given (a
// scheduled run), to every group otherwise (an explicit user action).
// Pinned points are always kept; `forget` removes points whatever the
// policy says (pins win). Prune stops when any manifest cannot be read: its
// chunks would otherwise look unreferenced and be collected.
//
// Every file is reached through repo-files.ts (RepoDir): the buckets are
// listed before anything is deleted, so a link or special file planted
// among them (packs/zz -> /etc) stops prune with nothing changed.
import { AppError } from '../../common/contract';
import type { PruneOptions, PruneReport } from './api';
import { isTempFile } from '../persist/atomic-file';
import { collect, markLive, planCollection, pointsMissingChunks } from './collect';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { rel } from './format';
import type { HeldLock } from './locks';
import { type Manifest, listPointIds, readManifest } from './manifest';
import { type RepoEntry, isMissing, listRepoDirs, listRepoEntries, listRepoFiles, removeRepoFiles, statRepoFile } from './repo-files';
import { selectKept } from './retention';

const HOUR = 60 * 60 * 1000;

/** kopia's "full" safety: what nothing names is deleted only after a day. */
export const PRUNE_MARGINS = {
  /** Unindexed packs, unreferenced chunk-list objects, temp files. */
  unreferencedMs: 24 * HOUR,
  /** Indexed packs before they may be dropped or repacked. */
  rewriteMs: 2 * HOUR,
};

/** Index files beyond which prune merges them even when no pack goes. */
const MAX_INDEX_FILES = 8;

interface FileInfo {
  /** Relative to the repository. */
  path: string;
  size: number;
  mtimeMs: number;
}

/** Files of packs/<xx>/ or lists/<xx>/ by name, with their paths (relative to the repository). */
async function filesInBuckets(repo: string, top: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of await listRepoDirs(repo, top)) for (const name of await listRepoFiles(repo, `${top}/${sub}`)) out.set(name, `${top}/${sub}/${name}`);
  return out;
}

async function statFile(repo: string, p: string | undefined): Promise<FileInfo | undefined> {
  if (p === undefined) return undefined;
  const st = await statRepoFile(repo, p).catch((e: unknown) => {
    if (isMissing(e)) return undefined;
    throw e;
  });
  return st && { path: p, size: st.size, mtimeMs: st.mtimeMs };
}

/** The C++ writer's temp files: `.<name>.tmp-<12 hex>` (file_io.cc). */
const NATIVE_TEMP = /^\..+\.tmp-[0-9a-f]{12}$/;

/** Temp files a killed writer left: everything in tmp/, and hidden temp files beside their targets. */
async function tempFiles(repo: string): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
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
      else if (e.type === 'file' && (dir === rel.tmp || isTempFile(e.name) || NATIVE_TEMP.test(e.name))) {
        const f = await statFile(repo, p);
        if (f) out.push(f);
      }
    }
  };
  await walk('', 2);
  return out;
}

async function readAllManifests(ctx: RepoContext): Promise<{ ids: string[]; manifests: Map<string, Manifest> }> {
  const ids = await listPointIds(ctx.path);
  const manifests = new Map<string, Manifest>();
  for (const id of ids) {
    try {
      manifests.set(id, await readManifest(ctx.path, ctx.native, id));
    } catch (e) {
      // A damaged manifest would lose its chunks to GC if ignored: stop.
      const err = toAppError(e, `prune stopped: restore point ${id} cannot be read (run verify)`);
      throw new AppError(err.code === 'NOT_FOUND' ? 'REPO_CORRUPT' : err.code, err.message, { ...err.details, pointId: id });
    }
  }
  return { ids, manifests };
}

/** The retention group of a point: its job, or without a job its set of sources. */
export function retentionGroup(m: Pick<Manifest, 'jobId' | 'devices'>): string {
  return m.jobId ?? `sources:${m.devices.map((d) => d.source).sort().join('\n')}`;
}

function choose(ids: string[], manifests: Map<string, Manifest>, opts: PruneOptions): { remove: string[]; kept: string[] } {
  const pinned = new Set(opts.pinned ?? []);
  for (const id of opts.forget ?? [])
    if (!manifests.has(id)) throw new AppError('NOT_FOUND', `restore point ${id} does not exist in this repository`, { pointId: id });
  const subject = [...manifests.values()].filter((m) => !pinned.has(m.id) && (opts.jobId === undefined || m.jobId === opts.jobId));
  const removed = new Set(
    opts.retention ? selectKept(subject.map((m) => ({ id: m.id, createdAt: m.createdAt, group: retentionGroup(m) })), opts.retention).remove : [],
  );
  for (const id of opts.forget ?? []) if (!pinned.has(id)) removed.add(id);
  return { remove: ids.filter((id) => removed.has(id)), kept: ids.filter((id) => !removed.has(id)) };
}

export async function runPrune(ctx: RepoContext, opts: PruneOptions, lock?: HeldLock): Promise<PruneReport> {
  const now = (opts.now ?? new Date()).getTime();
  const check = () => {
    if (lock?.signal.aborted) throw lock.signal.reason;
    if (opts.signal?.aborted) throw new AppError('CANCELLED', 'prune cancelled');
  };
  // Before every step that deletes: the lock is still ours, and not cancelled.
  const beforeDelete = async () => {
    check();
    await lock?.assertHeld();
  };
  const { ids, manifests } = await readAllManifests(ctx);
  const { remove, kept: keptPoints } = choose(ids, manifests, opts);

  const onDisk = await filesInBuckets(ctx.path, rel.packs);
  const lists = await filesInBuckets(ctx.path, rel.lists);

  // The index files this prune starts from; only these are replaced later.
  const indexFiles = await listRepoFiles(ctx.path, rel.index);
  let load = await ctx.native.loadIndex();
  if (load.badFiles.length && !opts.dryRun) {
    // A damaged index may be the only record of live packs: rebuild it from
    // the pack trailers before anything is deleted.
    await beforeDelete();
    const rebuilt = await ctx.native.rebuildIndex([...onDisk.keys()]);
    await removeRepoFiles(ctx.path, load.badFiles.map((f) => rel.indexFile(f)));
    load = await ctx.native.loadIndex();
    indexFiles.splice(0, indexFiles.length, ...load.files);
    if (rebuilt.badPacks.length)
      throw new AppError('REPO_CORRUPT', `prune stopped: packs ${rebuilt.badPacks.join(', ')} are damaged (run verify)`, { packs: rebuilt.badPacks });
  }
  const kept = keptPoints.map((id) => manifests.get(id)).filter((m): m is Manifest => m !== undefined);
  const live = await markLive(ctx, kept, { ...opts, ...(lock && { lockSignal: lock.signal }) });
  if (live.missing) {
    // Named: a manifest replayed from before an earlier prune shows up here.
    const missing = await pointsMissingChunks(ctx, kept);
    throw new AppError('REPO_CORRUPT', `prune stopped: restore points ${missing.join(', ')} reference chunks that are in no pack (run verify)`, { pointIds: missing });
  }
  check();

  // What is old enough to go. Points to forget count as gone for the plan.
  const plan = await planCollection(live);
  const old = (f: FileInfo | undefined, margin: number) => f !== undefined && now - f.mtimeMs >= margin;
  let heldBackBytes = 0;
  let heldBackUntil = 0;
  const holdBack = (f: FileInfo | undefined, bytes: number, margin: number) => {
    heldBackBytes += bytes;
    if (f) heldBackUntil = Math.max(heldBackUntil, f.mtimeMs + margin);
  };
  const drop: string[] = [];
  const rewrite: string[] = [];
  for (const u of plan.drop) {
    const f = await statFile(ctx.path, onDisk.get(u.id));
    if (old(f, PRUNE_MARGINS.rewriteMs)) drop.push(u.id);
    else holdBack(f, u.size, PRUNE_MARGINS.rewriteMs);
  }
  for (const u of plan.rewrite) {
    const f = await statFile(ctx.path, onDisk.get(u.id));
    if (old(f, PRUNE_MARGINS.rewriteMs)) rewrite.push(u.id);
    else holdBack(f, u.storedBytes - u.liveBytes, PRUNE_MARGINS.rewriteMs);
  }
  const orphans: FileInfo[] = [];
  for (const id of ctx.native.unindexedPacks([...onDisk.keys()])) {
    const f = await statFile(ctx.path, onDisk.get(id));
    if (!f) continue;
    if (old(f, PRUNE_MARGINS.unreferencedMs)) orphans.push(f);
    else holdBack(f, f.size, PRUNE_MARGINS.unreferencedMs);
  }
  // List objects of forgotten points are unreferenced once their manifests go.
  const deadLists: FileInfo[] = [];
  for (const [id, p] of lists) {
    if (live.objects.has(id)) continue;
    const f = await statFile(ctx.path, p);
    if (!f) continue;
    if (old(f, PRUNE_MARGINS.unreferencedMs)) deadLists.push(f);
    else holdBack(f, f.size, PRUNE_MARGINS.unreferencedMs);
  }
  const temps: FileInfo[] = [];
  for (const f of await tempFiles(ctx.path)) {
    if (old(f, PRUNE_MARGINS.unreferencedMs)) temps.push(f);
    else holdBack(f, f.size, PRUNE_MARGINS.unreferencedMs);
  }
  const bySize = (files: FileInfo[]) => files.reduce((n, f) => n + f.size, 0);
  const sweptBytes = bySize(orphans) + bySize(deadLists) + bySize(temps);
  const held = { heldBackBytes, ...(heldBackUntil > 0 && { heldBackUntil: new Date(heldBackUntil).toISOString() }) };

  if (opts.dryRun) {
    // The same plan; repacked packs free what is not live in them (their
    // new packs' framing is a few hundred bytes, left out).
    const usage = new Map([...plan.drop, ...plan.rewrite].map((u) => [u.id, u]));
    let freed = sweptBytes;
    for (const id of drop) freed += usage.get(id)?.size ?? 0;
    for (const id of rewrite) {
      const u = usage.get(id);
      if (u) freed += u.size - u.liveBytes;
    }
    return { removedPoints: remove, keptPoints, removedPacks: drop.length + rewrite.length + orphans.length, freedBytes: freed, ...held };
  }

  // 1. forget
  await beforeDelete();
  await removeRepoFiles(ctx.path, remove.map((id) => rel.point(id)));

  // 3. compact (4. the consolidated index replaces the ones listed above)
  let removedPacks = 0;
  let freedBytes = 0;
  // Many index files make every lookup search each: merge them too.
  if (drop.length || rewrite.length || indexFiles.length > MAX_INDEX_FILES) {
    check();
    const r = await collect(ctx, live, plan, drop, rewrite, indexFiles, {
      ...opts,
      ...(lock && { lockSignal: lock.signal }),
      beforeDelete,
    });
    removedPacks += r.removedPacks;
    freedBytes += r.freedBytes;
  }

  // 5. sweep what nothing names and is old enough
  await beforeDelete();
  await removeRepoFiles(ctx.path, [...orphans, ...deadLists, ...temps].map((f) => f.path));
  removedPacks += orphans.length;
  freedBytes += sweptBytes;
  await ctx.native.loadIndex();
  return { removedPoints: remove, keptPoints, removedPacks, freedBytes: Math.max(0, freedBytes), ...held };
}
