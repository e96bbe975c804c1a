import { describe, expect, it } from 'vitest';

import type { HistoryEntry } from '../../../../electron/common/contract';
import { estimateRun } from '../../../../electron/core/history/estimate';

const run = (over: Partial<HistoryEntry>): HistoryEntry => ({
  id: 'h',
  jobId: 'j',
  jobName: 'j',
  startedAt: '2026-03-02T10:00:00.000Z',
  finishedAt: '2026-03-02T10:01:00.000Z',
  status: 'succeeded',
  bytesRead: 0,
  bytesWritten: 0,
  durationMs: 1,
  bytesPerSecond: 0,
  warnings: [],
  ...over,
});

describe('estimate before a backup', () => {
  it('a first run reads everything and may add up to the sources’ size', () => {
    expect(estimateRun({ sizes: [100, 50], runs: [], freeBytes: 1000 })).toEqual({ sizeBytes: 150, readBytes: 150, newBytes: 150, basis: 'first-run', freeBytes: 1000, fits: true });
    expect(estimateRun({ sizes: [1000], runs: [], freeBytes: 1000 }).fits).toBe(false);
  });

  it('later runs: what recent runs stored, a cancelled run’s packs included, against the free space', () => {
    const e = estimateRun({
      sizes: [10_000],
      runs: [run({ bytesRead: 800, bytesWritten: 300 }), run({ status: 'cancelled', storedBytes: 900 }), run({ bytesRead: 10_000, bytesWritten: 5000 })],
      freeBytes: 6000,
    });
    expect(e).toMatchObject({ readBytes: 800, newBytes: 5000, basis: 'recent-runs', fits: false });
    expect(estimateRun({ sizes: [10_000], runs: [run({ bytesRead: 800, bytesWritten: 300 })], freeBytes: 6000 })).toMatchObject({ newBytes: 300, fits: true });
  });

  it('says it fits when the free space is unknown (an unreachable destination fails on its own)', () => {
    expect(estimateRun({ sizes: [10], runs: [] }).fits).toBe(true);
  });
});
