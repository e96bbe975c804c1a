// Backup when the destination is plugged in: a real service with a job
// whose repository goes away (the USB disk unplugged: its folder moved
// away) and comes back with a udev-style event in the watched folder. The
// run starts by itself, once; plugging in again right after a successful
// run does not start another.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { openServiceClient, type ServiceClient } from '../../../support/service-client';

let s: ServiceClient | undefined;
const udev = path.join(tmpdir(), `sk-udev-${randomBytes(4).toString('hex')}`);
afterEach(async () => {
  await s?.close();
  rmSync(udev, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('backup when the destination is plugged in', () => {
  it('starts the job when its repository becomes reachable, and not again right after', async () => {
    mkdirSync(udev);
    s = await openServiceClient({ schedule: true, plugInWatchDir: udev, plugInIntervalMs: 100 });
    const repoPath = path.join(s.dirs.root, 'usb', 'repo');
    mkdirSync(path.dirname(repoPath));
    const repo = await s.client.call('repos.init', { name: 'usb', path: repoPath });
    const image = path.join(s.dirs.root, 'a.img');
    writeFileSync(image, randomBytes(1 << 20));
    await s.client.call('jobs.create', {
      job: {
        name: 'to usb',
        sources: [image],
        repositoryId: repo.id,
        schedule: { kind: 'manual' },
        retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
        compressionLevel: 1,
        enabled: true,
        runOnConnect: true,
      },
    });
    const backups = async () => (await s!.client.call('tasks.list', {})).filter((t) => t.kind === 'backup');
    await sleep(400);
    expect(await backups()).toEqual([]); // reachable from the start: no run

    renameSync(repoPath, `${repoPath}.unplugged`);
    await sleep(400);
    renameSync(`${repoPath}.unplugged`, repoPath);
    writeFileSync(path.join(udev, 'ABCD-1234'), ''); // udev adds the disk's link
    for (let i = 0; i < 100 && (await backups()).length === 0; i++) await sleep(100);
    const [run] = await backups();
    expect(run).toBeDefined();
    expect((await s.waitTask(run!.id)).state).toBe('succeeded');

    renameSync(repoPath, `${repoPath}.unplugged`);
    await sleep(400);
    renameSync(`${repoPath}.unplugged`, repoPath);
    writeFileSync(path.join(udev, 'ABCD-5678'), '');
    await sleep(1000);
    expect(await backups()).toHaveLength(1);
    const log = await s.client.call('logs.list', { limit: 50, source: 'scheduler' });
    expect(log.map((l) => l.message).join('\n')).toMatch(/plugged in; it ran \d+ min ago, not again yet/);
  });
});
