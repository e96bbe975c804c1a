// The live-source path of a run (storage, one snapshot for all sources,
// events, change tracking, cleanup), with the real engine and a real loop
// device as the source, and a mock of the kernel module's driver: the
// module cannot be loaded on the host (the VM tests run it for real).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, truncateSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { JobInput, Repository } from '../../../../electron/common/contract';
import { MockSnapshotDriver } from '../../../support/mock-snapshot-driver';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';
import { tempDir } from '../../../support/temp-dirs';

const MiB = 1 << 20;
let work: ReturnType<typeof tempDir>;
let loops: string[];
let images: string[];

function loopDevice(name: string, size: number, fill: boolean): string {
  const img = path.join(work.dir, name);
  closeSync(openSync(img, 'w'));
  truncateSync(img, size);
  if (fill) {
    const fd = openSync(img, 'r+');
    for (let off = 0; off < size; off += MiB) writeSync(fd, randomBytes(MiB), 0, MiB, off);
    closeSync(fd);
  }
  images.push(img);
  const dev = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  loops.push(dev);
  return dev;
}

beforeEach(() => {
  work = tempDir('snapkeep-live-');
  loops = [];
  images = [];
});
afterEach(() => {
  for (const l of loops) execFileSync('losetup', ['-d', l]);
  work.remove();
});

