// Prune's data path: mark what the kept points reference, plan which packs
// go, and collect them in a crash-safe order. Which points are kept, the
// age margins and the lock checks are prune.ts's; this file only moves
// data, and holds nothing per chunk in JavaScript: the live set is a native
// bitset over index positions, filled off the JS thread while each distinct
// chunk-list segment is read once.
//
// Collecting (format 2) needs no room for a whole new index, so a full
// destination recovers:
//  1. a removal record (a small index file) says the dropped packs are
//     gone; then they are deleted, which frees space;
//  2. live blobs of sparse packs are copied (each verified) into new
//     packs, which get their own small index file; a removal record for
//     the rewritten packs follows, then they are deleted;
//  3. one consolidated index replaces the index files prune started from
//     (skipped, not failed, when even that does not fit: the index files
//     and removal records left describe the repository exactly).
// A kill between any two steps leaves index files that name every live
// chunk in a pack that exists. Format 1 has no removal records: it writes
// the consolidated index first, as before, then deletes.
import type { Progress } from '../../common/contract';
import { AppError } from '../../common/contract';
import { type GcPlan, type NativeList, type NativeMark, createCancelToken } from '../../../native/engine';
import { openDeviceList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { ID_BYTES, REPACK_BELOW, rel } from './format';
import type { Manifest } from './manifest';
import { progressReporter } from './progress';
import { removeRepoFiles } from './repo-files';

export interface LiveSet {
  mark: NativeMark;
  /** Ids (hex) of the list objects the kept points reference: roots and segments. */
  objects: Set<string>;
  /** Distinct chunks the kept points reference that no index entry holds. */
  missing: number;
  /** The kept points' lists, newest point first: the order compaction lays chunks out in. */
  lists: NativeList[];
}

interface Run {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

/** Runs a native call with a cancel token tied to the signals. */
async function cancellable<T>(signals: Array<AbortSignal | undefined>, what: string, fn: (token: ReturnType<typeof createCancelToken>) => Promise<T>): Promise<T> {
  const token = createCancelToken();
  const onAbort = () => token.cancel();
  for (const s of signals) s?.addEventListener('abort', onAbort);
  try {
    return await fn(token);
  } catch (e) {
    for (const s of signals) if (s?.aborted) throw s.reason instanceof AppError ? s.reason : new AppError('CANCELLED', `${what} cancelled`);
    throw toAppError(e, what);
  } finally {
    for (const s of signals) s?.removeEventListener('abort', onAbort);
  }
}

/** Marks every chunk the kept points reference. The index must be loaded, and not reloaded until collect() is done. */
export async function markLive(ctx: RepoContext, kept: Manifest[], run: Run & { lockSignal?: AbortSignal } = {}): Promise<LiveSet> {
  const lists: NativeList[] = [];
  for (const m of [...kept].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id)))
    for (const d of m.devices) lists.push(await openDeviceList(ctx.native, d, m.id));
  const mark = ctx.native.createMark();
  const r = await cancellable([run.signal, run.lockSignal], 'prune', (token) => mark.add(lists, progressReporter('pruning', run.onProgress), token));
  const objects = new Set<string>();
  for (let at = 0; at < r.objects.length; at += ID_BYTES) objects.add(r.objects.subarray(at, at + ID_BYTES).toString('hex'));
  return { mark, objects, missing: r.missing.length / ID_BYTES, lists };
}

/** The kept points that reference chunks no index entry holds (prune's error names them). */
export async function pointsMissingChunks(ctx: RepoContext, kept: Manifest[]): Promise<string[]> {
  const checker = ctx.native.createListChecker({});
  const out: string[] = [];
  for (const m of kept)
    for (const d of m.devices) {
      const v = await checker.check(await openDeviceList(ctx.native, d, m.id));
      if (v.missing.length && !out.includes(m.id)) out.push(m.id);
    }
  return out;
}

