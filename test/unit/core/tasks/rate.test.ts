// Rate and time left: what a user reads while a long task runs. Driven by
// synthetic (time, bytes) series so the clock is exact.
import { describe, expect, it } from 'vitest';

import { progressReporter } from '../../../../electron/core/engine/progress';
import { etaSeconds, RateMeter } from '../../../../electron/core/tasks/rate';
import type { Progress } from '../../../../electron/common/contract';

describe('time left', () => {
  it('is what remains divided by the rate, not the total', () => {
    expect(etaSeconds(50, 100, 10)).toBe(5);
    expect(etaSeconds(0, 100, 10)).toBe(10);
    expect(etaSeconds(100, 100, 10)).toBe(0);
  });

  it('is unknown without a rate, a total, or with more done than the total', () => {
    expect(etaSeconds(10, 100, 0)).toBeUndefined();
    expect(etaSeconds(10, 0, 5)).toBeUndefined();
    expect(etaSeconds(110, 100, 5)).toBeUndefined();
  });

  it("the engine's reporter says remaining / rate at a steady rate", () => {
    let now = 0;
    const seen: Progress[] = [];
    const report = progressReporter('reading', (p) => seen.push(p), undefined, () => now)!;
    // 10 MB/s for 20 s of a 1000 MB device
    for (let t = 0; t <= 20; t++) {
      now = t * 1000;
      report(t * 10e6, 1000e6);
    }
    const last = seen.at(-1)!;
    expect(last.bytesPerSecond).toBeCloseTo(10e6, -4);
    // 800 MB left at 10 MB/s: 80 s (total / rate would say 100 s)
    expect(last.etaSeconds).toBeCloseTo(80, 0);
  });

  it('does not promise a fast finish after a fast start (empty blocks first, then real data)', () => {
    // The first 22 % go by at 200 MB/s (zero chunks), the rest at 5 MB/s.
    const meter = new RateMeter();
    const total = 1000e6;
    let done = 0;
    const etas: Array<{ t: number; pct: number; eta: number | undefined; truth: number }> = [];
    for (let t = 0; done < total; t += 0.5) {
      const rate = done < 220e6 ? 200e6 : 5e6;
      done = Math.min(total, done + rate * 0.5);
      meter.sample(t * 1000, done);
      const truth = (total - done) / 5e6;
      etas.push({ t, pct: (done / total) * 100, eta: meter.eta(done, total), truth });
    }
    // Never "under 5 s" (the UI's "almost done") while more than a minute of work is left.
    const lies = etas.filter((e) => e.eta !== undefined && e.eta < 5 && e.truth > 60);
    expect(lies).toEqual([]);
    // And from 15 s into the slow part on, within 25 % of the truth.
    const slowFrom = etas.find((e) => e.pct > 22)!.t + 15;
    const off = etas.filter((e) => e.t >= slowFrom && e.truth > 10 && Math.abs((e.eta ?? 0) - e.truth) > 0.25 * e.truth);
    expect(off).toEqual([]);
  });

  it('follows a slowdown instead of freezing (the "15 s left" from 3 % to 45 %)', () => {
    const meter = new RateMeter();
    const total = 600e6;
    let done = 0;
    const etas: number[] = [];
    // 40 MB/s for 1 s, then 4 MB/s (the destination disk got busy)
    for (let t = 0; done < total * 0.45; t += 0.25) {
      done += (t < 1 ? 40e6 : 4e6) * 0.25;
      meter.sample(t * 1000, done);
      const eta = meter.eta(done, total);
      if (done > total * 0.1 && eta !== undefined) etas.push(Math.ceil(eta / 5) * 5);
    }
    // time left as shown: it must reach the real order of magnitude (> 60 s left at 45 %)
    expect(etas.at(-1)).toBeGreaterThan(60);
    expect(new Set(etas).size).toBeGreaterThan(5);
  });

  it('says nothing until it has seen the rate for a moment', () => {
    const meter = new RateMeter();
    meter.sample(0, 0);
    meter.sample(200, 50e6);
    expect(meter.eta(50e6, 1000e6)).toBeUndefined();
  });
});
