// What the schema cannot check about a job: that its repository is
// registered, its sources exist and are readable as images or devices, its
// schedule parses and fires, and its scripts are safe to run as root.
import { promises as fs } from 'node:fs';

import { AppError, type JobInput } from '../../common/contract';
import { compileSchedule } from '../scheduler/schedule';
import { checkScript } from './scripts';

export interface ValidateJobOptions {
  hasRepository: (id: string) => boolean;
  timezone?: string;
  /** Opens an image-file source as whoever asked; throws when they may not read it. */
  readFileSource?: (source: string) => Promise<void>;
}

export async function validateJob(job: JobInput, o: ValidateJobOptions): Promise<void> {
  if (!o.hasRepository(job.repositoryId))
    throw new AppError('NOT_FOUND', `no repository ${job.repositoryId}`, { repositoryId: job.repositoryId });
  const seen = new Set<string>();
  for (const source of job.sources) {
    if (seen.has(source)) throw new AppError('INVALID_ARGUMENT', `source ${source} is listed twice`, { source });
    seen.add(source);
    const st = await fs.stat(source).catch(() => null);
    if (st?.isBlockDevice()) continue;
    // Not a device: what it is, and whether it exists, as the one who asked sees it.
    if (o.readFileSource) {
      await o.readFileSource(source);
      continue;
    }
    if (!st) throw new AppError('DEVICE_NOT_FOUND', `source ${source} does not exist`, { source });
    if (!st.isFile() && !st.isBlockDevice())
      throw new AppError('INVALID_ARGUMENT', `source ${source} is neither an image file nor a block device`, { source });
  }
  compileSchedule(job.schedule, o.timezone);
  if (job.preScript) await checkScript(job.preScript);
  if (job.postScript) await checkScript(job.postScript);
  if (job.snapshotStorage) {
    const st = await fs.stat(job.snapshotStorage.directory).catch(() => null);
    if (st && !st.isDirectory())
      throw new AppError('INVALID_ARGUMENT', `snapshot storage ${job.snapshotStorage.directory} is not a directory`, { path: job.snapshotStorage.directory });
  }
}
