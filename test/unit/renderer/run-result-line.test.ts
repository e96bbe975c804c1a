// @vitest-environment happy-dom
// One finished run as the history and the dashboard show it: the level,
// the reason or the problems in words, and what it read and stored (a
// failed or cancelled run's packs, not "0 B").
import { mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import { describe, expect, it } from 'vitest';

import type { HistoryEntry } from '../../../electron/common/contract';
import RunResultLine from '../../../renderer/src/components/RunResultLine.vue';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never] };

function entry(over: Partial<HistoryEntry>): HistoryEntry {
  return {
    id: 'h1',
    jobId: 'j1',
    jobName: 'Laptop',
    startedAt: '2026-03-02T10:00:00.000Z',
    finishedAt: '2026-03-02T10:01:05.000Z',
    status: 'succeeded',
    bytesRead: 64 * 2 ** 20,
    bytesWritten: 3 * 2 ** 20,
    durationMs: 65_000,
    bytesPerSecond: 0,
    warnings: [],
    ...over,
  };
}

describe('RunResultLine', () => {
  it('a run that succeeded: level and figures', () => {
    const w = mount(RunResultLine, { props: { entry: entry({}) }, global });
    expect(w.get('[data-testid="run-status"]').text()).toBe('Succeeded');
    expect(w.get('[data-testid="history-stored"]').text()).toBe('Read 64.0 MiB, stored 3.00 MiB, 1 min 5 s');
  });

  it('a run with a warning: "Succeeded with warnings" and the step in words', () => {
    const w = mount(RunResultLine, {
      props: { entry: entry({ warnings: ['retention: locked'], problems: [{ step: 'retention', error: { code: 'REPO_LOCKED', message: 'locked by pid 42' } }] }) },
      global,
    });
    expect(w.get('[data-testid="run-status"]').text()).toBe('Succeeded with warnings');
    // said once: the plain text of the same problem is not repeated
    expect(w.findAll('[data-testid="history-problem"]')).toHaveLength(1);
    expect(w.get('[data-testid="history-problem"]').text()).toContain('Old restore points were not removed. The repository is busy');
  });

  it('a failed run: the reason in words and the space its packs take until a clean-up', () => {
    const w = mount(RunResultLine, {
      props: { entry: entry({ status: 'failed', bytesRead: 0, bytesWritten: 0, storedBytes: 80 * 2 ** 20, error: { code: 'DISK_FULL', message: 'ENOSPC' } }) },
      global,
    });
    expect(w.get('[data-testid="run-status"]').text()).toBe('Failed');
    expect(w.get('[data-testid="history-reason"]').text()).toContain('The destination is full.');
    expect(w.get('[data-testid="history-stored"]').text()).toBe('Left 80.0 MiB in the repository until the next clean-up, 1 min 5 s');
  });

  it('says why a run read a whole source; the compact line only when it is a surprise', () => {
    const reads: HistoryEntry['reads'] = [
      { source: '/dev/sda2', mode: 'full', reason: 'tracker-restarted', bytes: 64 * 2 ** 20, unusedBytes: 192 * 2 ** 20 },
      { source: '/srv/vm.img', mode: 'full', reason: 'not-tracked', bytes: 8 * 2 ** 20 },
      { source: '/dev/sda1', mode: 'changed', bytes: 2 ** 20 },
    ];
    const full = mount(RunResultLine, { props: { entry: entry({ reads }) }, global });
    const lines = full.findAll('[data-testid="history-full-read"]');
    expect(lines.map((l) => l.attributes('data-reason'))).toEqual(['tracker-restarted', 'not-tracked']);
    expect(lines[0]?.text()).toContain('/dev/sda2: read in full: the change tracker started over');
    // Used blocks only: what was read and what was left out as free space.
    expect(lines[0]?.text()).toContain('used blocks only: 64.0 MiB read, 192 MiB of free space skipped (restored as zeros)');
    expect(lines[1]?.text()).not.toContain('used blocks only');
    const compact = mount(RunResultLine, { props: { entry: entry({ reads }), compact: true }, global });
    expect(compact.findAll('[data-testid="history-full-read"]').map((l) => l.attributes('data-reason'))).toEqual(['tracker-restarted']);
  });
});