async function setup(driver: MockSnapshotDriver, sources: string[]): Promise<{ s: ServiceClient; repo: Repository; jobId: string; storageDir: string }> {
  const s = await openServiceClient({ driver, destinationCheckMs: 50 });
  const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
  const storageDir = path.join(s.dirs.root, 'diff');
  const job: JobInput = {
    name: 'live',
    sources,
    repositoryId: repo.id,
    schedule: { kind: 'manual' },
    retention: { keepLast: 10, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 1,
    snapshotStorage: { directory: storageDir, maxBytes: 64 * MiB, allowOnSnapshotted: false },
    enabled: true,
  };
  const created = await s.client.call('jobs.create', { job });
  return { s, repo, jobId: created.id, storageDir };
}

describe('live sources (snapshot driver mocked: no kernel module on the host)', () => {
  it('takes one snapshot of both sources, grows storage on low space, reads only changed blocks next time, and releases everything', async () => {
    const a = loopDevice('a.img', 8 * MiB, true);
    const b = loopDevice('b.img', 4 * MiB, true);
    const driver = new MockSnapshotDriver({ [a]: 8 * MiB, [b]: 4 * MiB });
    driver.events.push({ kind: 'low-space', requestedSectors: 2048 });
    const { s, repo, jobId, storageDir } = await setup(driver, [a, b]);
    try {
      const first = await s.waitTask((await s.client.call('jobs.run', { id: jobId })).taskId);
      expect(first.error).toBeUndefined();
      expect(driver.calls[0]).toBe(`create ${a},${b}`);
      expect(driver.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
      expect(driver.calls.indexOf('take snap-1')).toBeGreaterThan(driver.calls.findIndex((c) => c.startsWith('append snap-1')));
      // The low-space event was answered with a second allocation.
      expect(driver.calls.filter((c) => c.startsWith('append snap-1'))).toHaveLength(2);
      expect(driver.calls.at(-1)).toBe('destroy snap-1');
      expect(readdirSync(storageDir)).toEqual([]);
      expect(driver.snapshots.size).toBe(0);

      // Between runs, 64 KiB are written at 1 MiB on a; b does not change.
      const fd = openSync(images[0] as string, 'r+');
      writeSync(fd, randomBytes(64 * 1024), 0, 64 * 1024, MiB);
      closeSync(fd);
      driver.wrote(a, MiB, 64 * 1024);

      const second = await s.waitTask((await s.client.call('jobs.run', { id: jobId })).taskId);
      expect(second.error).toBeUndefined();
      const points = await s.client.call('points.list', { repositoryId: repo.id });
      const latest = points.find((p) => p.id === second.result?.['pointId']);
      expect(latest?.kind).toBe('incremental');
      // The engine reads whole chunks: the one chunk holding the 64 KiB write.
      const chunkSize = (await s.client.call('repos.list', {}))[0]?.chunkSize ?? 0;
      expect(chunkSize).toBeGreaterThanOrEqual(64 * 1024);
      expect(latest?.devices.map((d) => [d.source, d.readBytes])).toEqual([
        [a, chunkSize],
        [b, 0],
      ]);
      // The restored image of the incremental point equals the device now.
      const target = path.join(work.dir, 'restored-a.img');
      const r = await s.client.call('restore.start', { repositoryId: repo.id, pointId: latest?.id ?? '', source: a, target, skipIdentical: false, confirm: target });
      expect((await s.waitTask(r.taskId)).state).toBe('succeeded');
      expect(execFileSync('cmp', [target, images[0] as string]).length).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('an overflow stops the backup with SNAPSHOT_OVERFLOW and leaves no snapshot, storage or record', async () => {
    const big = loopDevice('big.img', 64 * 1024 * MiB, false); // sparse: still reading when the event lands
    const driver = new MockSnapshotDriver({ [big]: 64 * 1024 * MiB });
    driver.events.push({ kind: 'overflow', device: big, errno: 'ENOSPC' });
    const { s, repo, jobId, storageDir } = await setup(driver, [big]);
    try {
      const t = await s.waitTask((await s.client.call('jobs.run', { id: jobId })).taskId);
      expect(t.state).toBe('failed');
      expect(t.error).toMatchObject({ code: 'SNAPSHOT_OVERFLOW', details: { snapshotId: 'snap-1', device: big } });
      expect(t.error?.message).toContain("raise the job's snapshot storage maximum");
      expect(driver.snapshots.size).toBe(0);
      expect(readdirSync(storageDir)).toEqual([]);
      expect(readdirSync(path.join(s.dirs.dirs.state, 'runs'))).toEqual([]);
      expect(readdirSync(path.join(repo.path, 'locks'))).toEqual([]);
      const [h] = await s.client.call('history.list', { jobId, limit: 1 });
      expect(h?.error?.code).toBe('SNAPSHOT_OVERFLOW');
    } finally {
      await s.close();
    }
  });

  it('cancel during the read destroys the snapshot and deletes the storage', async () => {
    const big = loopDevice('big.img', 64 * 1024 * MiB, false);
    const driver = new MockSnapshotDriver({ [big]: 64 * 1024 * MiB });
    const { s, jobId, storageDir } = await setup(driver, [big]);
    try {
      const { taskId } = await s.client.call('jobs.run', { id: jobId });
      await s.waitFor(taskId, (t) => t.progress.phase === 'reading' && t.progress.bytesDone > 0);
      expect(driver.snapshots.size).toBe(1);
      expect(readdirSync(storageDir)).toHaveLength(1);
      expect(readdirSync(path.join(s.dirs.dirs.state, 'runs'))).toHaveLength(1);
      await s.client.call('tasks.cancel', { taskId });
      expect((await s.waitTask(taskId)).state).toBe('cancelled');
      expect(driver.calls.at(-1)).toBe('destroy snap-1');
      expect(driver.snapshots.size).toBe(0);
      expect(readdirSync(storageDir)).toEqual([]);
      expect(readdirSync(path.join(s.dirs.dirs.state, 'runs'))).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('refuses storage on a device of the snapshot before creating anything', async () => {
    const a = loopDevice('a.img', 8 * MiB, true);
    const driver = new MockSnapshotDriver({ [a]: 8 * MiB });
    const s = await openServiceClient({ driver });
    try {
      const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
      // Storage inside a file system on the source itself.
      execFileSync('mkfs.ext4', ['-q', '-F', a]);
      const mnt = path.join(work.dir, 'mnt');
      execFileSync('mkdir', [mnt]);
      execFileSync('mount', [a, mnt]);
      try {
        const { id } = await s.client.call('jobs.create', {
          job: {
            name: 'self',
            sources: [a],
            repositoryId: repo.id,
            schedule: { kind: 'manual' },
            retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
            compressionLevel: 1,
            snapshotStorage: { directory: mnt, maxBytes: 16 * MiB, allowOnSnapshotted: false },
            enabled: true,
          },
        });
        const t = await s.waitTask((await s.client.call('jobs.run', { id })).taskId);
        expect(t.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('which is being snapshotted') });
        expect(driver.calls).toEqual([]);
      } finally {
        execFileSync('umount', [mnt]);
      }
    } finally {
      await s.close();
    }
  });
});
