// Rate and time left of a long task, from the bytes done so far. The one
// implementation for every task: the engine's progress (progress.ts) and
// the task manager both use it, so the app shows one kind of estimate.
//
// The rate shown is a window average (bursty reports, such as a pack
// written at once, average out) smoothed exponentially, so it neither
// jumps nor lags for long. Time left is what remains divided by the most
// cautious of that rate, the last window and the phase's average rate: a
// phase that starts fast (empty blocks are skipped at memory speed) would
// otherwise promise "almost done" at 20 %, and a phase that slows down
// would keep an old, short estimate. It stays unknown until the phase has
// run for a moment.
export interface RateSample {
  at: number; // ms
  bytes: number;
}

export interface RateMeterOptions {
  /** Width of the window the instantaneous rate is averaged over (ms). */
  windowMs?: number;
  /** Time constant of the exponential smoothing (ms). */
  smoothingMs?: number;
  /** No time left is given before the phase ran this long (ms). */
  settleMs?: number;
}

export class RateMeter {
  private samples: RateSample[] = [];
  private first: RateSample | null = null;
  private smoothed = 0;
  private windowRate = 0;
  private lastAt = 0;
  private readonly windowMs: number;
  private readonly smoothingMs: number;
  private readonly settleMs: number;

  constructor(o: RateMeterOptions | number = {}) {
    const opts = typeof o === 'number' ? { windowMs: o } : o;
    this.windowMs = opts.windowMs ?? 5_000;
    this.smoothingMs = opts.smoothingMs ?? 3_000;
    this.settleMs = opts.settleMs ?? 2_000;
  }

  /** Forgets everything (a new phase starts). */
  reset(): void {
    this.samples = [];
    this.first = null;
    this.smoothed = 0;
    this.windowRate = 0;
    this.lastAt = 0;
  }

  /** Records `bytes` done at time `at` (ms) and returns the smoothed bytes per second. */
  sample(at: number, bytes: number): number {
    if (this.first === null) {
      this.first = { at, bytes };
      this.samples = [{ at, bytes }];
      this.lastAt = at;
      return 0;
    }
    if (at <= this.lastAt) return this.smoothed; // same instant: nothing new to learn
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && (this.samples[1]?.at ?? at) <= at - this.windowMs) this.samples.shift();
    const oldest = this.samples[0] as RateSample;
    this.windowRate = Math.max(0, ((bytes - oldest.bytes) * 1000) / (at - oldest.at));
    const alpha = this.smoothed === 0 ? 1 : 1 - Math.exp(-(at - this.lastAt) / this.smoothingMs);
    this.smoothed += alpha * (this.windowRate - this.smoothed);
    this.lastAt = at;
    return this.smoothed;
  }

  /**
   * The rate time left is computed with: the slowest of the smoothed rate
   * (slow to rise), the last window (quick to see a slowdown) and the
   * phase average (not fooled by a fast start).
   */
  private cautiousRate(): number {
    const f = this.first;
    const last = this.samples.at(-1);
    if (!f || !last || last.at - f.at < this.settleMs) return 0;
    const average = ((last.bytes - f.bytes) * 1000) / (last.at - f.at);
    return Math.min(this.smoothed, this.windowRate, average);
  }

  /** Seconds left for `total` at the cautious rate; undefined while unknown. */
  eta(done: number, total: number): number | undefined {
    return etaSeconds(done, total, this.cautiousRate());
  }
}

/** Seconds left: what remains at `rate` bytes per second; undefined while unknown. */
export function etaSeconds(done: number, total: number, rate: number): number | undefined {
  if (!(rate > 0) || !(total > 0) || done > total) return undefined;
  return (total - done) / rate;
}
