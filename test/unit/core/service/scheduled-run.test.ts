// A scheduled job through the whole service: the clock is injected (no real
// minute is waited), the run it starts is real (engine, repository, image
// file), and the point and history entry it leaves are checked.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { Job } from '../../../../electron/common/contract';
import { FakeClock } from '../../../support/fake-clock';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

let s: ServiceClient | undefined;
afterEach(() => s?.close());

describe('scheduled runs', () => {
  it('runs a job scheduled a minute ahead and produces a restore point; nextRun and events follow', async () => {
    const clock = new FakeClock('2025-06-02T10:00:10Z');
    s = await openServiceClient({ clock, schedule: true, timezone: 'UTC' });
    const scheduler = s.backend.service?.scheduler;
    if (!scheduler) throw new Error('no service');
    const img = path.join(s.dirs.root, 'a.img');
    writeFileSync(img, randomBytes(2 << 20));
    const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
    const updates: Job[] = [];
    await s.client.call('events.subscribe', { names: ['job.updated'] });
    s.client.on('job.updated', (j) => updates.push(j));
    const job = await s.client.call('jobs.create', {
      job: {
        name: 'every hour at :01',
        sources: [img],
        repositoryId: repo.id,
        schedule: { kind: 'cron', expression: '1 * * * *' },
        retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
        compressionLevel: 3,
        enabled: true,
      },
    });
    expect(job.nextRun).toBe('2025-06-02T10:01:00.000Z');
    expect(await s.client.call('points.list', { repositoryId: repo.id })).toEqual([]);

    await clock.advance(50_000, () => scheduler.idle());
    const running = (await s.client.call('tasks.list', {})).filter((t) => t.jobId === job.id);
    expect(running).toHaveLength(1);
    const done = await s.waitTask(running[0]?.id ?? '');
    expect(done.state).toBe('succeeded');
    const points = await s.client.call('points.list', { repositoryId: repo.id, jobId: job.id });
    expect(points.map((p) => p.id)).toEqual([done.result?.['pointId']]);
    const [h] = await s.client.call('history.list', { jobId: job.id, limit: 5 });
    expect(h).toMatchObject({ status: 'succeeded', restorePointId: points[0]?.id, bytesRead: 2 << 20 });
    const after = (await s.client.call('jobs.list', {}))[0];
    expect(after).toMatchObject({ nextRun: '2025-06-02T11:01:00.000Z', running: false, lastRun: { status: 'succeeded' } });
    expect(updates.some((u) => u.running)).toBe(true);
    expect(updates.at(-1)?.running).toBe(false);
  });
});
