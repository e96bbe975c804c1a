// What a backup run will need, said before it starts: the size of its
// sources, what it is expected to read, the new data it is expected to add
// (from what recent runs of the job stored, failed and cancelled ones
// included: their packs take the same room), the destination's free space,
// and whether that fits. An estimate, and worded as one in the UI; the
// first run of a job can only say "at most the sources' size".
import type { HistoryEntry, RunEstimate } from '../../common/contract';

/** Room kept beyond the expected new data: indexes, manifests, a run larger than the last. */
export const FIT_MARGIN = 1.25;

export interface EstimateInput {
  sizes: number[];
  /** This job's recent runs, newest first. */
  runs: readonly HistoryEntry[];
  freeBytes?: number;
}

export function estimateRun(i: EstimateInput): RunEstimate {
  const sizeBytes = i.sizes.reduce((a, b) => a + b, 0);
  const recent = i.runs.slice(0, 5);
  const lastGood = recent.find((r) => r.status === 'succeeded');
  const stored = recent.map((r) => r.storedBytes ?? r.bytesWritten).filter((n) => n > 0);
  const basis: RunEstimate['basis'] = lastGood ? 'recent-runs' : 'first-run';
  const newBytes = basis === 'first-run' ? Math.max(sizeBytes, ...stored) : Math.max(0, ...stored);
  const readBytes = lastGood ? Math.min(sizeBytes || lastGood.bytesRead, lastGood.bytesRead) : sizeBytes;
  const fits = i.freeBytes === undefined ? true : newBytes * FIT_MARGIN <= i.freeBytes;
  return { sizeBytes, readBytes, newBytes, basis, ...(i.freeBytes !== undefined && { freeBytes: i.freeBytes }), fits };
}
