// restore.plan and restore.start with a plan, through the service (issue
// 18): the plan comes before anything is written, the start names it, and
// a plan that changed since (the target grew) is refused. The disk here
// needs tier a only (partitions that fit where they are under a new GPT on
// a smaller image), so no root is needed; tiers b and c run end to end in
// test/unit/core/engine/restore-smaller.test.ts.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { openServiceClient, type ServiceClient } from '../../../support/service-client';

const MiB = 1 << 20;
let s: ServiceClient;
let repositoryId = '';
let pointId = '';
let img = '';

function slice(file: string, off: number, len: number): Buffer {
  const fd = openSync(file, 'r');
  const b = Buffer.alloc(len);
  readSync(fd, b, 0, len, off);
  closeSync(fd);
  return b;
}

beforeEach(async () => {
  s = await openServiceClient();
  repositoryId = (await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') })).id;
  img = path.join(s.dirs.root, 'disk.img');
  writeFileSync(img, '');
  truncateSync(img, 64 * MiB);
  execFileSync('sfdisk', ['-q', img], {
    input: 'label: gpt\nlabel-id: 0E1F2A3B-4C5D-4E6F-8A9B-0C1D2E3F4A5B\n\nstart=2048, size=8192, name="one"\nstart=10240, size=16384, name="two"\n',
  });
  const fd = openSync(img, 'r+');
  writeSync(fd, randomBytes(4 * MiB), 0, 4 * MiB, MiB);
  writeSync(fd, randomBytes(8 * MiB), 0, 8 * MiB, 5 * MiB);
  closeSync(fd);
  const job = await s.client.call('jobs.create', {
    job: { name: 'j', sources: [img], repositoryId, schedule: { kind: 'manual' }, retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 1, enabled: true },
  });
  const t = await s.waitTask((await s.client.call('jobs.run', { id: job.id })).taskId);
  pointId = t.result?.['pointId'] as string;
});
afterEach(() => s.close());

describe('restore.plan', () => {
  it('says the tier per partition before anything is written, and restore.start follows it', async () => {
    const target = path.join(s.dirs.root, 'small.img');
    writeFileSync(target, Buffer.alloc(4096, 0xee));
    truncateSync(target, 32 * MiB);
    const plan = await s.client.call('restore.plan', { repositoryId, pointId, source: img, target });
    expect(plan).toMatchObject({ kind: 'tiers', fits: true, sourceBytes: 64 * MiB, targetBytes: 32 * MiB, table: { label: 'gpt' } });
    expect(plan.partitions.map((p) => [p.number, p.tier, p.newStartBytes, p.newSizeBytes])).toEqual([
      [1, 'a', MiB, 4 * MiB],
      [2, 'a', 5 * MiB, 8 * MiB],
    ]);
    expect(slice(target, 0, 4096).equals(Buffer.alloc(4096, 0xee))).toBe(true); // nothing written yet

    const t = await s.waitTask((await s.client.call('restore.start', { repositoryId, pointId, source: img, target, skipIdentical: false, confirm: target, plan: plan.digest })).taskId);
    expect(t.state, JSON.stringify(t.error)).toBe('succeeded');
    expect(t.result?.['plan']).toBe('tiers');
    expect(statSync(target).size).toBe(32 * MiB);
    expect(slice(target, MiB, 12 * MiB).equals(slice(img, MiB, 12 * MiB))).toBe(true);
    const table = JSON.parse(execFileSync('sfdisk', ['--json', target], { encoding: 'utf8' })).partitiontable;
    expect(table.id).toBe('0E1F2A3B-4C5D-4E6F-8A9B-0C1D2E3F4A5B');
    expect(table.lastlba).toBe(32 * 2048 - 34);
  });

  it('refuses a start whose plan changed since it was shown', async () => {
    const target = path.join(s.dirs.root, 'small.img');
    writeFileSync(target, '');
    truncateSync(target, 32 * MiB);
    const plan = await s.client.call('restore.plan', { repositoryId, pointId, source: img, target });
    truncateSync(target, 48 * MiB);
    const t = await s.waitTask((await s.client.call('restore.start', { repositoryId, pointId, source: img, target, skipIdentical: false, confirm: target, plan: plan.digest })).taskId);
    expect(t.state).toBe('failed');
    expect(t.error?.code).toBe('CONFLICT');
  });

  it('a new file target: the byte image, as before', async () => {
    const plan = await s.client.call('restore.plan', { repositoryId, pointId, source: img, target: path.join(s.dirs.root, 'new.img') });
    expect(plan).toMatchObject({ kind: 'image', fits: true, targetBytes: 64 * MiB });
  });
});
