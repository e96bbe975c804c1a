// Search by file name across restore points, and compare two points: each
// point opened in turn through the same path as File restore (on this host:
// without the nbd module), real engine and service.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { PointComparison, PointSearchResult, RestorePoint } from '../../../../electron/common/contract';
import { fileRestoreBackend } from '../../../../electron/core/files/backend';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';
import { makeTree, OLD } from './images';

let dir: string;
let s: ServiceClient;
let repoId: string;
let image: string;
let points: RestorePoint[];

function mkfs(tree: string): void {
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'photos', '-d', tree, image, '16M'], { stdio: 'pipe' });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-across-'));
  const tree = makeTree(dir);
  image = path.join(dir, 'photos.img');
  mkfs(tree);
  s = await openServiceClient({ mountBackend: fileRestoreBackend({ nbd: false, prefer: 'user-space' }) });
  const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
  repoId = repo.id;
  const job = await s.client.call('jobs.create', {
    job: { name: 'photos', sources: [image], repositoryId: repo.id, schedule: { kind: 'manual' }, retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 1, enabled: true },
  });
  const backup = async () => expect((await s.waitTask((await s.client.call('jobs.run', { id: job.id })).taskId)).state).toBe('succeeded');
  await backup();
  // Between the points: one file added, one removed, one changed (same size, other time and content).
  writeFileSync(path.join(tree, 'albums/2024/new-beach.txt'), 'new\n');
  unlinkSync(path.join(tree, 'albums/cover.txt'));
  writeFileSync(path.join(tree, 'bin/tool'), '#!/bin/bash\n');
  utimesSync(path.join(tree, 'bin/tool'), new Date(OLD.getTime() + 3600_000), new Date(OLD.getTime() + 3600_000));
  mkfs(tree);
  await backup();
  points = await s.client.call('points.list', { repositoryId: repo.id });
  expect(points).toHaveLength(2);
}, 120_000);
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('across restore points', () => {
  it('finds a file by name in every point that has it, newest first', async () => {
    const { taskId } = await s.client.call('files.searchPoints', { repositoryId: repoId, query: 'beach', limit: 100 });
    const t = await s.waitTask(taskId);
    expect(t.state).toBe('succeeded');
    const r = t.result as unknown as PointSearchResult;
    expect(r.points.map((p) => p.pointId)).toEqual([points[1]!.id, points[0]!.id]);
    expect(r.points[0]!.files.map((f) => `${f.filesystem}:${f.path}`).sort()).toEqual(['disk:/albums/2024/beach.txt', 'disk:/albums/2024/new-beach.txt']);
    expect(r.points[1]!.files.map((f) => `${f.filesystem}:${f.path}`)).toEqual(['disk:/albums/2024/beach.txt']);
    // nothing stays mounted
    expect(await s.client.call('mounts.list', {})).toEqual([]);
  });

  it('says which files were added, removed and changed from one point to the next', async () => {
    const { taskId } = await s.client.call('files.compare', { repositoryId: repoId, basePointId: points[0]!.id, pointId: points[1]!.id, source: image, limit: 100 });
    const t = await s.waitTask(taskId);
    expect(t.state).toBe('succeeded');
    const r = t.result as unknown as PointComparison;
    expect(r.added.map((f) => f.path)).toEqual(['/albums/2024/new-beach.txt']);
    expect(r.removed.map((f) => f.path)).toEqual(['/albums/cover.txt']);
    expect(r.changed.map((f) => f.path)).toEqual(['/bin/tool']);
    expect(r.changed[0]!.before.sizeBytes).toBe(10);
    expect(r.changed[0]!.sizeBytes).toBe(12);
    expect(r.counts).toMatchObject({ added: 1, removed: 1, changed: 1 });
    expect(r.counts.unchanged).toBeGreaterThan(3);
  });
});
