import { describe, expect, it } from 'vitest';

import { formatBytes, formatDuration, formatEta, formatPercent, formatRate, formatTimestamp, formatWhen } from '../../../electron/common/format';

describe('formatting', () => {
  it('writes sizes in IEC units, as the CLI, the kernel and du -h count them', () => {
    expect([0, 1023, 1024, 1536, 12_345_678, 268_435_456, 500_107_862_016, 2 ** 41].map(formatBytes)).toEqual([
      '0 B',
      '1023 B',
      '1.00 KiB',
      '1.50 KiB',
      '11.8 MiB',
      '256 MiB',
      '466 GiB',
      '2.00 TiB',
    ]);
    expect(formatBytes(-1)).toBe('?');
    expect(formatRate(85 * 2 ** 20)).toBe('85.0 MiB/s');
  });

  it('writes durations and time left the way people say them', () => {
    expect([0.4, 45, 60, 252, 3600, 3900].map(formatDuration)).toEqual(['less than a second', '45 s', '1 min', '4 min 12 s', '1 h', '1 h 5 min']);
    expect([undefined, 2, 12, 61, 3599, 7201].map((s) => formatEta(s))).toEqual(['estimating time left', 'almost done', '15 s left', '2 min left', '60 min left', '2 h 1 min left']);
    // Before the task's last phase: never "almost done", and the estimate says it covers this step.
    expect([2, 12, 61].map((s) => formatEta(s, { final: false }))).toEqual(['finishing this step', '15 s left in this step', '2 min left in this step']);
    expect([formatPercent(1, 3), formatPercent(5, 0), formatPercent(7, 5)]).toEqual([33, 0, 100]);
  });

  it('names days relative to now, in local time', () => {
    const now = new Date(2026, 2, 2, 12, 0); // Monday
    expect(formatWhen(new Date(2026, 2, 2, 9, 5), now)).toBe('today 09:05');
    expect(formatWhen(new Date(2026, 2, 1, 23, 59), now)).toBe('yesterday 23:59');
    expect(formatWhen(new Date(2026, 2, 3, 2, 0), now)).toBe('tomorrow 02:00');
    expect(formatWhen(new Date(2026, 2, 5, 2, 0), now)).toBe('Thu 5 Mar 02:00');
    expect(formatWhen(new Date(2026, 0, 20, 2, 0), now)).toBe('20 Jan 02:00');
    expect(formatWhen(new Date(2025, 11, 20, 2, 0), now)).toBe('20 Dec 2025 02:00');
    expect(formatWhen('not a date', now)).toBe('?');
    // the exact form, same style: tooltips, logs, the CLI
    expect(formatTimestamp(new Date(2026, 2, 2, 14, 2, 5))).toBe('Mon 2 Mar 2026 14:02:05');
  });
});
