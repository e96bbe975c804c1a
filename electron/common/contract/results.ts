// How a run or task ended, in three levels a user can tell apart at a
// glance: succeeded; succeeded with warnings (the point is safe, something
// around it did not work: old points not removed, a script failed, the
// snapshot storage was cleaned up late); failed (no point, with the reason).
// Cancelled is its own outcome. The level is derived here, in one place, so
// the dashboard, the history, the tray and the notifications agree.
import { z } from 'zod';

import { formatBytes } from '../format';
import type { FullReadReason, SourceRead } from './domain';
import { ErrorInfo } from './errors';

/** The steps of a backup run a problem can belong to. */
export const RunStep = z.enum(['snapshot', 'backup', 'retention', 'cleanup', 'pre-script', 'post-script', 'verify']);
export type RunStep = z.infer<typeof RunStep>;

/** A step that went wrong without failing the run, with the error as the lower layer raised it. */
export const RunProblem = z.object({ step: RunStep, error: ErrorInfo });
export type RunProblem = z.infer<typeof RunProblem>;

export const RunResult = z.enum(['succeeded', 'warnings', 'failed', 'cancelled']);
export type RunResult = z.infer<typeof RunResult>;

export interface RunOutcomeLike {
  status: 'succeeded' | 'failed' | 'cancelled' | 'running' | 'queued';
  warnings?: readonly string[];
  problems?: readonly RunProblem[];
}

/** The level of a finished run (or task): warnings count only when it succeeded. */
export function runResult(o: RunOutcomeLike): RunResult | 'running' {
  if (o.status === 'running' || o.status === 'queued') return 'running';
  if (o.status !== 'succeeded') return o.status;
  return (o.warnings?.length ?? 0) > 0 || (o.problems?.length ?? 0) > 0 ? 'warnings' : 'succeeded';
}

const PREFIXES: ReadonlyArray<[string, RunStep]> = [
  ['retention:', 'retention'],
  ['cleanup:', 'cleanup'],
  ['post-script:', 'post-script'],
  ['pre-script:', 'pre-script'],
  ['snapshot storage', 'snapshot'],
  ['difference storage', 'snapshot'],
  ['verification', 'verify'],
];

/**
 * The step a plain warning text belongs to (records written before
 * RunProblem existed carry only the text, prefixed by the runner).
 */
export function warningStep(text: string): RunStep | undefined {
  const t = text.trimStart().toLowerCase();
  return PREFIXES.find(([p]) => t.startsWith(p))?.[1];
}

/**
 * Why a run read a whole source, in words for the history (app and CLI
 * alike): a long backup after a short one needs its reason next to it.
 */
export const FULL_READ_WORDS: Readonly<Record<FullReadReason, string>> = {
  'first-backup': 'first backup of this source: read in full',
  'tracker-restarted':
    'read in full: the change tracker started over since the last backup (the computer restarted, the module was reloaded or the device was resized); the next backup reads only changes again',
  'not-tracked': 'read in full: not followed by the change tracker (an image file or a device backed up without a snapshot)',
  'parent-missing': 'read in full: the restore point its changes were counted from is gone or no longer matches',
};

/** A whole-source read in words: why, and what reading used blocks only left out. */
export function fullReadWords(r: SourceRead): string {
  const why = r.reason ? FULL_READ_WORDS[r.reason] : 'read in full';
  if (!r.unusedBytes) return why;
  return `${why}; used blocks only: ${formatBytes(r.bytes)} read, ${formatBytes(r.unusedBytes)} of free space skipped (restored as zeros)`;
}
