// The job runner's own check of the change tracker's generation: after a
// reset it must not offer the old tracker's numbers as changes, and it says
// in the log why the run reads the whole device. (The engine refuses such
// changes too, tracker-reset.test.ts: this covers the runner's half, which
// the engine's check would otherwise hide.) Real engine and loop device;
// the snapshot driver is mocked (no kernel module on the host).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, truncateSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, expect, it } from 'vitest';

import type { JobInput } from '../../../../electron/common/contract';
import { MockSnapshotDriver } from '../../../support/mock-snapshot-driver';
import { openServiceClient } from '../../../support/service-client';
import { tempDir } from '../../../support/temp-dirs';

const MiB = 1 << 20;
const work = tempDir('snapkeep-reset-log-');
const loops: string[] = [];
afterEach(() => {
  for (const l of loops.splice(0)) execFileSync('losetup', ['-d', l]);
  work.remove();
});

it('after a tracker reset the runner logs that it reads everything, and only then (snapshot driver mocked)', async () => {
  const img = path.join(work.dir, 'a.img');
  closeSync(openSync(img, 'w'));
  truncateSync(img, 4 * MiB);
  const fd = openSync(img, 'r+');
  writeSync(fd, randomBytes(4 * MiB), 0, 4 * MiB, 0);
  closeSync(fd);
  const dev = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  loops.push(dev);
  const driver = new MockSnapshotDriver({ [dev]: 4 * MiB });
  const s = await openServiceClient({ driver });
  try {
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
    const run = async () => {
      const t = await s.waitTask((await s.client.call('jobs.run', { id })).taskId);
      expect(t.error).toBeUndefined();
    };
    const resetSaid = async () =>
      (await s.client.call('logs.list', { limit: 5000 })).filter((l) => l.message.includes(`${dev}: the change tracker was reset since the last backup`)).length;

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
