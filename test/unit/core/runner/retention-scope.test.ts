// A job's retention touches the job's own points only (docs/helper.md:
// "prune with the job's rules"): job B keeping one point must not cut job
// A's points, nor points made with the CLI, in the same repository. Real
// service, real engine, image files as sources.
import { closeSync, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

import { afterEach, beforeEach, expect, it } from 'vitest';

import type { JobInput, Repository } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

const MiB = 1 << 20;
let s: ServiceClient;
let repo: Repository;

beforeEach(async () => {
  s = await openServiceClient({ destinationCheckMs: 50 });
  repo = await s.client.call('repos.init', { name: 'shared', path: path.join(s.dirs.root, 'repo') });
});
afterEach(() => s.close());

function image(name: string): string {
  const f = path.join(s.dirs.root, name);
  const fd = openSync(f, 'w');
  for (let off = 0; off < 2 * MiB; off += MiB) writeSync(fd, randomBytes(MiB), 0, MiB, off);
  closeSync(fd);
  return f;
}

function touch(f: string): void {
  const fd = openSync(f, 'r+');
  writeSync(fd, randomBytes(4096), 0, 4096, 0);
  closeSync(fd);
}

async function createJob(name: string, src: string, keepLast: number): Promise<string> {
  const job: JobInput = {
    name,
    sources: [src],
    repositoryId: repo.id,
    schedule: { kind: 'manual' },
    retention: { keepLast, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 1,
    enabled: true,
  };
  return (await s.client.call('jobs.create', { job })).id;
}

async function run(jobId: string): Promise<void> {
  const t = await s.waitTask((await s.client.call('jobs.run', { id: jobId })).taskId);
  expect(t.state).toBe('succeeded');
  expect(t.warnings).toEqual([]);
}

it("job B's retention keeps job A's points and the CLI's points", async () => {
  const a = image('a.img');
  const b = image('b.img');
  const c = image('c.img');
  const jobA = await createJob('A keeps 5', a, 5);
  const jobB = await createJob('B keeps 1', b, 1);
  for (let i = 0; i < 3; i++) {
    await run(jobA);
    touch(a);
  }
  // Points made outside any job, as `snapkeep backup` does.
  const h = await engine.open({ path: repo.path });
  const cli = [];
  for (let i = 0; i < 2; i++) {
    cli.push((await h.backup({ sources: [{ source: c, readFrom: c }], compressionLevel: 1 })).id);
    touch(c);
  }
  await h.close();
  for (let i = 0; i < 3; i++) {
    await run(jobB);
    touch(b);
  }
  const points = await s.client.call('points.list', { repositoryId: repo.id });
  expect(points.filter((p) => p.jobId === jobA)).toHaveLength(3);
  expect(points.filter((p) => p.jobId === jobB)).toHaveLength(1);
  expect(points.filter((p) => p.jobId === undefined).map((p) => p.id)).toEqual(cli);
});
