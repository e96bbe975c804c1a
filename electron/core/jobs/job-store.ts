// The jobs the user defined, as they were entered (JobInput) plus an id and
// a creation time. What changes while the service runs (last run, next run,
// running) is not stored here: history, scheduler and runner know it, and
// the service joins them into the contract's Job.
import { z } from 'zod';

import { AppError, Id, IsoTime, JobInput } from '../../common/contract';
import { newId } from '../persist/ids';
import type { JsonFile } from '../persist/json-file';

/** ownerUid: who created or last saved the job; its file sources are opened as this user. */
export const StoredJob = JobInput.extend({ id: Id, createdAt: IsoTime, ownerUid: z.number().int().nonnegative().optional() });
export type StoredJob = z.infer<typeof StoredJob>;

export const JobsFile = z.object({ version: z.literal(1), jobs: z.array(StoredJob) });

export class JobStore {
  private jobs: StoredJob[] = [];

  constructor(
    private readonly file: JsonFile<typeof JobsFile>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async load(): Promise<void> {
    this.jobs = (await this.file.load({ version: 1, jobs: [] })).jobs;
  }

  list(): StoredJob[] {
    return this.jobs.map((j) => structuredClone(j));
  }

  get(id: string): StoredJob {
    const job = this.jobs.find((j) => j.id === id);
    if (!job) throw new AppError('NOT_FOUND', `no job ${id}`, { jobId: id });
    return structuredClone(job);
  }

  usingRepository(repositoryId: string): StoredJob[] {
    return this.jobs.filter((j) => j.repositoryId === repositoryId);
  }

  async create(input: JobInput, ownerUid: number): Promise<StoredJob> {
    const job: StoredJob = { ...structuredClone(input), id: newId('j', this.now()), createdAt: this.now().toISOString(), ownerUid };
    this.jobs.push(job);
    await this.save();
    return structuredClone(job);
  }

  async update(id: string, input: JobInput, ownerUid: number): Promise<StoredJob> {
    const old = this.get(id);
    const job: StoredJob = { ...structuredClone(input), id, createdAt: old.createdAt, ownerUid };
    this.jobs = this.jobs.map((j) => (j.id === id ? job : j));
    await this.save();
    return structuredClone(job);
  }

  async delete(id: string): Promise<void> {
    this.get(id);
    this.jobs = this.jobs.filter((j) => j.id !== id);
    await this.save();
  }

  private save(): Promise<void> {
    return this.file.save({ version: 1, jobs: this.jobs });
  }
}
