// What the dashboard leads with: from jobs, repositories, history and the
// module state as the service reports them.
import { describe, expect, it } from 'vitest';

import type { Checkpoint, HistoryEntry, Job, Repository } from '../../../electron/common/contract';
import { attentionItems } from '../../../renderer/src/util/attention';

const now = new Date(2026, 2, 2, 12, 0);
const iso = (h: number, d = 2) => new Date(2026, 2, d, h, 0).toISOString();

function job(over: Partial<Job>): Job {
  return {
    id: 'j1',
    name: 'Laptop',
    sources: ['/srv/laptop.img'],
    repositoryId: 'r1',
    schedule: { kind: 'daily', at: '02:00' },
    retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 3,
    enabled: true,
    createdAt: iso(1, 1),
    running: false,
    nextRun: iso(2, 3),
    ...over,
  };
}
function repo(over: Partial<Repository>): Repository {
  return { id: 'r1', name: 'Shelf', path: '/media/usb/shelf', encrypted: false, unlocked: true, remembered: false, online: true, storedBytes: 10 * 2 ** 30, freeBytes: 100 * 2 ** 30, ...over };
}
function entry(over: Partial<HistoryEntry>): HistoryEntry {
  return { id: 'h1', jobId: 'j1', jobName: 'Laptop', startedAt: iso(2), finishedAt: iso(3), status: 'succeeded', bytesRead: 0, bytesWritten: 0, durationMs: 1000, bytesPerSecond: 0, warnings: [], ...over };
}

describe('attention', () => {
  it('is empty when every backup is fine', () => {
    expect(attentionItems({ jobs: [job({ lastRun: { at: iso(3), status: 'succeeded', result: 'succeeded' } })], repositories: [repo({})], history: [], now })).toEqual([]);
  });

  it('puts a failed run first, with its cause in words, before the module notice', () => {
    const items = attentionItems({
      jobs: [
        job({ id: 'j2', name: 'Disk', sources: ['/dev/sda'] }),
        job({ lastRun: { at: iso(3), status: 'failed', result: 'failed', error: { code: 'DEVICE_NOT_FOUND', message: 'source /srv/laptop.img does not exist', details: { source: '/srv/laptop.img' } } } }),
      ],
      repositories: [repo({})],
      history: [],
      module: { loaded: false, runningKernel: '6.1', builtFor: [], missingForKernels: [], secureBoot: 'unknown' },
      now,
    });
    expect(items.map((i) => i.kind)).toEqual(['failed', 'module']);
    expect(items[0]!.title).toBe('Backup “Laptop” failed today 03:00: The file was not found');
    expect(items[1]!.message).toContain('“Disk”');
  });

  it('warns about a locked repository before its next scheduled run, not about one only run by hand', () => {
    const locked = repo({ id: 'r2', name: 'Vault', encrypted: true, unlocked: false });
    const items = attentionItems({ jobs: [job({ repositoryId: 'r2' }), job({ id: 'j3', name: 'Manual', repositoryId: 'r2', schedule: { kind: 'manual' } })], repositories: [locked], history: [], now });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ kind: 'locked', title: 'Vault is locked', repositoryId: 'r2' });
    expect(items[0]!.message).toContain('“Laptop” (tomorrow 02:00)');
    const manualOnly = attentionItems({ jobs: [job({ repositoryId: 'r2', schedule: { kind: 'manual' } })], repositories: [locked], history: [], now });
    expect(manualOnly).toEqual([]);
  });

  it('says when the next run may not fit, from what recent runs stored (failed and cancelled ones included)', () => {
    const items = attentionItems({
      jobs: [job({})],
      repositories: [repo({ freeBytes: 3 * 2 ** 30 })],
      history: [entry({ storedBytes: 4 * 2 ** 30, status: 'cancelled' }), entry({ id: 'h2', bytesWritten: 1 << 30 })],
      now,
    });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ kind: 'space', severity: 'error' });
    expect(items[0]!.message).toBe('It has 3.00 GiB free, and a recent backup added 4.00 GiB: the next one may not fit.');
  });

  it('words a run that succeeded with warnings by its step', () => {
    const items = attentionItems({
      jobs: [job({ lastRun: { at: iso(3), status: 'succeeded', result: 'warnings', warnings: ['post-script: /srv/sync.sh exited with 3'] } })],
      repositories: [repo({})],
      history: [],
      now,
    });
    expect(items[0]).toMatchObject({ kind: 'warnings', title: 'Backup “Laptop” succeeded with warnings today 03:00: The script after the backup failed' });
  });
});

describe('checkpoints that need a decision', () => {
  const ck = (over: Partial<Checkpoint>): Checkpoint => ({
    id: '0c5e1b2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d',
    name: 'before upgrade',
    state: 'active',
    devices: [{ device: '/dev/vda2', mountpoints: ['/'] }],
    store: { device: '/dev/vda2', usedBytes: 100 << 20, sizeBytes: 1 << 30 },
    attached: true,
    chunksSaved: 1600,
    rollbackAtNextBoot: false,
    ...over,
  });
  const items = (checkpoints: Checkpoint[]) => attentionItems({ jobs: [], repositories: [], history: [], checkpoints, now });

  it('says nothing of a held checkpoint with room, nor of an ended one', () => {
    expect(items([ck({}), ck({ state: 'committed', attached: false })])).toEqual([]);
  });

  it('warns before the store fills, and names what breaks', () => {
    const [i] = items([ck({ store: { device: '/dev/vda2', usedBytes: 870 << 20, sizeBytes: 1 << 30 } })]);
    expect(i).toMatchObject({ kind: 'checkpoint', severity: 'warn', title: 'Checkpoint “before upgrade” is nearly full' });
    expect(i?.message).toMatch(/^Its store is 85 % full .*can no longer be rolled back/);
  });

  it('an invalid one, one not held, and a rollback done or cut short each get an item with what to do', () => {
    const got = items([
      ck({ name: 'full', state: 'invalid', reason: 'full', attached: false }),
      ck({ name: 'loose', attached: false }),
      ck({ name: 'done', state: 'rolled-back', attached: false }),
      ck({ name: 'cut', state: 'rolling-back', attached: false }),
    ]);
    expect(got.map((i) => [i.severity, i.title])).toEqual([
      ['error', 'Checkpoint “full”: invalid'],
      ['error', 'Checkpoint “loose”: not held now'],
      ['warn', 'This computer was rolled back to checkpoint “done”'],
      ['error', 'Checkpoint “cut”: rollback unfinished'],
    ]);
    expect(got[0]?.message).toMatch(/its store filled up/);
    expect(got[3]?.hint).toBe('Restart the computer to finish the rollback.');
  });
});
