import { describe, expect, it } from 'vitest';

import { trayModel, type TrayMenuItem } from '../../../electron/main/tray-model';
import { job, task } from './fixtures';

const now = new Date(2026, 2, 2, 12, 0, 0); // local time, Monday 2 March 2026
const local = (h: number, m: number, dayOffset = 0) => new Date(2026, 2, 2 + dayOffset, h, m).toISOString();
const labels = (items: TrayMenuItem[]) => items.map((i) => (i.kind === 'separator' ? '---' : i.label));

describe('tray model', () => {
  it('shows status, last and next backup, and one "Back up now" for one job', () => {
    const m = trayModel({
      jobs: [job({ lastRun: { at: local(2, 0), status: 'succeeded' }, nextRun: local(2, 0, 1) })],
      tasks: [],
      problem: null,
      now,
    });
    expect(m.status).toBe('idle');
    expect(m.tooltip).toBe('Snapkeep: Backups are up to date');
    expect(labels(m.menu)).toEqual([
      'Backups are up to date',
      'Last backup: today 02:00, succeeded (Laptop disk)',
      'Next backup: tomorrow 02:00 (Laptop disk)',
      '---',
      'Back up now',
      'Open Snapkeep',
      '---',
      'Quit Snapkeep',
    ]);
    expect(m.menu[4]).toEqual({ kind: 'action', label: 'Back up now', enabled: true, action: { type: 'backup-now', jobId: 'j1' } });
  });

  it('shows a running task with its percentage and rate, and disables its job', () => {
    const m = trayModel({
      jobs: [job({ running: true }), job({ id: 'j2', name: 'Server' })],
      tasks: [task({ progress: { phase: 'reading', bytesDone: 420, bytesTotal: 1000, bytesPerSecond: 85_000_000 } })],
      problem: null,
      now,
    });
    expect(m.status).toBe('running');
    expect(m.menu[0]).toEqual({ kind: 'label', label: 'Laptop disk: 42%, 81.1 MiB/s' });
    const sub = m.menu[4];
    expect(sub?.kind === 'submenu' && sub.items).toEqual([
      { kind: 'action', label: 'Laptop disk (running)', enabled: false, action: { type: 'backup-now', jobId: 'j1' } },
      { kind: 'action', label: 'Server', enabled: true, action: { type: 'backup-now', jobId: 'j2' } },
    ]);
  });

  it('puts a failed last run before a module problem, and says when there are no jobs', () => {
    const failed = trayModel({ jobs: [job({ lastRun: { at: local(2, 0), status: 'failed' } })], tasks: [], problem: 'Kernel module not loaded', now });
    expect([failed.status, failed.menu[0]]).toEqual(['error', { kind: 'label', label: 'Last backup of "Laptop disk" failed' }]);
    const problem = trayModel({ jobs: [job()], tasks: [], problem: 'Kernel module not loaded', now });
    expect(problem.status).toBe('attention');
    const empty = trayModel({ jobs: [], tasks: [], problem: null, now });
    expect(labels(trayModel({ jobs: [], tasks: [], problem: null, schedulesInApp: true, now }).menu).at(-1)).toBe('Quit Snapkeep (scheduled backups stop too)');
    expect(labels(empty.menu).slice(0, 5)).toEqual(['No backup jobs yet', 'Last backup: never', 'Next backup: none scheduled', '---', 'Back up now (no jobs yet)']);
  });

  it('picks the newest last run and the soonest next run over all enabled jobs', () => {
    const m = trayModel({
      jobs: [
        job({ id: 'a', name: 'A', lastRun: { at: local(1, 0, -1), status: 'succeeded' }, nextRun: local(3, 0, 1) }),
        job({ id: 'b', name: 'B', lastRun: { at: local(9, 30), status: 'succeeded' }, nextRun: local(13, 0) }),
        job({ id: 'c', name: 'C', enabled: false, nextRun: local(12, 30) }),
      ],
      tasks: [],
      problem: null,
      now,
    });
    expect(labels(m.menu).slice(1, 3)).toEqual(['Last backup: today 09:30, succeeded (B)', 'Next backup: today 13:00 (B)']);
  });
});
