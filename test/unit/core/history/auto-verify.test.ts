// Automatic verification after backups: when it is due, and a service that
// starts it after every second run, reading back the point just made.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { verificationDue } from '../../../../electron/core/history/auto-verify';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';

let s: ServiceClient | undefined;
afterEach(() => s?.close());

describe('automatic verification', () => {
  it('is due after every N-th run, or a week after the last check', () => {
    const now = new Date('2026-03-09T10:00:00Z');
    expect(verificationDue({ every: { kind: 'runs', runs: 3 }, data: 'structure' }, { runsSince: 2 }, now)).toBe(false);
    expect(verificationDue({ every: { kind: 'runs', runs: 3 }, data: 'structure' }, { runsSince: 3 }, now)).toBe(true);
    expect(verificationDue({ every: { kind: 'weekly' }, data: 'all' }, { runsSince: 1 }, now)).toBe(true);
    expect(verificationDue({ every: { kind: 'weekly' }, data: 'all' }, { runsSince: 5, lastAt: '2026-03-03T10:00:00Z' }, now)).toBe(false);
    expect(verificationDue({ every: { kind: 'weekly' }, data: 'all' }, { runsSince: 5, lastAt: '2026-03-02T10:00:00Z' }, now)).toBe(true);
  });

  it('runs after every second backup and reads back the point just made', async () => {
    s = await openServiceClient();
    const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
    const image = path.join(s.dirs.root, 'a.img');
    writeFileSync(image, randomBytes(2 << 20));
    const job = await s.client.call('jobs.create', {
      job: {
        name: 'a',
        sources: [image],
        repositoryId: repo.id,
        schedule: { kind: 'manual' },
        retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
        compressionLevel: 1,
        enabled: true,
        verify: { every: { kind: 'runs', runs: 2 }, data: 'newest' },
      },
    });
    const run = async () => expect((await s!.waitTask((await s!.client.call('jobs.run', { id: job.id })).taskId)).state).toBe('succeeded');
    const verifies = async () => (await s!.client.call('tasks.list', {})).filter((t) => t.kind === 'verify');
    await run();
    expect(await verifies()).toEqual([]);
    await run();
    const [v] = await verifies();
    expect(v).toBeDefined();
    expect((await s.waitTask(v!.id)).state).toBe('succeeded');
    const points = await s.client.call('points.list', { repositoryId: repo.id });
    const newest = points.at(-1)!;
    expect(newest.verified).toMatchObject({ ok: true, data: true });
    expect(points[0]!.verified).toBeUndefined();
    await run();
    expect(await verifies()).toHaveLength(1);
  });
});
