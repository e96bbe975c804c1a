import { describe, expect, it } from 'vitest';

import { selectKept } from '../../../../electron/core/engine/retention';

// Noon UTC keeps every point on its calendar day in any time zone within ±11 h.
const at = (day: string) => `${day}T12:00:00.000Z`;
const pts = (days: string[], group = 'job') => days.map((d, i) => ({ id: `p${String(i).padStart(2, '0')}`, createdAt: at(d), group }));
const none = { keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };

describe('retention', () => {
  it('keeps the newest N', () => {
    const p = pts(['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04']);
    const r = selectKept(p, { keepLast: 2, ...none });
    expect([...r.keep].sort()).toEqual(['p02', 'p03']);
    expect(r.remove).toEqual(['p00', 'p01']);
  });

  it('keeps the newest point of each of the last D days', () => {
    const p = [
      { id: 'a', createdAt: '2026-03-01T08:00:00.000Z', group: 'j' },
      { id: 'b', createdAt: '2026-03-01T12:00:00.000Z', group: 'j' },
      { id: 'c', createdAt: '2026-03-02T12:00:00.000Z', group: 'j' },
      { id: 'd', createdAt: '2026-03-03T12:00:00.000Z', group: 'j' },
    ];
    const r = selectKept(p, { keepLast: 1, keepDaily: 3, keepWeekly: 0, keepMonthly: 0 });
    expect([...r.keep].sort()).toEqual(['b', 'c', 'd']);
  });

  it('GFS: weekly and monthly buckets reach further back than daily ones', () => {
    const days = ['2025-11-15', '2025-12-10', '2026-01-05', '2026-01-20', '2026-01-26', '2026-01-27', '2026-01-28'];
    const r = selectKept(pts(days), { keepLast: 1, keepDaily: 2, keepWeekly: 2, keepMonthly: 3 });
    // daily: 28th, 27th; weekly: week of 26-28 (28th), week of 20th; monthly: Jan (28th), Dec, Nov
    expect([...r.keep].sort()).toEqual(['p00', 'p01', 'p03', 'p05', 'p06']);
  });

  it('applies the policy to each job on its own', () => {
    const p = [...pts(['2026-01-01', '2026-01-02'], 'a'), ...pts(['2026-01-01', '2026-01-02'], 'b').map((x) => ({ ...x, id: `b${x.id}` }))];
    const r = selectKept(p, { keepLast: 1, ...none });
    expect([...r.keep].sort()).toEqual(['bp01', 'p01']);
  });
});
