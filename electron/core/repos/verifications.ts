// The outcome of the last verification of each restore point, so the
// points list can say "verified, all data, on <date>" or "damaged" after the
// verify task is long gone. Kept in the service's state, not in the
// repository: a repository is read-only to verify, and another machine's
// check says nothing about what this one saw.
import { z } from 'zod';

import type { RestorePoint, VerifyReport } from '../../common/contract';
import type { JsonFile } from '../persist/json-file';

export const Verification = z.object({ at: z.string(), ok: z.boolean(), data: z.boolean() });
export type Verification = z.infer<typeof Verification>;

export const VerificationsFile = z.object({
  version: z.literal(1),
  /** repository id → point id → last verification */
  repositories: z.record(z.string(), z.record(z.string(), Verification)),
});

export class VerificationStore {
  private repositories: Record<string, Record<string, Verification>> = {};

  constructor(private readonly file: JsonFile<typeof VerificationsFile>) {}

  async load(): Promise<void> {
    this.repositories = (await this.file.load({ version: 1, repositories: {} })).repositories;
  }

  /**
   * Records a verify run over `checked` (the points that existed when it
   * ran); a point is ok unless the report names it damaged. Entries of
   * points that are gone (pruned) are dropped when a whole repository was
   * checked.
   */
  async record(repositoryId: string, checked: string[], report: VerifyReport, data: boolean, at: Date, whole: boolean): Promise<void> {
    const damaged = new Set(report.damagedPoints);
    const before = this.repositories[repositoryId] ?? {};
    const after: Record<string, Verification> = whole ? {} : { ...before };
    for (const id of checked) after[id] = { at: at.toISOString(), ok: !damaged.has(id), data };
    this.repositories[repositoryId] = after;
    await this.file.save({ version: 1, repositories: this.repositories });
  }

  /** The points with their last verification, where there is one. */
  annotate(repositoryId: string, points: RestorePoint[]): RestorePoint[] {
    const known = this.repositories[repositoryId];
    if (!known) return points;
    return points.map((p) => {
      const v = known[p.id];
      return v ? { ...p, verified: v } : p;
    });
  }

  async forget(repositoryId: string): Promise<void> {
    if (!(repositoryId in this.repositories)) return;
    delete this.repositories[repositoryId];
    await this.file.save({ version: 1, repositories: this.repositories });
  }
}
