// One record per running job in <state>/runs/: written before anything is
// created that would outlive a crash (a snapshot, a storage file), updated
// as they are created, removed when the run has cleaned up. A record left
// behind is exactly the list of what a killed run left, and it also serves
// as the job's lock: a second run of the job is refused while it exists and
// its process lives.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import { AbsPath, Id, RepoLocation } from '../../common/contract';
import { writeFileAtomic } from '../persist/atomic-file';

export const RunRecord = z.object({
  version: z.literal(1),
  runId: Id,
  jobId: Id,
  pid: z.number().int(),
  startedAt: z.string(),
  repositoryPath: RepoLocation.optional(),
  /** Devices of the snapshot being created; `id` once the module returned it. */
  snapshot: z.object({ devices: z.array(z.string()), id: z.string().optional() }).optional(),
  storageFiles: z.array(AbsPath),
  /** Restore-point mounts are not job runs; they have their own records. */
});
export type RunRecord = z.infer<typeof RunRecord>;

export class RunRecords {
  constructor(private readonly dir: string) {}

  fileOf(jobId: string): string {
    return path.join(this.dir, `job-${jobId}.json`);
  }

  async write(rec: RunRecord): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.fileOf(rec.jobId), JSON.stringify(rec, null, 2) + '\n');
  }

  async remove(jobId: string): Promise<void> {
    await fs.rm(this.fileOf(jobId), { force: true });
  }

  async read(jobId: string): Promise<RunRecord | null> {
    return readRecord(this.fileOf(jobId));
  }

  /** Every record on disk; unreadable ones come back as their file name for the log. */
  async all(): Promise<Array<RunRecord | { file: string; broken: true }>> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const out: Array<RunRecord | { file: string; broken: true }> = [];
    for (const n of names.filter((n) => /^job-.*\.json$/.test(n))) {
      const file = path.join(this.dir, n);
      out.push((await readRecord(file)) ?? { file, broken: true });
    }
    return out;
  }
}

async function readRecord(file: string): Promise<RunRecord | null> {
  try {
    const parsed = RunRecord.safeParse(JSON.parse(await fs.readFile(file, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
