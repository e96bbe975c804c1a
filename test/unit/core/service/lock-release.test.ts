// Locks are held only while work runs and are always released: every task
// kind failing at each of its steps leaves no lock in the repository, and
// "Clean up now" (a prune) works right after. Real service, real engine,
// real repository; failures are injected with real conditions: a
// directory made immutable (chattr +i: even root cannot create files in
// it), a pack moved away, a damaged manifest, a failing script, and the
// host's missing nbd module for "Open the restore point" (issue 19: a
// failed open left a lock, and retention failed on every later run).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { JobInput, Repository, Task } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { mountPoint } from '../../../../electron/core/nbd/mount';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

const MiB = 1 << 20;
let s: ServiceClient;
let repo: Repository;
let image: string;
let jobId: string;
let pointId: string;
const undo: Array<() => void> = [];

const locks = () => fs.readdirSync(path.join(repo.path, 'locks')).filter((n) => !n.startsWith('.'));
/** What the lock files left say (operation, pid, time): a failure names who kept one. */
const lockContents = () => locks().map((n) => fs.readFileSync(path.join(repo.path, 'locks', n), 'utf8').slice(0, 300));
const immutable = (...dirs: string[]) => {
  for (const d of dirs) {
    execFileSync('chattr', ['+i', d]);
    undo.push(() => execFileSync('chattr', ['-i', d]));
  }
};
const subdirs = (d: string) => fs.readdirSync(d).map((n) => path.join(d, n)).filter((p) => fs.statSync(p).isDirectory());

function writeImage(f: string, size: number): void {
  const fd = fs.openSync(f, 'w');
  for (let off = 0; off < size; off += MiB) fs.writeSync(fd, randomBytes(MiB), 0, MiB, off);
  fs.closeSync(fd);
}

function touchImage(): void {
  const fd = fs.openSync(image, 'r+');
  fs.writeSync(fd, randomBytes(64 * 1024), 0, 64 * 1024, Math.floor(Math.random() * 31) * 64 * 1024);
  fs.closeSync(fd);
}

