// The retention rules at the RPC edge: a policy that keeps nothing would
// make the next prune delete every restore point of the job, so keepLast is
// at least 1 (the other counts may be 0).
import { describe, expect, it } from 'vitest';

import { Retention } from '../../../electron/common/contract';

describe('Retention', () => {
  const base = { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
  it('accepts keeping only the last point', () => {
    expect(Retention.safeParse(base).success).toBe(true);
  });
  it('refuses keepLast 0, which would let a prune delete every point', () => {
    expect(Retention.safeParse({ ...base, keepLast: 0 }).success).toBe(false);
    expect(Retention.safeParse({ keepLast: 0, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }).success).toBe(false);
  });
  it('refuses fractions, negatives and absurd counts', () => {
    for (const bad of [1.5, -1, 10001]) expect(Retention.safeParse({ ...base, keepDaily: bad }).success).toBe(false);
  });
});
