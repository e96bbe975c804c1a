// Pins and notes on restore points, through the service's contract: shown
// in the list, kept across a restart of the service, refused for points
// that do not exist.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { LocalBackend } from '../../../../electron/core/api/local-backend';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

let s: ServiceClient;
afterEach(() => s?.close());

describe('point notes', () => {
  it('pins a point and writes a note on it; both stay after a restart', async () => {
    s = await openServiceClient();
    const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
    const image = path.join(s.dirs.root, 'a.img');
    writeFileSync(image, randomBytes(1 << 20));
    const job = await s.client.call('jobs.create', {
      job: { name: 'a', sources: [image], repositoryId: repo.id, schedule: { kind: 'manual' }, retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 1, enabled: true },
    });
    await s.waitTask((await s.client.call('jobs.run', { id: job.id })).taskId);
    const [p] = await s.client.call('points.list', { repositoryId: repo.id });
    expect(p?.pinned).toBeUndefined();

    const pinned = await s.client.call('points.annotate', { repositoryId: repo.id, pointId: p!.id, pinned: true, note: '  before the upgrade  ' });
    expect(pinned).toMatchObject({ id: p!.id, pinned: true, note: 'before the upgrade' });
    await expect(s.client.call('points.annotate', { repositoryId: repo.id, pointId: 'p-nope', pinned: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // the same state directory, a new service
    await s.backend.close();
    const again = await LocalBackend.open({ dirs: s.dirs.dirs });
    try {
      const svc = again.service!;
      const [listed] = await svc.listPoints(repo.id);
      expect(listed).toMatchObject({ pinned: true, note: 'before the upgrade' });
      const cleared = await svc.annotatePoint(repo.id, p!.id, { pinned: false, note: '' });
      expect(cleared.pinned).toBeUndefined();
      expect(cleared.note).toBeUndefined();
    } finally {
      await again.close();
    }
    // the first backend is closed already: only its folders are left to remove
    s.close = async () => s.dirs.remove();
  });

  it('a pinned point is kept by the job retention and by "Clean up now", and does not count toward keep-last', async () => {
    s = await openServiceClient();
    const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
    const image = path.join(s.dirs.root, 'a.img');
    const keepOne = { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
    writeFileSync(image, randomBytes(1 << 20));
    const job = await s.client.call('jobs.create', {
      job: { name: 'a', sources: [image], repositoryId: repo.id, schedule: { kind: 'manual' }, retention: keepOne, compressionLevel: 1, enabled: true },
    });
    const run = async () => {
      writeFileSync(image, randomBytes(1 << 20));
      const t = await s.waitTask((await s.client.call('jobs.run', { id: job.id })).taskId);
      expect(t.state).toBe('succeeded');
    };
    await run();
    const [first] = await s.client.call('points.list', { repositoryId: repo.id });
    await s.client.call('points.annotate', { repositoryId: repo.id, pointId: first!.id, pinned: true });
    // Two more runs, each followed by the job's retention (keep the last one).
    await run();
    await run();
    const ids = (await s.client.call('points.list', { repositoryId: repo.id })).map((p) => p.id);
    expect(ids).toHaveLength(2);
    expect(ids).toContain(first!.id);
    // "Clean up now" with the same rules keeps it too.
    const clean = await s.waitTask((await s.client.call('points.prune', { repositoryId: repo.id, retention: keepOne, dryRun: false })).taskId);
    expect(clean.state).toBe('succeeded');
    expect((await s.client.call('points.list', { repositoryId: repo.id })).map((p) => p.id)).toEqual(ids);
    // Unpinned, it goes.
    await s.client.call('points.annotate', { repositoryId: repo.id, pointId: first!.id, pinned: false });
    await s.waitTask((await s.client.call('points.prune', { repositoryId: repo.id, retention: keepOne, dryRun: false })).taskId);
    expect((await s.client.call('points.list', { repositoryId: repo.id })).map((p) => p.id)).toEqual(ids.filter((id) => id !== first!.id));
  });
});
