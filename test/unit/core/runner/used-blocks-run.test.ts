// A job whose source is an ext4 block device (an unmounted loop device, so
// no kernel module is needed) reads only the blocks the file system uses by
// default, and every sector with the job option readAllSectors; both points
// say so, and both restore to a file system that fscks clean.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { JobInput, Repository } from '../../../../electron/common/contract';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

const MiB = 1 << 20;
let s: ServiceClient;
let repo: Repository;

beforeEach(async () => {
  s = await openServiceClient({ destinationCheckMs: 50 });
  repo = await s.client.call('repos.init', { name: 'test repo', path: path.join(s.dirs.root, 'repo') });
});
afterEach(async () => {
  await s.close();
});

function job(source: string, extra: Partial<JobInput> = {}): { job: JobInput } {
  return {
    job: {
      name: 'ext4 device',
      sources: [source],
      repositoryId: repo.id,
      schedule: { kind: 'manual' },
      retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
      compressionLevel: 3,
      enabled: true,
      ...extra,
    },
  };
}

describe('job runs on an ext4 device', () => {
  it('read the used blocks by default and every sector with readAllSectors', async () => {
    const tree = path.join(s.dirs.root, 'tree');
    mkdirSync(tree);
    for (let i = 0; i < 5; i++) writeFileSync(path.join(tree, `f${i}`), randomBytes(MiB));
    const img = path.join(s.dirs.root, 'ext4.img');
    writeFileSync(img, randomBytes(32 * MiB));
    execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'nodiscard', '-d', tree, img]);
    const loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
    try {
      const used = await s.client.call('jobs.create', job(loop));
      const t1 = await s.waitTask((await s.client.call('jobs.run', { id: used.id })).taskId);
      expect(t1.error).toBeUndefined();
      const all = await s.client.call('jobs.create', job(loop, { name: 'every sector', readAllSectors: true }));
      expect(all.readAllSectors).toBe(true);
      const t2 = await s.waitTask((await s.client.call('jobs.run', { id: all.id })).taskId);
      expect(t2.error).toBeUndefined();

      const [p1] = await s.client.call('points.list', { repositoryId: repo.id, jobId: used.id });
      const [p2] = await s.client.call('points.list', { repositoryId: repo.id, jobId: all.id });
      const d1 = p1!.devices[0]!;
      const d2 = p2!.devices[0]!;
      expect(d1.usedBlocks).toEqual([{ fsType: 'ext4', usedBytes: expect.any(Number) }]);
      expect(d1.readBytes).toBeLessThan(16 * MiB);
      expect(d1.readBytes + d1.unusedBytes!).toBe(32 * MiB);
      expect(d2).toMatchObject({ readBytes: 32 * MiB });
      expect(d2.unusedBytes).toBeUndefined();
      // The run history says the full read left free space out, and how much.
      const history = await s.client.call('history.list', { limit: 10 });
      const reads = (id: string) => history.find((e) => e.jobId === id)?.reads;
      expect(reads(used.id)).toEqual([{ source: loop, mode: 'full', reason: 'not-tracked', bytes: d1.readBytes, unusedBytes: d1.unusedBytes }]);
      expect(reads(all.id)).toEqual([{ source: loop, mode: 'full', reason: 'not-tracked', bytes: 32 * MiB }]);

      for (const p of [p1!, p2!]) {
        const target = path.join(s.dirs.root, `restored-${p.id}.img`);
        const r = await s.client.call('restore.start', { repositoryId: repo.id, pointId: p.id, source: loop, target, skipIdentical: false, confirm: target });
        expect((await s.waitTask(r.taskId)).state).toBe('succeeded');
        const fsck = spawnSync('e2fsck', ['-fn', target], { encoding: 'utf8' });
        expect(fsck.status, fsck.stdout).toBe(0);
      }
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });
});
