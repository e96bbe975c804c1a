// Deleting one restore point through the service's contract (points.delete):
// a preview changes nothing, the deletion removes that point only and every
// other point still restores byte for byte; pinned and unknown points are
// refused with their own codes.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Repository, Task } from '../../../../electron/common/contract';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

let s: ServiceClient;
let repo: Repository;
let image: string;
/** Point id -> the image's bytes when it was taken. */
const taken = new Map<string, Buffer>();

beforeEach(async () => {
  s = await openServiceClient();
  repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
  image = path.join(s.dirs.root, 'a.img');
  let bytes = randomBytes(2 << 20);
  writeFileSync(image, bytes);
  const job = await s.client.call('jobs.create', {
    job: {
      name: 'a',
      sources: [image],
      repositoryId: repo.id,
      schedule: { kind: 'manual' },
      retention: { keepLast: 10, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
      compressionLevel: 1,
      enabled: true,
    },
  });
  taken.clear();
  // Three points: each shares half its chunks with the one before.
  for (let i = 0; i < 3; i++) {
    if (i > 0) bytes = Buffer.concat([bytes.subarray(0, 1 << 20), randomBytes(1 << 20)]);
    writeFileSync(image, bytes);
    const before = new Set((await s.client.call('points.list', { repositoryId: repo.id })).map((p) => p.id));
    const t = await s.waitTask((await s.client.call('jobs.run', { id: job.id })).taskId);
    expect(t.state).toBe('succeeded');
    const added = (await s.client.call('points.list', { repositoryId: repo.id })).find((p) => !before.has(p.id));
    taken.set(added!.id, bytes);
  }
});
afterEach(() => s.close());

const ids = async () => (await s.client.call('points.list', { repositoryId: repo.id })).map((p) => p.id).sort();
const del = async (pointId: string, dryRun: boolean): Promise<Task> => s.waitTask((await s.client.call('points.delete', { repositoryId: repo.id, pointId, dryRun })).taskId);

describe('deleting a restore point', () => {
  it('previews without changing anything, then deletes that point only; the others restore exactly', async () => {
    const [first, middle, last] = [...taken.keys()];
    const preview = await del(middle!, true);
    expect(preview.state).toBe('succeeded');
    expect(preview.result).toMatchObject({ removedPoints: [middle] });
    expect(await ids()).toEqual([first, middle, last].sort());

    const done = await del(middle!, false);
    expect(done.state).toBe('succeeded');
    expect(done.result).toMatchObject({ removedPoints: [middle] });
    expect(await ids()).toEqual([first, last].sort());

    for (const id of [first!, last!]) {
      const target = path.join(s.dirs.root, `restored-${id}.img`);
      const t = await s.waitTask((await s.client.call('restore.start', { repositoryId: repo.id, pointId: id, source: image, target, skipIdentical: false, confirm: target })).taskId);
      expect(t.state).toBe('succeeded');
      expect(readFileSync(target).equals(taken.get(id)!)).toBe(true);
    }
    const verify = await s.waitTask((await s.client.call('points.verify', { repositoryId: repo.id, data: true })).taskId);
    expect(verify.result).toMatchObject({ ok: true });
  });

  it('refuses a pinned point (unpin first) and an unknown one, and deletes nothing', async () => {
    const [first] = [...taken.keys()];
    await s.client.call('points.annotate', { repositoryId: repo.id, pointId: first!, pinned: true });
    await expect(s.client.call('points.delete', { repositoryId: repo.id, pointId: first!, dryRun: false })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/pinned: unpin it/),
    });
    await expect(s.client.call('points.delete', { repositoryId: repo.id, pointId: '20200101T000000000Z-abcdef', dryRun: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await ids()).toEqual([...taken.keys()].sort());
  });
});
