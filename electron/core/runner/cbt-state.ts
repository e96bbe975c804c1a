// Per job and source, the change-tracker identity of the last successful
// backup: what the next run needs to ask the tracker for "changed since
// then" (electron/core/engine/api.ts explains the numbering).
import { z } from 'zod';

import type { JsonFile } from '../persist/json-file';

export const CbtMark = z.object({
  generation: z.string(),
  number: z.number().int(),
  blockSize: z.number().int().positive(),
  pointId: z.string(),
});
export type CbtMark = z.infer<typeof CbtMark>;

export const CbtFile = z.object({
  version: z.literal(1),
  jobs: z.record(z.string(), z.record(z.string(), CbtMark)),
});

export class CbtState {
  private jobs: Record<string, Record<string, CbtMark>> = {};

  constructor(private readonly file: JsonFile<typeof CbtFile>) {}

  async load(): Promise<void> {
    this.jobs = (await this.file.load({ version: 1, jobs: {} })).jobs;
  }

  get(jobId: string, source: string): CbtMark | undefined {
    return this.jobs[jobId]?.[source];
  }

  async set(jobId: string, marks: Record<string, CbtMark>): Promise<void> {
    this.jobs[jobId] = marks;
    await this.file.save({ version: 1, jobs: this.jobs });
  }

  async forget(jobId: string): Promise<void> {
    if (!(jobId in this.jobs)) return;
    delete this.jobs[jobId];
    await this.file.save({ version: 1, jobs: this.jobs });
  }
}
