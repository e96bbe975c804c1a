import { describe, expect, it } from 'vitest';

import { DEFAULT_APP_SETTINGS, type AppSettings } from '../../../electron/common/contract/app';
import { NotificationDecider } from '../../../electron/main/notifications';
import { task } from './fixtures';

function decider(level: AppSettings['notifications'] = 'all') {
  const settings = { ...DEFAULT_APP_SETTINGS, notifications: level };
  return new NotificationDecider(() => settings);
}

const done = { finishedAt: '2026-03-02T10:04:12.000Z' };

describe('notification decisions', () => {
  it('announces a finished backup once, with what it did', () => {
    const d = decider();
    expect(d.decide(task())).toBeNull();
    const t = task({ state: 'succeeded', ...done, progress: { phase: 'done', bytesDone: 12_300_000_000, bytesTotal: 1, bytesPerSecond: 0 } });
    expect(d.decide(t)).toEqual({
      taskId: 't1',
      severity: 'success',
      title: 'Backup finished: Laptop disk',
      body: '11.5 GiB processed in 4 min 12 s.',
    });
    expect(d.decide(t)).toBeNull();
  });

  it('words a failure from its error code', () => {
    const n = decider('problems').decide(task({ state: 'failed', ...done, error: { code: 'DISK_FULL', message: 'ENOSPC: /media/usb/repo' } }));
    expect(n?.severity).toBe('error');
    expect(n?.title).toBe('Backup failed: Laptop disk');
    // what happened, why, what to do: the words the window uses
    expect(n?.body).toBe('The destination is full. There is no space left where the data is being written. Free some space, remove old restore points, or choose another destination.');
  });

  it('announces warnings even when only problems are wanted', () => {
    const n = decider('problems').decide(task({ state: 'succeeded', ...done, warnings: ['difference storage ran low on /dev/sda', 'second'] }));
    expect(n).toMatchObject({ severity: 'warning', title: 'Backup succeeded with warnings: Laptop disk', body: 'The snapshot had a problem (and 1 more). The restore point was written, but the snapshot reported trouble while it was read. Give the job more snapshot storage if this happens again (Jobs, Edit, Snapshot storage).' });
    // a warning with its step and error: the step in words, then the cause
    const r = decider('problems').decide(
      task({ state: 'succeeded', ...done, warnings: ['retention: repository locked'], problems: [{ step: 'retention', error: { code: 'REPO_LOCKED', message: 'locked by pid 42' } }] }),
    );
    expect(r?.body).toBe(
      'Old restore points were not removed. The repository is busy: another backup, restore or check is using this repository right now. Wait for it to finish and try again.',
    );
    expect(decider('problems').decide(task({ state: 'succeeded', ...done }))).toBeNull();
  });

  it('stays quiet when off, for cancelled runs, for mounts, and for tasks finished before start', () => {
    expect(decider('off').decide(task({ state: 'failed', ...done }))).toBeNull();
    expect(decider().decide(task({ state: 'cancelled', ...done }))).toBeNull();
    expect(decider().decide(task({ kind: 'mount', state: 'succeeded', ...done }))).toBeNull();
    const d = decider();
    d.seed([task({ id: 'old', state: 'failed', ...done })]);
    expect(d.decide(task({ id: 'old', state: 'failed', ...done }))).toBeNull();
    expect(d.decide(task({ id: 'new', kind: 'restore', state: 'succeeded', ...done }))?.title).toBe('Restore finished: Laptop disk');
  });
});
