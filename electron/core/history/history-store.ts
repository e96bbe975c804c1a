// The record of every job run: when, how it ended, what it read and wrote,
// how fast. Kept as one document rewritten atomically on each run, capped
// so it stays small; a run is minutes long, so one rewrite per run is cheap.
import { z } from 'zod';

import { HistoryEntry } from '../../common/contract';
import type { JsonFile } from '../persist/json-file';

export const HistoryFile = z.object({ version: z.literal(1), entries: z.array(HistoryEntry) });

/** Entries kept in total, newest first; older ones fall off. */
const KEEP = 5000;

export class HistoryStore {
  private entries: HistoryEntry[] = [];

  constructor(private readonly file: JsonFile<typeof HistoryFile>) {}

  async load(): Promise<void> {
    this.entries = (await this.file.load({ version: 1, entries: [] })).entries;
  }

  async append(entry: HistoryEntry): Promise<void> {
    this.entries.unshift(entry);
    if (this.entries.length > KEEP) this.entries.length = KEEP;
    await this.file.save({ version: 1, entries: this.entries });
  }

  /** Adds what is known only after the runner wrote the entry (the bytes a failed run left). */
  async amend(id: string, patch: Pick<Partial<HistoryEntry>, 'storedBytes'>): Promise<void> {
    const e = this.entries.find((x) => x.id === id);
    if (!e) return;
    Object.assign(e, patch);
    await this.file.save({ version: 1, entries: this.entries });
  }

  /** Newest first. */
  list(limit: number, jobId?: string): HistoryEntry[] {
    return this.entries.filter((e) => jobId === undefined || e.jobId === jobId).slice(0, limit);
  }

  last(jobId: string): HistoryEntry | undefined {
    return this.entries.find((e) => e.jobId === jobId);
  }
}