/** Packs with nothing live (drop) and mostly dead (rewrite, emptiest first, at most maxRepackBytes of live data). */
export function planCollection(live: LiveSet, opts: { maxRepackBytes?: number } = {}): Promise<GcPlan> {
  return live.mark.plan({ repackBelow: REPACK_BELOW, ...(opts.maxRepackBytes !== undefined && { maxRepackBytes: opts.maxRepackBytes }) });
}

export interface CollectResult {
  removedPacks: number;
  /** Bytes of the packs deleted minus those of the packs written. */
  freedBytes: number;
  copiedBytes: number;
  /** False when the consolidated index did not fit (the repository is still whole). */
  consolidated: boolean;
}

const isNoSpace = (e: unknown) => {
  const err = toAppError(e);
  return err.code === 'DISK_FULL';
};

/**
 * Deletes `drop`, rewrites `rewrite`, and replaces `indexFiles` (the index
 * files prune started from) by one consolidated index. `beforeDelete` runs
 * before every deletion (prune checks its lock there). Pack sizes come
 * from the plan.
 */
export async function collect(
  ctx: RepoContext,
  live: LiveSet,
  plan: Pick<GcPlan, 'drop' | 'rewrite'>,
  drop: string[],
  rewrite: string[],
  indexFiles: string[],
  run: Run & { lockSignal?: AbortSignal; beforeDelete?: () => Promise<void> } = {},
): Promise<CollectResult> {
  const size = new Map([...plan.drop, ...plan.rewrite].map((u) => [u.id, u.size]));
  const beforeDelete = run.beforeDelete ?? (async () => undefined);
  const packFiles = (ids: string[]) => ids.map((id) => rel.pack(id));
  const v2 = ctx.config.version >= 2;
  const res: CollectResult = { removedPacks: 0, freedBytes: 0, copiedBytes: 0, consolidated: false };
  const written: string[] = [];
  const dropped = (ids: string[]) => {
    res.removedPacks += ids.length;
    for (const id of ids) res.freedBytes += size.get(id) ?? 0;
  };

  if (v2 && drop.length) {
    written.push(await ctx.native.writeRemovalRecord(drop));
    await beforeDelete();
    await removeRepoFiles(ctx.path, packFiles(drop));
    dropped(drop);
  }
  let newPacks: Array<{ id: string; size: number }> = [];
  if (rewrite.length) {
    const c = await cancellable([run.signal, run.lockSignal], 'prune', (token) =>
      ctx.native.compact({ mark: live.mark, rewrite, order: live.lists, packSize: ctx.config.packSize }, progressReporter('pruning', run.onProgress), token),
    );
    newPacks = c.newPacks;
    res.copiedBytes = c.copiedBytes;
    if (c.indexFile) written.push(c.indexFile);
    for (const p of newPacks) res.freedBytes -= p.size;
    if (v2) {
      written.push(await ctx.native.writeRemovalRecord(rewrite));
      await beforeDelete();
      await removeRepoFiles(ctx.path, packFiles(rewrite));
      dropped(rewrite);
    }
  }

  const gone = [...drop, ...rewrite];
  let consolidated: string | undefined;
  try {
    consolidated = await ctx.native.writeConsolidatedIndex({ exclude: gone });
  } catch (e) {
    // Format 2: what is on disk already describes the repository; a later
    // prune consolidates. Format 1 cannot delete anything without it.
    if (!(v2 && isNoSpace(e))) throw toAppError(e, 'prune: writing the index');
  }
  if (consolidated !== undefined) {
    res.consolidated = true;
    await beforeDelete();
    const old = [...indexFiles, ...written].filter((f) => f !== consolidated);
    await removeRepoFiles(ctx.path, old.map((f) => rel.indexFile(f)));
  }
  if (!v2 && gone.length) {
    await beforeDelete();
    await removeRepoFiles(ctx.path, packFiles(gone));
    dropped(gone);
  }
  return res;
}
