// A change tracker that starts over (reboot, module reload: a new
// generation) knows nothing of the writes made before it: the next backup
// must read everything, not build an incremental from the old numbers. Run
// through the service with the real engine and a real loop device; the
// snapshot driver is mocked (no kernel module on the host; the VM tests run
// the real one). Also at the engine: changes of another generation than
// the parent's are never used. The history says, per run, whether a source
// was read by its changes or in full and why; a deleted parent point makes
// the next run read in full, not fail.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, truncateSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, expect, it } from 'vitest';

import type { JobInput, Repository } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { MockSnapshotDriver } from '../../../support/mock-snapshot-driver';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';
import { tempDir } from '../../../support/temp-dirs';

const MiB = 1 << 20;
let work: ReturnType<typeof tempDir>;
let loops: string[];

beforeEach(() => {
  work = tempDir('snapkeep-reset-');
  loops = [];
});
afterEach(() => {
  for (const l of loops) execFileSync('losetup', ['-d', l]);
  work.remove();
});

function image(name: string, size: number): string {
  const img = path.join(work.dir, name);
  closeSync(openSync(img, 'w'));
  truncateSync(img, size);
  const fd = openSync(img, 'r+');
  for (let off = 0; off < size; off += MiB) writeSync(fd, randomBytes(MiB), 0, MiB, off);
  closeSync(fd);
  return img;
}

function scribble(img: string, offset: number, length: number): void {
  const fd = openSync(img, 'r+');
  writeSync(fd, randomBytes(length), 0, length, offset);
  closeSync(fd);
}

