// File restore across restore points: find a file by name in every point
// (which one still had it?), and what changed from one point to another
// (files added, removed, changed). Each point is opened read-only through
// the same mount path as File restore (so it works without the nbd module
// too), walked, and closed again before the next one.
import * as path from 'node:path';

import { AppError, type PointComparison, type PointFile, type PointSearchResult, type RestorePoint } from '../../common/contract';
import type { PointFiles, WalkEntry } from './point-files';

/** What this needs from the service's mount manager. */
export interface PointOpener {
  mount(repositoryId: string, pointId: string, source: string): Promise<{ id: string; filesystems: Array<{ mountpoint?: string }> }>;
  files(mountId: string): PointFiles;
  unmount(mountId: string): Promise<void>;
}

export interface Progress {
  (p: { done: number; total: number; message?: string }): void;
}

function pointFile(e: WalkEntry): PointFile {
  return { filesystem: path.basename(e.root), path: e.rel || '/', type: e.type, sizeBytes: e.sizeBytes, modifiedAt: e.modifiedAt };
}

/** Opens one point, runs `fn` on its files, and always closes it. */
async function withPoint<T>(opener: PointOpener, repositoryId: string, pointId: string, source: string, fn: (files: PointFiles) => Promise<T>): Promise<T> {
  const m = await opener.mount(repositoryId, pointId, source);
  try {
    return await fn(opener.files(m.id));
  } finally {
    await opener.unmount(m.id);
  }
}

export async function searchPoints(
  opener: PointOpener,
  o: { repositoryId: string; points: RestorePoint[]; source?: string; query: string; limit: number; signal?: AbortSignal; onProgress?: Progress },
): Promise<PointSearchResult> {
  const q = o.query.toLowerCase();
  const out: PointSearchResult = { query: o.query, points: [], truncated: false };
  let found = 0;
  const points = [...o.points].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  for (const [i, p] of points.entries()) {
    if (o.signal?.aborted) throw new AppError('CANCELLED', 'search cancelled');
    o.onProgress?.({ done: i, total: points.length, message: p.createdAt });
    const source = o.source ?? p.devices[0]?.source;
    if (!source || !p.devices.some((d) => d.source === source)) continue;
    try {
      const files = await withPoint(opener, o.repositoryId, p.id, source, async (tree) => {
        const hits: PointFile[] = [];
        for await (const e of tree.walk(o.signal)) {
          if (!e.name.toLowerCase().includes(q)) continue;
          if (found >= o.limit) {
            out.truncated = true;
            break;
          }
          hits.push(pointFile(e));
          found++;
        }
        return hits;
      });
      if (files.length) out.points.push({ pointId: p.id, createdAt: p.createdAt, files });
    } catch (e) {
      if (e instanceof AppError && e.code === 'CANCELLED') throw e;
      // One point that cannot be opened does not hide what the others hold.
      out.points.push({ pointId: p.id, createdAt: p.createdAt, files: [], error: e instanceof AppError ? e.toInfo() : { code: 'INTERNAL', message: String(e) } });
    }
    if (out.truncated) break;
  }
  o.onProgress?.({ done: points.length, total: points.length });
  return out;
}

/** Same kind and size, and (for files and links) the same time: unchanged. Folders change their time with their entries: those show as the entries. */
function differs(a: PointFile, b: PointFile): boolean {
  if (a.type !== b.type) return true;
  if (a.type === 'dir') return false;
  return a.sizeBytes !== b.sizeBytes || a.modifiedAt !== b.modifiedAt;
}

export async function comparePoints(
  opener: PointOpener,
  o: { repositoryId: string; basePointId: string; pointId: string; source: string; limit: number; signal?: AbortSignal; onProgress?: Progress },
): Promise<PointComparison> {
  const index = async (pointId: string, step: number) => {
    o.onProgress?.({ done: step, total: 2, message: pointId });
    return withPoint(opener, o.repositoryId, pointId, o.source, async (tree) => {
      const m = new Map<string, PointFile>();
      for await (const e of tree.walk(o.signal)) {
        const f = pointFile(e);
        m.set(`${f.filesystem}\0${f.path}`, f);
      }
      return m;
    });
  };
  const before = await index(o.basePointId, 0);
  const after = await index(o.pointId, 1);
  const out: PointComparison = { basePointId: o.basePointId, pointId: o.pointId, added: [], removed: [], changed: [], counts: { added: 0, removed: 0, changed: 0, unchanged: 0 } };
  const keep = <T>(list: T[], x: T) => {
    if (list.length < o.limit) list.push(x);
  };
  for (const [k, f] of after) {
    const b = before.get(k);
    if (!b) {
      out.counts.added++;
      keep(out.added, f);
    } else if (differs(b, f)) {
      out.counts.changed++;
      keep(out.changed, { ...f, before: b });
    } else out.counts.unchanged++;
  }
  for (const [k, f] of before) {
    if (after.has(k)) continue;
    out.counts.removed++;
    keep(out.removed, f);
  }
  const byPath = (a: PointFile, b: PointFile) => a.filesystem.localeCompare(b.filesystem) || a.path.localeCompare(b.path);
  out.added.sort(byPath);
  out.removed.sort(byPath);
  out.changed.sort(byPath);
  o.onProgress?.({ done: 2, total: 2 });
  return out;
}
