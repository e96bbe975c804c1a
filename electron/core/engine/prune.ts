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
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { type PackUsage, createCancelToken } from '../../../native/engine';
import type { PruneOptions, PruneReport } from './api';
import { isTempFile, listDir, removeDurably } from './atomic-file';
import { readChunkList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { REPACK_BELOW, dirs } from './format';
import type { HeldLock } from './locks';
import { type Manifest, listPointIds, readManifest } from './manifest';
import { progressReporter } from './progress';
import { selectKept } from './retention';

const HOUR = 60 * 60 * 1000;

/** kopia's "full" safety: what nothing names is deleted only after a day. */
export const PRUNE_MARGINS = {
  /** Unindexed packs, unreferenced chunk-list segments, temp files. */
  unreferencedMs: 24 * HOUR,
  /** Indexed packs before they may be dropped or repacked. */
  rewriteMs: 2 * HOUR,
};


interface FileInfo {
  path: string;
  size: number;
  mtimeMs: number;
}

async function statAll(paths: Map<string, string>): Promise<Map<string, FileInfo>> {
  const out = new Map<string, FileInfo>();
  for (const [id, p] of paths) {
    const st = await fs.stat(p).catch(() => undefined);
    if (st?.isFile()) out.set(id, { path: p, size: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}

async function filesIn2Levels(top: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of await listDir(top)) for (const name of await listDir(path.join(top, sub))) out.set(name, path.join(top, sub, name));
  return out;
}

/** The C++ writer's temp files: `.<name>.tmp-<12 hex>` (file_io.cc). */
const NATIVE_TEMP = /^\..+\.tmp-[0-9a-f]{12}$/;

/** Temp files a killed writer left: everything in tmp/, and hidden temp files beside their targets. */
async function tempFiles(repo: string): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth > 0) await walk(p, depth - 1);
      else if (e.isFile() && (dir === dirs.tmp(repo) || isTempFile(e.name) || NATIVE_TEMP.test(e.name))) {
        const st = await fs.stat(p).catch(() => undefined);
        if (st) out.push({ path: p, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
  };
  await walk(repo, 2);
  return out;
}

/** What the kept points reference. The representation is the mark step's business (reposcale). */
interface Marked {
  live: Buffer[];
  segments: Set<string>;
}

async function mark(ctx: RepoContext, kept: Manifest[]): Promise<Marked> {
  const live: Buffer[] = [];
  const segments = new Set<string>();
  for (const m of kept)
    for (const d of m.devices) {
      d.segments.forEach((s) => segments.add(s));
      live.push(await readChunkList(ctx.path, ctx.native, d.segments, m.id));
    }
  return { live, segments };
}

function missingCount(ctx: RepoContext, marked: Marked): number {
  return marked.live.reduce((n, l) => n + ctx.native.missingChunks(l).length / 32, 0);
}

function plan(ctx: RepoContext, marked: Marked): PackUsage[] {
  return ctx.native.gcPlan(marked.live);
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

  // The index files this prune starts from; only these are replaced later.
  const indexFiles = await listDir(dirs.index(ctx.path));
  const load = await ctx.native.loadIndex();
  const marked = await mark(
    ctx,
    keptPoints.map((id) => manifests.get(id)).filter((m): m is Manifest => m !== undefined),
  );
  const onDisk = await statAll(await filesIn2Levels(dirs.packs(ctx.path)));
  check();
  if (load.badFiles.length && !opts.dryRun) {
    // A damaged index may be the only record of live packs: rebuild it from
    // the pack trailers before anything is deleted.
    await beforeDelete();
    const rebuilt = await ctx.native.rebuildIndex([...onDisk.keys()]);
    await removeDurably(load.badFiles.map((f) => path.join(dirs.index(ctx.path), f)));
    await ctx.native.loadIndex();
    if (rebuilt.badPacks.length)
      throw new AppError('REPO_CORRUPT', `prune stopped: packs ${rebuilt.badPacks.join(', ')} are damaged (run verify)`, { packs: rebuilt.badPacks });
    indexFiles.splice(0, indexFiles.length, ...(await listDir(dirs.index(ctx.path))));
  }
  if (missingCount(ctx, marked))
    throw new AppError('REPO_CORRUPT', 'prune stopped: restore points reference chunks that are in no pack (run verify)');
  check();

  // What is old enough to go. Points to forget count as gone for the plan.
  const usage = plan(ctx, marked);
  const old = (f: FileInfo | undefined, margin: number) => f !== undefined && now - f.mtimeMs >= margin;
  let heldBackBytes = 0;
  let heldBackUntil = 0;
  const holdBack = (f: FileInfo | undefined, bytes: number, margin: number) => {
    heldBackBytes += bytes;
    if (f) heldBackUntil = Math.max(heldBackUntil, f.mtimeMs + margin);
  };
  const drop: string[] = [];
  const rewrite: string[] = [];
  for (const u of usage) {
    const f = onDisk.get(u.id);
    const empty = u.liveChunks === 0;
    const sparse = !empty && u.liveBytes < u.storedBytes * REPACK_BELOW;
    if (!empty && !sparse) continue;
    if (old(f, PRUNE_MARGINS.rewriteMs)) (empty ? drop : rewrite).push(u.id);
    else holdBack(f, empty ? u.size : u.storedBytes - u.liveBytes, PRUNE_MARGINS.rewriteMs);
  }
  const indexed = new Set(usage.map((u) => u.id));
  const orphans: FileInfo[] = [];
  for (const [id, f] of onDisk) {
    if (indexed.has(id)) continue;
    if (old(f, PRUNE_MARGINS.unreferencedMs)) orphans.push(f);
    else holdBack(f, f.size, PRUNE_MARGINS.unreferencedMs);
  }
  // Segments of forgotten points are unreferenced once their manifests go.
  const segs = await statAll(await filesIn2Levels(dirs.lists(ctx.path)));
  const deadSegments: FileInfo[] = [];
  for (const [id, f] of segs) {
    if (marked.segments.has(id)) continue;
    if (old(f, PRUNE_MARGINS.unreferencedMs)) deadSegments.push(f);
    else holdBack(f, f.size, PRUNE_MARGINS.unreferencedMs);
  }
  const temps: FileInfo[] = [];
  for (const f of await tempFiles(ctx.path)) {
    if (old(f, PRUNE_MARGINS.unreferencedMs)) temps.push(f);
    else holdBack(f, f.size, PRUNE_MARGINS.unreferencedMs);
  }
  const bySize = (list: FileInfo[]) => list.reduce((n, f) => n + f.size, 0);
  const sizeOf = new Map(usage.map((u) => [u.id, u]));
  const sweptBytes = bySize(orphans) + bySize(deadSegments) + bySize(temps);
  const held = { heldBackBytes, ...(heldBackUntil > 0 && { heldBackUntil: new Date(heldBackUntil).toISOString() }) };

  if (opts.dryRun) {
    // The same plan; repacked packs free what is not live in them (their
    // new packs' framing is a few hundred bytes, left out).
    let freed = sweptBytes;
    for (const id of drop) freed += sizeOf.get(id)?.size ?? 0;
    for (const id of rewrite) {
      const u = sizeOf.get(id);
      if (u) freed += u.size - u.liveBytes;
    }
    return { removedPoints: remove, keptPoints, removedPacks: drop.length + rewrite.length + orphans.length, freedBytes: freed, ...held };
  }

  // 1. forget
  await beforeDelete();
  await removeDurably(remove.map((id) => dirs.point(ctx.path, id)));

  // 3. compact
  let removedPacks = 0;
  let freedBytes = 0;
  if (drop.length || rewrite.length) {
    check();
    const token = createCancelToken();
    const onAbort = () => token.cancel();
    opts.signal?.addEventListener('abort', onAbort);
    lock?.signal.addEventListener('abort', onAbort);
    let res;
    try {
      res = await ctx.native.compact({ live: marked.live, rewrite, drop, packSize: ctx.config.packSize }, progressReporter('pruning', opts.onProgress), token);
    } catch (e) {
      check();
      throw toAppError(e, 'prune');
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      lock?.signal.removeEventListener('abort', onAbort);
    }
    // 4. the new index replaces the ones this prune read
    await beforeDelete();
    await removeDurably(indexFiles.filter((f) => f !== res.indexFile).map((f) => path.join(dirs.index(ctx.path), f)));
    const gone = [...drop, ...rewrite];
    for (const id of gone) freedBytes += sizeOf.get(id)?.size ?? 0;
    for (const id of res.newPacks) freedBytes -= (await fs.stat(dirs.pack(ctx.path, id))).size;
    await removeDurably(gone.map((id) => dirs.pack(ctx.path, id)));
    removedPacks += gone.length;
  }

  // 5. sweep what nothing names and is old enough
  await beforeDelete();
  await removeDurably([...orphans, ...deadSegments, ...temps].map((f) => f.path));
  removedPacks += orphans.length;
  freedBytes += sweptBytes;
  await ctx.native.loadIndex();
  return { removedPoints: remove, keptPoints, removedPacks, freedBytes: Math.max(0, freedBytes), ...held };
}
