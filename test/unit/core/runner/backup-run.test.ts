// Job runs end to end, on the host, with the real engine and the real
// service behind the real dispatcher and client: image files and an
// unmounted loop device as sources (no kernel module needed), scripts,
// retention, history figures, restore of the point, and the failure paths
// that must leave nothing behind (cancel, destination removed, a mounted
// device without the module, a failing pre-script).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { JobInput, Repository } from '../../../../electron/common/contract';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

const MiB = 1 << 20;
let s: ServiceClient;
let repo: Repository;

/** Random data with zero runs, so compression and zero chunks both happen. */
function makeImage(file: string, size: number): void {
  const fd = openSync(file, 'w');
  for (let off = 0; off < size; off += MiB) writeSync(fd, off % (4 * MiB) === 0 ? Buffer.alloc(MiB) : randomBytes(MiB), 0, MiB, off);
  closeSync(fd);
}

function job(sources: string[], extra: Partial<JobInput> = {}): { job: JobInput } {
  return {
    job: {
      name: 'images',
      sources,
      repositoryId: repo.id,
      schedule: { kind: 'manual' },
      retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
      compressionLevel: 3,
      enabled: true,
      ...extra,
    },
  };
}

const root = () => s.dirs.root;
const runRecords = () => readdirSync(path.join(s.dirs.dirs.state, 'runs')).filter((n) => !n.startsWith('.'));
const repoLocks = (repoPath: string) => readdirSync(path.join(repoPath, 'locks'));

beforeEach(async () => {
  s = await openServiceClient({ destinationCheckMs: 50 });
  repo = await s.client.call('repos.init', { name: 'test repo', path: path.join(root(), 'repo') });
});
afterEach(() => s.close());

