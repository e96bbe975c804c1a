// Turns the native engine's (bytesDone, bytesTotal) ticks into the
// contract's Progress, with the rate and time left of ../tasks/rate.ts (the
// same estimate the task manager makes for every other task).
import type { Progress } from '../../common/contract';
import { RateMeter } from '../tasks/rate';

export type ProgressSink = ((p: Progress) => void) | undefined;

export function progressReporter(
  phase: string,
  sink: ProgressSink,
  message?: string,
  now: () => number = Date.now,
): ((done: number, total: number) => void) | undefined {
  if (!sink) return undefined;
  const meter = new RateMeter();
  return (done, total) => {
    const rate = meter.sample(now(), done);
    const p: Progress = { phase, bytesDone: done, bytesTotal: total, bytesPerSecond: rate };
    const eta = meter.eta(done, total);
    if (eta !== undefined) p.etaSeconds = eta;
    if (message !== undefined) p.message = message;
    sink(p);
  };
}
