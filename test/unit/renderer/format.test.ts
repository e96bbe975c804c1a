import { describe, expect, it } from 'vitest';

import { formatBytes, formatDuration, formatEta, formatPercent, formatRate, formatTimestamp, formatWhen } from '../../../renderer/src/util/format';

describe('formatting', () => {
  it('writes sizes in decimal units, as disks are labelled', () => {
    expect([0, 999, 1000, 1536, 12_345_678, 500_107_862_016, 2e12].map(formatBytes)).toEqual(['0 B', '999 B', '1.00 kB', '1.54 kB', '12.3 MB', '500 GB', '2.00 TB']);
    expect(formatBytes(-1)).toBe('?');
    expect(formatRate(85_000_000)).toBe('85.0 MB/s');
  });

  it('writes durations and time left the way people say them', () => {
    expect([0.4, 45, 60, 252, 3600, 3900].map(formatDuration)).toEqual(['less than a second', '45 s', '1 min', '4 min 12 s', '1 h', '1 h 5 min']);
    expect([undefined, 2, 12, 61, 3599, 7201].map(formatEta)).toEqual(['estimating time left', 'almost done', '15 s left', '2 min left', '60 min left', '2 h 1 min left']);
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
    expect(formatTimestamp(new Date(2026, 2, 2, 14, 2, 5))).toBe('2026-03-02 14:02:05');
  });
});