describe('backup runs with image-file sources', () => {
  it('backs up two images into one point, records figures in the history, and restores byte for byte', async () => {
    const a = path.join(root(), 'a.img');
    const b = path.join(root(), 'b.img');
    makeImage(a, 12 * MiB);
    makeImage(b, 5 * MiB);
    const created = await s.client.call('jobs.create', job([a, b]));
    expect(created).toMatchObject({ name: 'images', running: false });
    expect(created.nextRun).toBeUndefined();

    const { taskId } = await s.client.call('jobs.run', { id: created.id });
    await expect(s.client.call('jobs.run', { id: created.id })).rejects.toMatchObject({ code: 'CONFLICT' });
    const task = await s.waitTask(taskId);
    expect(task.error).toBeUndefined();
    expect(task.state).toBe('succeeded');
    const pointId = task.result?.['pointId'] as string;

    const points = await s.client.call('points.list', { repositoryId: repo.id, jobId: created.id });
    expect(points.map((p) => p.id)).toEqual([pointId]);
    expect(points[0]?.devices.map((d) => [d.source, d.sizeBytes])).toEqual([
      [a, 12 * MiB],
      [b, 5 * MiB],
    ]);

    const [h] = await s.client.call('history.list', { jobId: created.id, limit: 10 });
    expect(h).toMatchObject({ status: 'succeeded', restorePointId: pointId, bytesRead: 17 * MiB, jobName: 'images' });
    expect(h?.bytesWritten).toBeGreaterThan(0);
    expect(h?.bytesWritten).toBeLessThanOrEqual(17 * MiB);
    expect(h?.bytesPerSecond).toBeGreaterThanOrEqual(0);
    expect((await s.client.call('jobs.list', {}))[0]?.lastRun).toMatchObject({ status: 'succeeded' });
    expect(runRecords()).toEqual([]);
    expect(repoLocks(repo.path)).toEqual([]);

    const target = path.join(root(), 'restored-b.img');
    const r = await s.client.call('restore.start', { repositoryId: repo.id, pointId, source: b, target, skipIdentical: false, confirm: target });
    expect((await s.waitTask(r.taskId)).state).toBe('succeeded');
    expect(readFileSync(target).equals(readFileSync(b))).toBe(true);
  });

  it('applies retention after each run and runs the post-script with the outcome', async () => {
    const a = path.join(root(), 'a.img');
    makeImage(a, 4 * MiB);
    const marker = path.join(root(), 'post.out');
    const post = path.join(root(), 'post.sh');
    writeFileSync(post, `#!/bin/sh\necho "$SNAPKEEP_JOB_NAME $SNAPKEEP_STATUS" >> ${marker}\n`);
    chmodSync(post, 0o755);
    const j = await s.client.call('jobs.create', job([a], { retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, postScript: post }));
    for (let i = 0; i < 2; i++) {
      const { taskId } = await s.client.call('jobs.run', { id: j.id });
      expect((await s.waitTask(taskId)).state).toBe('succeeded');
      writeFileSync(a, randomBytes(4096), { flag: 'r+' });
    }
    const points = await s.client.call('points.list', { repositoryId: repo.id });
    expect(points).toHaveLength(1);
    expect(readFileSync(marker, 'utf8')).toBe('images succeeded\nimages succeeded\n');
    expect((await s.client.call('history.list', { jobId: j.id, limit: 10 })).map((e) => e.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('cancelled while reading: a cancelled history entry, no point, no run record, no repository lock', async () => {
    // 64 GiB of holes: still reading long after the cancel arrives.
    const big = path.join(root(), 'sparse.img');
    closeSync(openSync(big, 'w'));
    truncateSync(big, 64 * 1024 * MiB);
    const j = await s.client.call('jobs.create', job([big]));
    const { taskId } = await s.client.call('jobs.run', { id: j.id });
    await s.waitFor(taskId, (t) => t.progress.phase === 'reading' && t.progress.bytesDone > 0);
    await s.client.call('tasks.cancel', { taskId });
    const t = await s.waitTask(taskId);
    expect(t.state).toBe('cancelled');
    expect(t.error?.code).toBe('CANCELLED');
    const [h] = await s.client.call('history.list', { jobId: j.id, limit: 1 });
    expect(h).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(h?.restorePointId).toBeUndefined();
    expect(await s.client.call('points.list', { repositoryId: repo.id })).toEqual([]);
    expect(runRecords()).toEqual([]);
    expect(repoLocks(repo.path)).toEqual([]);
    expect((await s.client.call('jobs.list', {}))[0]?.running).toBe(false);
  });

  it('fails fast and clearly when the destination disappears mid-run', async () => {
    const big = path.join(root(), 'sparse.img');
    closeSync(openSync(big, 'w'));
    truncateSync(big, 64 * 1024 * MiB);
    const j = await s.client.call('jobs.create', job([big]));
    const { taskId } = await s.client.call('jobs.run', { id: j.id });
    await s.waitFor(taskId, (t) => t.progress.phase === 'reading' && t.progress.bytesDone > 0);
    renameSync(repo.path, repo.path + '.unplugged'); // what an unplugged disk looks like to a path check
    const t = await s.waitTask(taskId);
    expect(t.state).toBe('failed');
    expect(t.error?.message).toContain(repo.path);
    expect(['REPO_NOT_FOUND', 'IO_ERROR']).toContain(t.error?.code);
    const [h] = await s.client.call('history.list', { jobId: j.id, limit: 1 });
    expect(h).toMatchObject({ status: 'failed' });
    expect(h?.error?.message).toContain(repo.path);
    expect(runRecords()).toEqual([]);
    // The next run fails at once with the same reason, before reading anything.
    const again = await s.client.call('jobs.run', { id: j.id });
    expect((await s.waitTask(again.taskId)).error).toMatchObject({ code: 'REPO_NOT_FOUND' });
  });

  it('a failing pre-script stops the run before anything is read, with its output in the error', async () => {
    const a = path.join(root(), 'a.img');
    makeImage(a, MiB);
    const pre = path.join(root(), 'pre.sh');
    writeFileSync(pre, '#!/bin/sh\necho "database refused to flush" >&2\nexit 3\n');
    chmodSync(pre, 0o755);
    const j = await s.client.call('jobs.create', job([a], { preScript: pre }));
    const t = await s.waitTask((await s.client.call('jobs.run', { id: j.id })).taskId);
    expect(t.state).toBe('failed');
    expect(t.error?.message).toMatch(/pre\.sh failed \(exit status 3\): database refused to flush/);
    expect(t.error?.code).toBe('SCRIPT_FAILED');
    expect(await s.client.call('points.list', { repositoryId: repo.id })).toEqual([]);
  });

  it('refuses scripts others could change', async () => {
    const a = path.join(root(), 'a.img');
    makeImage(a, MiB);
    const pre = path.join(root(), 'pre.sh');
    writeFileSync(pre, '#!/bin/sh\n');
    chmodSync(pre, 0o777);
    await expect(s.client.call('jobs.create', job([a], { preScript: pre }))).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: `script ${pre} must be owned by root and writable only by its owner`,
    });
  });
});

describe('block-device sources without the kernel module', () => {
  it('backs up an unmounted loop device directly', async () => {
    const img = path.join(root(), 'disk.img');
    makeImage(img, 8 * MiB);
    const loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
    try {
      const j = await s.client.call('jobs.create', job([loop]));
      const t = await s.waitTask((await s.client.call('jobs.run', { id: j.id })).taskId);
      expect(t.error).toBeUndefined();
      const [p] = await s.client.call('points.list', { repositoryId: repo.id });
      expect(p?.devices[0]).toMatchObject({ source: loop, sizeBytes: 8 * MiB, readBytes: 8 * MiB });
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });

  it('refuses a mounted device with MODULE_NOT_LOADED and says why, leaving nothing behind', async () => {
    // The block device mounted at / (mountinfo: field 5 is the mount point, the source follows " - <fstype> ").
    const rootDev = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[4] === '/')
      .map((l) => l.split(' - ')[1]?.split(' ')[1])
      .find((src) => src?.startsWith('/dev/'));
    expect(rootDev, 'the host root should be a block device').toBeDefined();
    const dev = rootDev as string;
    const j = await s.client.call('jobs.create', job([dev]));
    const t = await s.waitTask((await s.client.call('jobs.run', { id: j.id })).taskId);
    expect(t.state).toBe('failed');
    expect(t.error?.code).toBe('MODULE_NOT_LOADED');
    expect(t.error?.message).toMatch(new RegExp(`^${dev} is mounted at /.*, so it can only be backed up through a snapshot: `));
    expect(runRecords()).toEqual([]);
    expect(existsSync(path.join(s.dirs.dirs.state, 'diff'))).toBe(false);
  });
});
