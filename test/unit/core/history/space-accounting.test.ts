// Space that adds up (issue 19): after a cancelled run and a failed run,
// what the history says each left in the repository, and what the
// repository list says it takes, equal what `du -sb` says. Real engine,
// real service, image files.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { JobInput, Repository } from '../../../../electron/common/contract';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

const MiB = 1 << 20;
let s: ServiceClient;
let repo: Repository;
const du = (p: string) => Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]);

function randomImage(file: string, mib: number): void {
  const fd = openSync(file, 'w');
  for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(MiB));
  closeSync(fd);
}
function job(name: string, source: string): { job: JobInput } {
  return {
    job: {
      name,
      sources: [source],
      repositoryId: repo.id,
      schedule: { kind: 'manual' },
      retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
      compressionLevel: 1,
      enabled: true,
    },
  };
}

beforeEach(async () => {
  s = await openServiceClient();
  repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
});
afterEach(() => s.close());

describe('space accounting', () => {
  it('counts the packs of a cancelled run and a failed run as du does, in the history and the repository size', async () => {
    // 256 MiB: after a third is read, two thirds are left to finish
    // before the cancel lands (at 96 MiB, a busy machine could see the run
    // end first).
    const big = path.join(s.dirs.root, 'big.img');
    randomImage(big, 256);
    const cancelJob = await s.client.call('jobs.create', job('cancelled', big));
    const before = du(repo.path);
    const { taskId } = await s.client.call('jobs.run', { id: cancelJob.id });
    await s.waitFor(taskId, (t) => t.state !== 'running' || (t.progress.bytesTotal > 0 && t.progress.bytesDone > t.progress.bytesTotal / 3));
    await s.client.call('tasks.cancel', { taskId });
    expect((await s.waitTask(taskId)).state).toBe('cancelled');
    const afterCancel = du(repo.path);
    expect(afterCancel).toBeGreaterThan(before);
    const [cancelled] = await s.client.call('history.list', { jobId: cancelJob.id, limit: 1 });
    expect(cancelled).toMatchObject({ status: 'cancelled', storedBytes: afterCancel - before });
    // It read a third of the image or more before the cancel: the history says so, not "Read 0 B".
    expect(cancelled!.bytesRead).toBeGreaterThanOrEqual((256 << 20) / 3);
    expect(cancelled!.bytesRead).toBeLessThanOrEqual(256 << 20);

    // A source that vanishes during the run: the run fails after writing some packs.
    // The reader runs ahead of the progress by at most the pipeline's queue
    // (16 blobs, 64 MiB): shrunk at the first progress, a 256 MiB source
    // always shrinks before it is read to its end. (At a third of 96 MiB,
    // as this test first did, the reader could be done: the run then
    // succeeded, seen in a clean CI run.)
    const vanishing = path.join(s.dirs.root, 'vanishing.img');
    randomImage(vanishing, 256);
    const failJob = await s.client.call('jobs.create', job('failed', vanishing));
    const run = await s.client.call('jobs.run', { id: failJob.id });
    await s.waitFor(run.taskId, (t) => t.state !== 'running' || t.progress.bytesDone > 0);
    execFileSync('truncate', ['-s', '1M', vanishing]); // the file shrinks under the reader
    const failed = await s.waitTask(run.taskId);
    expect(failed.state).toBe('failed');
    const afterFail = du(repo.path);
    const [entry] = await s.client.call('history.list', { jobId: failJob.id, limit: 1 });
    expect(entry).toMatchObject({ status: 'failed', storedBytes: afterFail - afterCancel });
    expect(entry!.bytesRead).toBeGreaterThan(0);

    const [listed] = await s.client.call('repos.list', {});
    expect(listed?.storedBytes).toBe(du(repo.path));
  });
});
