// What the user says about restore points: pinned (retention keeps it,
// whatever the rules say) and a note ("before the upgrade to Debian 13").
// Kept in the service's state, beside the verifications: the repository is
// shared untrusted storage, and a pin is this computer's decision about
// what its retention removes. The service passes the pinned ids to every
// prune it starts (the run's retention and "Clean up now").
import { z } from 'zod';

import type { RestorePoint } from '../../common/contract';
import type { JsonFile } from '../persist/json-file';

export const PointNote = z.object({ pinned: z.boolean().optional(), note: z.string().max(500).optional() });
export type PointNote = z.infer<typeof PointNote>;

export const PointNotesFile = z.object({
  version: z.literal(1),
  /** repository id → point id → what the user said */
  repositories: z.record(z.string(), z.record(z.string(), PointNote)),
});

export class PointNotes {
  private repositories: Record<string, Record<string, PointNote>> = {};

  constructor(private readonly file: JsonFile<typeof PointNotesFile>) {}

  async load(): Promise<void> {
    this.repositories = (await this.file.load({ version: 1, repositories: {} })).repositories;
  }

  /** Sets what is given (an empty note removes it); returns the point's notes now. */
  async set(repositoryId: string, pointId: string, change: { pinned?: boolean; note?: string }): Promise<PointNote> {
    const repo = (this.repositories[repositoryId] ??= {});
    const next: PointNote = { ...repo[pointId] };
    if (change.pinned !== undefined) {
      if (change.pinned) next.pinned = true;
      else delete next.pinned;
    }
    if (change.note !== undefined) {
      const note = change.note.trim();
      if (note) next.note = note;
      else delete next.note;
    }
    if (next.pinned === undefined && next.note === undefined) delete repo[pointId];
    else repo[pointId] = next;
    await this.save();
    return next;
  }

  pinned(repositoryId: string): string[] {
    return Object.entries(this.repositories[repositoryId] ?? {})
      .filter(([, n]) => n.pinned)
      .map(([id]) => id);
  }

  /** The points with their pin and note, where there are some. */
  annotate(repositoryId: string, points: RestorePoint[]): RestorePoint[] {
    const known = this.repositories[repositoryId];
    if (!known) return points;
    return points.map((p) => {
      const n = known[p.id];
      return n ? { ...p, ...(n.pinned && { pinned: true }), ...(n.note && { note: n.note }) } : p;
    });
  }

  /** Drops the notes of points that no longer exist (after a clean-up), or of a forgotten repository. */
  async forget(repositoryId: string, pointIds?: string[]): Promise<void> {
    if (!(repositoryId in this.repositories)) return;
    if (pointIds === undefined) delete this.repositories[repositoryId];
    else for (const id of pointIds) delete this.repositories[repositoryId]![id];
    await this.save();
  }

  private async save(): Promise<void> {
    await this.file.save({ version: 1, repositories: this.repositories });
  }
}
