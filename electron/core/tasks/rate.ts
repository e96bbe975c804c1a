// Rate and time left of a long task, from the bytes done so far. The rate is
// an average over a sliding window of samples, so a stall shows as a falling
// rate within seconds instead of hiding behind the average of the whole run.
export interface RateSample {
  at: number; // ms
  bytes: number;
}

export class RateMeter {
  private samples: RateSample[] = [];

  constructor(private readonly windowMs = 10_000) {}

  reset(): void {
    this.samples = [];
  }

  /** Records `bytes` done at time `at` (ms) and returns bytes per second. */
  sample(at: number, bytes: number): number {
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && (this.samples[1]?.at ?? at) <= at - this.windowMs) this.samples.shift();
    const first = this.samples[0];
    if (!first || at <= first.at) return 0;
    return Math.max(0, ((bytes - first.bytes) * 1000) / (at - first.at));
  }
}

export function etaSeconds(done: number, total: number, rate: number): number | undefined {
  if (rate <= 0 || total <= 0 || done > total) return undefined;
  return Math.round((total - done) / rate);
}
