// Turns the native engine's (bytesDone, bytesTotal) ticks into the
// contract's Progress with a rate over the last seconds and an ETA.
import type { Progress } from '../../common/contract';

export type ProgressSink = ((p: Progress) => void) | undefined;

export function progressReporter(phase: string, sink: ProgressSink, message?: string): ((done: number, total: number) => void) | undefined {
  if (!sink) return undefined;
  const started = Date.now();
  const samples: Array<[number, number]> = [];
  return (done, total) => {
    const now = Date.now();
    samples.push([now, done]);
    while (samples.length > 2 && now - (samples[0]?.[0] ?? now) > 5000) samples.shift();
    const first = samples[0] ?? [started, 0];
    const dt = (now - first[0]) / 1000;
    const rate = dt > 0 ? Math.max(0, (done - first[1]) / dt) : 0;
    const p: Progress = { phase, bytesDone: done, bytesTotal: total, bytesPerSecond: rate };
    if (rate > 0 && total >= done) p.etaSeconds = (total - done) / rate;
    if (message !== undefined) p.message = message;
    sink(p);
  };
}