async function job(extra: Partial<JobInput> = {}): Promise<string> {
  const j: JobInput = {
    name: `job ${Math.random().toString(36).slice(2, 7)}`,
    sources: [image],
    repositoryId: repo.id,
    schedule: { kind: 'manual' },
    retention: { keepLast: 100, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 1,
    enabled: true,
    ...extra,
  };
  return (await s.client.call('jobs.create', { job: j })).id;
}

const run = async (id: string): Promise<Task> => s.waitTask((await s.client.call('jobs.run', { id })).taskId);
const task = async (ref: Promise<{ taskId: string }>): Promise<Task> => s.waitTask((await ref).taskId);
const expectFailed = (t: Task) => {
  expect(t.state).toBe('failed');
  expect(t.error?.message.length).toBeGreaterThan(0);
};
const expectWarned = (t: Task) => {
  expect(t.state).toBe('succeeded');
  expect(t.warnings.length).toBeGreaterThan(0);
};

/** A manifest that does not decode, beside the real ones. */
function damagedManifest(): void {
  const f = path.join(repo.path, 'points', '20200101T000000000Z-000000');
  fs.writeFileSync(f, randomBytes(200));
  undo.push(() => fs.rmSync(f, { force: true }));
}

/** Every pack gone (a disk that lost them), until the undo puts them back. */
function packsAway(): void {
  const packs = path.join(repo.path, 'packs');
  const aside = path.join(s.dirs.root, 'packs-aside');
  fs.renameSync(packs, aside);
  fs.mkdirSync(packs);
  undo.push(() => {
    fs.rmSync(packs, { recursive: true });
    fs.renameSync(aside, packs);
  });
}

const restoreTo = (target: string, point = pointId) =>
  task(s.client.call('restore.start', { repositoryId: repo.id, pointId: point, source: image, target, skipIdentical: false, confirm: target }));

beforeAll(async () => {
  s = await openServiceClient({ destinationCheckMs: 50 });
  repo = await s.client.call('repos.init', { name: 'locks', path: path.join(s.dirs.root, 'repo') });
  image = path.join(s.dirs.root, 'disk.img');
  writeImage(image, 2 * MiB);
  jobId = await job();
  const t = await run(jobId);
  expect(t.state).toBe('succeeded');
  pointId = t.result?.['pointId'] as string;
});
afterEach(async () => {
  undo.splice(0).reverse().forEach((u) => u());
  expect(locks(), lockContents().join('\n')).toEqual([]);
  // "Clean up now" right after: not "the repository is busy".
  const clean = await task(s.client.call('points.prune', { repositoryId: repo.id, retention: { keepLast: 100, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false }));
  expect(clean.error).toBeUndefined();
  expect(clean.state).toBe('succeeded');
  expect(locks()).toEqual([]);
});
afterAll(() => s.close());

describe('a backup run that fails at each step releases its lock', () => {
  it('pre-script fails', async () => {
    const script = path.join(s.dirs.root, 'fail.sh');
    fs.writeFileSync(script, '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    expectFailed(await run(await job({ preScript: script })));
  });
  it('the source is gone', async () => {
    const gone = path.join(s.dirs.root, 'gone.img');
    writeImage(gone, MiB);
    const id = await job({ sources: [gone] });
    fs.rmSync(gone);
    expectFailed(await run(id));
  });
  it('packs cannot be written', async () => {
    touchImage();
    immutable(path.join(repo.path, 'tmp'));
    expectFailed(await run(jobId));
  });
  it('the index cannot be written', async () => {
    touchImage();
    immutable(path.join(repo.path, 'index'));
    expectFailed(await run(jobId));
  });
  it('the chunk list cannot be written', async () => {
    touchImage();
    immutable(path.join(repo.path, 'lists'), ...subdirs(path.join(repo.path, 'lists')));
    expectFailed(await run(jobId));
  });
  it('the manifest cannot be written', async () => {
    touchImage();
    immutable(path.join(repo.path, 'points'));
    expectFailed(await run(jobId));
  });
  it('retention fails (a damaged manifest stops the prune): the run succeeds with a warning', async () => {
    touchImage();
    damagedManifest();
    expectWarned(await run(jobId));
  });
  it('the post-script fails: the run succeeds with a warning', async () => {
    const script = path.join(s.dirs.root, 'post-fail.sh');
    fs.writeFileSync(script, '#!/bin/sh\nexit 4\n', { mode: 0o755 });
    touchImage();
    expectWarned(await run(await job({ postScript: script })));
  });
});

describe('a restore that fails at each step releases its lock', () => {
  it('the point does not exist', async () => {
    expectFailed(await restoreTo(path.join(s.dirs.root, 'r1.img'), '20200101T000000000Z-abcdef'));
  });
  it('the target is refused (a directory): refused before any task or lock', async () => {
    const dir = path.join(s.dirs.root, 'a-dir');
    fs.mkdirSync(dir, { recursive: true });
    await expect(restoreTo(dir)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
  it('the target cannot be created', async () => {
    const dir = path.join(s.dirs.root, 'ro-target');
    fs.mkdirSync(dir, { recursive: true });
    immutable(dir);
    // Checked as the caller before any task starts (the privilege boundary).
    await expect(restoreTo(path.join(dir, 'r.img'))).rejects.toMatchObject({ message: expect.stringMatching(/may not create/) });
  });
  it('a pack is missing while reading', async () => {
    packsAway();
    expectFailed(await restoreTo(path.join(s.dirs.root, 'r2.img')));
  });
});

describe('a verify that fails or finds problems releases its lock', () => {
  it('the point does not exist', async () => {
    const t = await task(s.client.call('points.verify', { repositoryId: repo.id, pointId: '20200101T000000000Z-abcdef', data: true }));
    expect(t.state === 'failed' || t.warnings.length > 0).toBe(true);
  });
  it('a pack is missing', async () => {
    packsAway();
    const t = await task(s.client.call('points.verify', { repositoryId: repo.id, data: true }));
    expect(t.result?.['ok']).toBe(false);
  });
});

describe('a prune that fails at each step releases its lock', () => {
  it('a manifest cannot be read', async () => {
    damagedManifest();
    expectFailed(await task(s.client.call('points.prune', { repositoryId: repo.id, retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false })));
  });
  it('a forgotten point cannot be deleted', async () => {
    touchImage();
    expect((await run(jobId)).state).toBe('succeeded');
    immutable(path.join(repo.path, 'points'));
    expectFailed(await task(s.client.call('points.prune', { repositoryId: repo.id, retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false })));
  });
});

describe('deleting a point that fails releases its lock', () => {
  it('its manifest cannot be deleted', async () => {
    touchImage();
    const t = await run(jobId);
    expect(t.state).toBe('succeeded');
    immutable(path.join(repo.path, 'points'));
    expectFailed(await task(s.client.call('points.delete', { repositoryId: repo.id, pointId: t.result?.['pointId'] as string, dryRun: false })));
  });
});

describe('opening a restore point that fails at each step releases its lock', () => {
  it('the point does not exist', async () => {
    await expect(s.client.call('mounts.mount', { repositoryId: repo.id, pointId: '20200101T000000000Z-abcdef', source: image })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
  it('no nbd device (the host has no nbd module): opened in user space, and unmounting releases its lock', async () => {
    const m = await s.client.call('mounts.mount', { repositoryId: repo.id, pointId, source: image });
    expect(m.access).toBe('export');
    expect(locks()).toHaveLength(1);
    await s.client.call('mounts.unmount', { id: m.id });
  });
  it('no nbd device, the mount code on its own (the handle stays open)', async () => {
    const h = await engine.open({ path: repo.path });
    try {
      await expect(mountPoint(h, { pointId, source: image, baseDir: path.join(s.dirs.root, 'mnt') })).rejects.toMatchObject({ code: 'DEVICE_BUSY' });
      expect(locks()).toEqual([]);
    } finally {
      await h.close();
    }
  });
  it('attaching the device fails', async () => {
    const h = await engine.open({ path: repo.path });
    try {
      await expect(mountPoint(h, { pointId, source: image, device: '/dev/nbd-none', baseDir: path.join(s.dirs.root, 'mnt') })).rejects.toBeTruthy();
      // Released by the failed open itself, not only when the handle closes.
      expect(locks()).toEqual([]);
    } finally {
      await h.close();
    }
  });
  it('a reader left open is closed, and its lock released, when its repository handle closes', async () => {
    const h = await engine.open({ path: repo.path });
    const reader = await h.openReader(pointId, image);
    expect(locks()).toHaveLength(1);
    expect((await reader.read(0, 4096)).length).toBe(4096);
    await h.close();
    expect(locks()).toEqual([]);
    await expect(reader.read(0, 4096)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
