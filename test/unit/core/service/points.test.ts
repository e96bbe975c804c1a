// Verify and prune as tasks of the service, with the real engine: reports
// arrive as the task's result; prune without rules takes the one job's
// retention and refuses to guess when several jobs share the repository.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { JobInput, Repository } from '../../../../electron/common/contract';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

let s: ServiceClient;
let repo: Repository;
let job: JobInput;

beforeEach(async () => {
  s = await openServiceClient();
  repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
  const img = path.join(s.dirs.root, 'a.img');
  writeFileSync(img, randomBytes(1 << 20));
  job = {
    name: 'j',
    sources: [img],
    repositoryId: repo.id,
    schedule: { kind: 'manual' },
    retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 3,
    enabled: true,
  };
});
afterEach(() => s.close());

async function backupTwice(jobId: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const t = await s.waitTask((await s.client.call('jobs.run', { id: jobId })).taskId);
    expect(t.error).toBeUndefined();
  }
}

describe('points', () => {
  it('verifies a repository, structure and data, as a task with the report as result', async () => {
    const { id } = await s.client.call('jobs.create', { job: { ...job, retention: { ...job.retention, keepLast: 5 } } });
    await backupTwice(id);
    const t = await s.waitTask((await s.client.call('points.verify', { repositoryId: repo.id, data: true })).taskId);
    expect(t.state).toBe('succeeded');
    expect(t.result).toMatchObject({ ok: true, checkedPoints: 2, damagedPoints: [], problems: [] });
  });

  it('remembers the last verification of each point for the points list', async () => {
    const { id } = await s.client.call('jobs.create', { job: { ...job, retention: { ...job.retention, keepLast: 5 } } });
    await backupTwice(id);
    const [first, second] = await s.client.call('points.list', { repositoryId: repo.id });
    expect(first?.verified).toBeUndefined();
    expect(second?.verified).toBeUndefined();

    await s.waitTask((await s.client.call('points.verify', { repositoryId: repo.id, pointId: second?.id ?? '', data: false })).taskId);
    let points = await s.client.call('points.list', { repositoryId: repo.id });
    expect(points.find((p) => p.id === first?.id)?.verified).toBeUndefined();
    expect(points.find((p) => p.id === second?.id)?.verified).toMatchObject({ ok: true, data: false });

    await s.waitTask((await s.client.call('points.verify', { repositoryId: repo.id, data: true })).taskId);
    points = await s.client.call('points.list', { repositoryId: repo.id });
    for (const p of points) expect(p.verified).toMatchObject({ ok: true, data: true });
  });

  it('prunes with the job retention when one job uses the repository, previews with dryRun', async () => {
    const { id } = await s.client.call('jobs.create', { job: { ...job, retention: { ...job.retention, keepLast: 5 } } });
    await backupTwice(id);
    await s.client.call('jobs.update', { id, job });
    const preview = await s.waitTask((await s.client.call('points.prune', { repositoryId: repo.id, dryRun: true })).taskId);
    expect((preview.result?.['removedPoints'] as string[]).length).toBe(1);
    expect(await s.client.call('points.list', { repositoryId: repo.id })).toHaveLength(2);
    const real = await s.waitTask((await s.client.call('points.prune', { repositoryId: repo.id, dryRun: false })).taskId);
    expect(real.state).toBe('succeeded');
    expect(await s.client.call('points.list', { repositoryId: repo.id })).toHaveLength(1);

    await s.client.call('jobs.create', { job: { ...job, name: 'second' } });
    await expect(s.client.call('points.prune', { repositoryId: repo.id, dryRun: true })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'say which retention to apply: 2 jobs use repository r',
    });
  });

  it('an encrypted repository: locked after lock, wrong passphrase refused, scheduled use needs the unlock', async () => {
    await s.client.call('repos.remove', { id: repo.id });
    repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'secret'), passphrase: 'correct horse' });
    const { id } = await s.client.call('jobs.create', { job: { ...job, repositoryId: repo.id } });
    expect((await s.client.call('repos.lock', { id: repo.id })).unlocked).toBe(false);
    const t = await s.waitTask((await s.client.call('jobs.run', { id })).taskId);
    expect(t.error).toMatchObject({ code: 'PASSPHRASE_REQUIRED', message: 'repository r is encrypted and locked: unlock it first' });
    await expect(s.client.call('repos.unlock', { id: repo.id, passphrase: 'wrong' })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    expect((await s.client.call('repos.unlock', { id: repo.id, passphrase: 'correct horse' })).unlocked).toBe(true);
    expect((await s.waitTask((await s.client.call('jobs.run', { id })).taskId)).state).toBe('succeeded');
    await expect(s.client.call('repos.remove', { id: repo.id })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('registers an existing repository: encrypted ones stay locked until unlocked; duplicates refused', async () => {
    await s.client.call('repos.remove', { id: repo.id });
    repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'secret'), passphrase: 'correct horse' });
    await expect(s.client.call('repos.add', { name: 'again', path: repo.path })).rejects.toMatchObject({ code: 'REPO_EXISTS' });
    await s.client.call('repos.remove', { id: repo.id });
    const added = await s.client.call('repos.add', { name: 'again', path: repo.path });
    expect(added).toMatchObject({ encrypted: true, unlocked: false, online: true });
    await expect(s.client.call('repos.add', { name: 'x', path: path.join(s.dirs.root, 'nothing') })).rejects.toMatchObject({ code: 'REPO_NOT_FOUND' });
  });
});