/** A repository and a manual live job of one device, through the service. */
async function liveJob(s: ServiceClient, dev: string): Promise<{ repo: Repository; id: string }> {
  const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
  const job: JobInput = {
    name: 'live',
    sources: [dev],
    repositoryId: repo.id,
    schedule: { kind: 'manual' },
    retention: { keepLast: 10, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 1,
    snapshotStorage: { directory: path.join(s.dirs.root, 'diff'), maxBytes: 64 * MiB, allowOnSnapshotted: false },
    enabled: true,
  };
  const { id } = await s.client.call('jobs.create', { job });
  return { repo, id };
}

it('after a tracker reset the next run reads the whole device, and its point restores to what the device holds (snapshot driver mocked)', async () => {
  const img = image('a.img', 8 * MiB);
  const dev = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  loops.push(dev);
  const driver = new MockSnapshotDriver({ [dev]: 8 * MiB });
  const s = await openServiceClient({ driver });
  try {
    const { repo, id } = await liveJob(s, dev);
    const run = async () => {
      const t = await s.waitTask((await s.client.call('jobs.run', { id })).taskId);
      expect(t.error).toBeUndefined();
      const points = await s.client.call('points.list', { repositoryId: repo.id });
      const p = points.find((x) => x.id === t.result?.['pointId']);
      if (!p) throw new Error('no point');
      return p;
    };
    /** How the history says the latest run read the device. */
    const lastRead = async () => {
      const [h] = await s.client.call('history.list', { jobId: id, limit: 1 });
      return h?.reads?.map((r) => ({ mode: r.mode, reason: r.reason, ...(r.restart && { restart: r.restart }) }));
    };
    await run();
    expect(await lastRead()).toEqual([{ mode: 'full', reason: 'first-backup' }]);
    scribble(img, MiB, 64 * 1024);
    driver.wrote(dev, MiB, 64 * 1024);
    const second = await run();
    expect(second.devices[0]?.readBytes).toBeLessThan(MiB);
    expect(await lastRead()).toEqual([{ mode: 'changed', reason: undefined }]);

    // The machine rebooted: writes while nothing tracked, then a new tracker.
    scribble(img, 5 * MiB, 64 * 1024);
    driver.resetTracker(dev, '3f0c8a4e-0000-4000-8000-000000000002');
    scribble(img, 6 * MiB, 4096);
    driver.wrote(dev, 6 * MiB, 4096);
    const third = await run();
    expect(third.devices[0]?.readBytes).toBe(8 * MiB);
    // The history says why this one read everything.
    expect(await lastRead()).toEqual([{ mode: 'full', reason: 'tracker-restarted', restart: { cause: 'not-persistent' } }]);
    const target = path.join(work.dir, 'restored.img');
    const r = await s.client.call('restore.start', { repositoryId: repo.id, pointId: third.id, source: dev, target, skipIdentical: false, confirm: target });
    expect((await s.waitTask(r.taskId)).state).toBe('succeeded');
    expect(execFileSync('cmp', [target, img]).length).toBe(0);

    // And the one after builds on the new generation again.
    scribble(img, 2 * MiB, 4096);
    driver.wrote(dev, 2 * MiB, 4096);
    const fourth = await run();
    expect(fourth.devices[0]?.readBytes).toBeLessThan(MiB);
    expect(await lastRead()).toEqual([{ mode: 'changed', reason: undefined }]);
    const r4 = await s.client.call('restore.start', { repositoryId: repo.id, pointId: fourth.id, source: dev, target, skipIdentical: false, confirm: target });
    expect((await s.waitTask(r4.taskId)).state).toBe('succeeded');
    expect(execFileSync('cmp', [target, img]).length).toBe(0);

    // The point the next changes count from is deleted: the tracker has
    // them, the engine cannot use them, and the history says so.
    await s.waitTask((await s.client.call('points.delete', { repositoryId: repo.id, pointId: fourth.id, dryRun: false })).taskId);
    scribble(img, 3 * MiB, 4096);
    driver.wrote(dev, 3 * MiB, 4096);
    const fifth = await run();
    expect(fifth.devices[0]?.readBytes).toBe(8 * MiB);
    expect(await lastRead()).toEqual([{ mode: 'full', reason: 'parent-missing' }]);
    const r5 = await s.client.call('restore.start', { repositoryId: repo.id, pointId: fifth.id, source: dev, target, skipIdentical: false, confirm: target });
    expect((await s.waitTask(r5.taskId)).state).toBe('succeeded');
    expect(execFileSync('cmp', [target, img]).length).toBe(0);

    // A power cut without write intent: the kept map restarts at the next
    // boot, and the history says so with the time of the map's last save.
    const savedAt = '2026-12-01T10:20:30.000Z';
    scribble(img, 7 * MiB, 4096);
    driver.resetTracker(dev, '3f0c8a4e-0000-4000-8000-000000000003', { continued: false, unclean: false, failed: false, reason: 'unclean', foundAt: savedAt });
    const sixth = await run();
    expect(sixth.devices[0]?.readBytes).toBe(8 * MiB);
    expect(await lastRead()).toEqual([{ mode: 'full', reason: 'tracker-restarted', restart: { cause: 'unclean', since: savedAt } }]);
    const r6 = await s.client.call('restore.start', { repositoryId: repo.id, pointId: sixth.id, source: dev, target, skipIdentical: false, confirm: target });
    expect((await s.waitTask(r6.taskId)).state).toBe('succeeded');
    expect(execFileSync('cmp', [target, img]).length).toBe(0);
  } finally {
    await s.close();
  }
});

it('the engine reads everything when the changes come from another tracker generation than the parent', async () => {
  const img = image('b.img', 4 * MiB);
  const h = await engine.init({ path: path.join(work.dir, 'repo') });
  const parent = await h.backup({ sources: [{ source: img, readFrom: img, cbt: { generation: 'g1', number: 3, blockSize: 65536 } }], jobId: 'j', compressionLevel: 1 });
  scribble(img, 3 * MiB, 65536);
  const p = await h.backup({
    sources: [{ source: img, readFrom: img, cbt: { generation: 'g2', number: 1, blockSize: 65536 }, changes: { generation: 'g2', sinceNumber: 3, ranges: [] } }],
    jobId: 'j',
    parentId: parent.id,
    compressionLevel: 1,
  });
  expect(p.devices[0]?.readBytes).toBe(4 * MiB);
  const out = path.join(work.dir, 'out.img');
  await h.restore({ pointId: p.id, source: img, target: out, skipIdentical: false });
  expect(execFileSync('cmp', [out, img]).length).toBe(0);
  await h.close();
});

// The runner's own half of the check (the engine's refusal above would hide
// a runner that skipped it): it says in the log why the run reads the whole
// device, and only after a reset.
it('after a tracker reset the runner logs that it reads everything, and only then (snapshot driver mocked)', async () => {
  const img = image('a.img', 4 * MiB);
  const dev = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  loops.push(dev);
  const driver = new MockSnapshotDriver({ [dev]: 4 * MiB });
  const s = await openServiceClient({ driver });
  try {
    const { id } = await liveJob(s, dev);
    const run = async () => {
      const t = await s.waitTask((await s.client.call('jobs.run', { id })).taskId);
      expect(t.error).toBeUndefined();
    };
    const resetSaid = async () =>
      (await s.client.call('logs.list', { limit: 5000 })).filter((l) => l.message.includes(`${dev}: the change tracker started over since the last backup`)).length;

    await run();
    driver.wrote(dev, MiB, 4096);
    await run();
    expect(await resetSaid()).toBe(0);

    driver.resetTracker(dev, '3f0c8a4e-0000-4000-8000-000000000009');
    driver.wrote(dev, 2 * MiB, 4096);
    await run();
    expect(await resetSaid()).toBe(1);
  } finally {
    await s.close();
  }
});
