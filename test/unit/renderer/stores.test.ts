// @vitest-environment happy-dom
// The domain stores against the real service (see service-fixture.ts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { JobInput } from '../../../electron/common/contract';
import type { MountBackend } from '../../../electron/core/service/mount-manager';
import { describeError } from '../../../renderer/src/errors/words';
import { useDevicesStore } from '../../../renderer/src/stores/devices';
import { useFilesStore } from '../../../renderer/src/stores/files';
import { useHistoryStore } from '../../../renderer/src/stores/history';
import { useJobsStore } from '../../../renderer/src/stores/jobs';
import { useLogsStore } from '../../../renderer/src/stores/logs';
import { usePointsStore } from '../../../renderer/src/stores/points';
import { useRepositoriesStore } from '../../../renderer/src/stores/repositories';
import { useRestoreStore } from '../../../renderer/src/stores/restore';
import { useTasksStore } from '../../../renderer/src/stores/tasks';
import { openService, type Fixture } from './service-fixture';

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

function jobInput(source: string, repositoryId: string): JobInput {
  return {
    name: 'Image',
    sources: [source],
    repositoryId,
    schedule: { kind: 'manual' },
    retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 3,
    enabled: true,
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('stores against the real service', () => {
  it('creates a repository and a job, runs it, follows the task by events, and lists the point and the history', async () => {
    fx = await openService();
    const repos = useRepositoriesStore();
    const jobs = useJobsStore();
    const tasks = useTasksStore();
    const points = usePointsStore();
    const history = useHistoryStore();

    await repos.load();
    expect([repos.loaded, repos.repositories]).toEqual([true, []]);
    const creating = repos.init('Local', path.join(fx.root, 'repo'));
    expect(repos.saving).toBe(true);
    const repo = await creating;
    expect(repos.saving).toBe(false);
    expect(repos.repositories.map((r) => r.name)).toEqual(['Local']);

    const job = await jobs.create(jobInput(fx.image, repo.id));
    await jobs.load();
    expect(jobs.byId(job.id)?.name).toBe('Image');
    await history.load();

    const taskId = await jobs.run(job.id);
    await tasks.track(taskId);
    // 'job.updated' marks the job running without a reload
    await until(() => jobs.byId(job.id)?.running === true || tasks.byId(taskId)?.state === 'succeeded', 'the job to run');
    const done = await tasks.finished(taskId);
    expect(done.state).toBe('succeeded');
    expect(done.result?.['bytesRead']).toBe(4 << 20);
    await until(() => jobs.byId(job.id)?.running === false && jobs.byId(job.id)?.lastRun?.status === 'succeeded', 'job.updated after the run');
    // the history store reloads itself when a backup ends
    await until(() => history.entries.length === 1, 'the history entry');
    expect(history.entries[0]?.status).toBe('succeeded');

    await points.load(repo.id);
    const list = points.byRepository[repo.id] ?? [];
    expect(list.map((p) => [p.jobName, p.kind, p.totalBytes])).toEqual([['Image', 'full', 4 << 20]]);
    expect(points.find(repo.id, list[0]?.id)?.id).toBe(list[0]?.id);
  });

  it('keeps the AppError of a wrong passphrase for the view, and words it', async () => {
    fx = await openService();
    const repos = useRepositoriesStore();
    const repo = await repos.init('Secret', path.join(fx.root, 'repo'), 'right passphrase');
    expect(repo.encrypted).toBe(true);
    await repos.lock(repo.id);
    expect(repos.byId(repo.id)?.unlocked).toBe(false);
    const wrong = await repos.unlock(repo.id, 'wrong passphrase').catch((e: unknown) => e);
    expect(describeError(wrong)).toMatchObject({ code: 'WRONG_PASSPHRASE', title: 'Wrong passphrase' });
    expect(repos.saving).toBe(false);
    expect((await repos.unlock(repo.id, 'right passphrase')).unlocked).toBe(true);
  });

  it('passes remember through: the repository is marked remembered until it is locked', async () => {
    fx = await openService();
    const repos = useRepositoriesStore();
    const repo = await repos.init('Secret', path.join(fx.root, 'repo'), 'right passphrase', true);
    expect(repos.byId(repo.id)).toMatchObject({ unlocked: true, remembered: true });
    await repos.lock(repo.id);
    expect(repos.byId(repo.id)).toMatchObject({ unlocked: false, remembered: false });
    await repos.unlock(repo.id, 'right passphrase', true);
    expect(repos.byId(repo.id)).toMatchObject({ unlocked: true, remembered: true });
    await repos.unlock(repo.id, 'right passphrase');
    expect(repos.byId(repo.id)).toMatchObject({ unlocked: true, remembered: false });
  });

  it('inspects a target, insists on the typed confirmation, and restores byte for byte', async () => {
    fx = await openService();
    const repos = useRepositoriesStore();
    const jobs = useJobsStore();
    const tasks = useTasksStore();
    const points = usePointsStore();
    const restore = useRestoreStore();
    const repo = await repos.init('Local', path.join(fx.root, 'repo'));
    const job = await jobs.create(jobInput(fx.image, repo.id));
    expect((await tasks.finished(await jobs.run(job.id))).state).toBe('succeeded');
    await points.load(repo.id);
    const point = points.byRepository[repo.id]?.[0];
    if (!point) throw new Error('no point');

    const target = path.join(fx.root, 'restored.img');
    expect(await restore.inspectTarget(target)).toEqual({ target, kind: 'new-file', sizeBytes: 0, mounted: false });
    const missing = await restore.inspectTarget('/nonexistent-dir/x.img').catch((e: unknown) => e);
    expect(describeError(missing).code).toBe('NOT_FOUND');

    const params = { repositoryId: repo.id, pointId: point.id, source: fx.image, target, skipIdentical: false };
    const refused = await restore.start({ ...params, confirm: 'yes' }).catch((e: unknown) => e);
    expect(describeError(refused)).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(restore.starting).toBe(false);

    const done = await tasks.finished(await restore.start({ ...params, confirm: target }));
    expect(done.state).toBe('succeeded');
    expect(readFileSync(target).equals(readFileSync(fx.image))).toBe(true);
  });

  it('lists devices as disks with their partitions', async () => {
    fx = await openService();
    const devices = useDevicesStore();
    const loading = devices.load();
    expect(devices.loading).toBe(true);
    await loading;
    expect(devices.loading).toBe(false);
    expect(devices.error).toBeNull();
    const names = devices.tree.flatMap((n) => [n.disk.name, ...n.partitions.map((p) => p.name)]);
    expect(names.length).toBe(devices.devices.length);
    for (const n of devices.tree) for (const p of n.partitions) expect(p.parent).toBe(n.disk.name);
  });

  it('reads the log and follows new entries', async () => {
    fx = await openService();
    const logs = useLogsStore();
    const repos = useRepositoriesStore();
    await logs.load(100);
    const before = logs.entries.length;
    await repos.init('Logged', path.join(fx.root, 'repo'));
    await until(() => logs.entries.length > before, 'a live log entry');
    expect(logs.entries[0]?.message).toMatch(/Logged/);
    logs.setFollow(false);
    await repos.add('Again', path.join(fx.root, 'repo')).catch(() => undefined);
    const now = logs.entries.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(logs.entries.length).toBe(now);
  });

  it('mounts a point, browses, searches and copies, then unmounts (a directory in place of the mounted file system)', async () => {
    // The host cannot serve a point over NBD; the service's mount seam gets
    // a plain directory with files, and the real file browser works on it.
    let tree = '';
    const dirBackend: MountBackend = {
      async mount(_repo, o) {
        tree = path.join(o.baseDir, 'p1');
        mkdirSync(path.join(tree, 'docs'), { recursive: true });
        writeFileSync(path.join(tree, 'docs', 'hello.txt'), 'hello\n');
        writeFileSync(path.join(tree, 'readme.md'), '# readme\n');
        return { device: '/dev/loop99', filesystems: [{ device: '/dev/loop99p1', fsType: 'ext4', mountpoint: tree }], finished: new Promise(() => undefined), unmount: async () => undefined };
      },
      release: async () => undefined,
    };
    fx = await openService({ mountBackend: dirBackend });
    const repos = useRepositoriesStore();
    const jobs = useJobsStore();
    const tasks = useTasksStore();
    const points = usePointsStore();
    const files = useFilesStore();
    const repo = await repos.init('Local', path.join(fx.root, 'repo'));
    const job = await jobs.create(jobInput(fx.image, repo.id));
    await tasks.finished(await jobs.run(job.id));
    await points.load(repo.id);
    const point = points.byRepository[repo.id]![0]!;

    const mount = await files.mount(repo.id, point.id, fx.image);
    expect(files.mounts.map((m) => m.id)).toEqual([mount.id]);
    await files.open(mount.id, tree);
    expect(files.entries.map((e) => [e.name, e.type])).toEqual([
      ['docs', 'dir'],
      ['readme.md', 'file'],
    ]);
    await files.search(mount.id, 'HELLO');
    expect([files.searchQuery, files.entries.map((e) => e.name)]).toEqual(['HELLO', ['hello.txt']]);
    await files.open(mount.id, '/etc');
    expect(describeError(files.error).code).toBe('INVALID_ARGUMENT'); // outside the mounted point

    const dest = path.join(fx.root, 'out');
    mkdirSync(dest);
    const copied = await tasks.finished(await files.copy(mount.id, [path.join(tree, 'docs', 'hello.txt')], dest));
    expect(copied.state).toBe('succeeded');
    expect(readFileSync(path.join(dest, 'hello.txt'), 'utf8')).toBe('hello\n');

    await files.unmount(mount.id);
    expect([files.mounts, files.cwd, files.entries]).toEqual([[], null, []]);
  });
});
