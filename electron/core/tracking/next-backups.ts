// What each job's next run will read of a tracked device: only the changes
// when the job's last backup of that device carries the map's current
// generation, else the whole device. A job names its sources as the user
// chose them (/dev/sda, a /dev/disk/by-id link, a partition's by-uuid
// link), so a source belongs to the device when it resolves to the same
// node, and each source is judged by its own mark, never by another
// source's of the same job.
import * as fs from 'node:fs/promises';

import type { TrackedDevice } from '../../common/contract';
import type { CbtMark } from '../runner/cbt-state';

export interface JobSources {
  id: string;
  name: string;
  sources: readonly string[];
}

export interface NextBackup {
  jobId: string;
  jobName: string;
  reads: 'changes' | 'whole-device';
}

/** Resolves links; a path that cannot be resolved (gone, unreadable) stands for itself. */
export async function resolveDevicePath(p: string): Promise<string> {
  return fs.realpath(p).catch(() => p);
}

export async function nextBackups(
  device: Pick<TrackedDevice, 'device' | 'configuredAs' | 'generation'>,
  jobs: readonly JobSources[],
  markOf: (jobId: string, source: string) => CbtMark | undefined,
  resolve: (p: string) => Promise<string> = resolveDevicePath,
): Promise<NextBackup[]> {
  const node = await resolve(device.device);
  const out: NextBackup[] = [];
  for (const j of jobs) {
    let source: string | undefined;
    for (const s of j.sources) {
      if (s === device.device || s === device.configuredAs || (await resolve(s)) === node) {
        source = s;
        break;
      }
    }
    if (source === undefined) continue;
    const mark = markOf(j.id, source);
    const reads = mark !== undefined && device.generation !== undefined && mark.generation === device.generation ? 'changes' : 'whole-device';
    out.push({ jobId: j.id, jobName: j.name, reads });
  }
  return out;
}
