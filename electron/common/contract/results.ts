// How a run or task ended, in three levels a user can tell apart at a
// glance: succeeded; succeeded with warnings (the point is safe, something
// around it did not work: old points not removed, a script failed, the
// snapshot storage was cleaned up late); failed (no point, with the reason).
// Cancelled is its own outcome. The level is derived here, in one place, so
// the dashboard, the history, the tray and the notifications agree.
import { z } from 'zod';

import { formatBytes, formatTimestamp } from '../format';
import type { FullReadReason, SourceRead, TrackedDevice, TrackerRestart, TrackerRestartCause } from './domain';
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

/** Why the change tracker started over, by cause; `since` is the map's last good save. */
const RESTART_WORDS: Readonly<Record<TrackerRestartCause, (since: string | undefined) => string>> = {
  'not-persistent': () => "the computer restarted or the module was reloaded, and this device's change map is not kept across reboots",
  'new-store': () => 'tracking across reboots was just set up for this device',
  unclean: (since) => `this computer was not shut down cleanly${since ? ` (its change map was last saved ${since})` : ''} and the map had no write-intent protection`,
  corrupt: () => 'the saved change map was damaged',
  'device-changed': () => 'the disk was replaced or resized',
  'settings-changed': () => "the module's tracking settings or map format changed",
  absent: (since) => `the disk was written while Snapkeep's module was not loaded${since ? ` after ${since}` : ''} (another system or a rescue disk was booted)`,
  'store-failed': () => "the change map's store could not be written",
  earlier: () => 'the change map started over at an earlier boot or after 255 backups',
  unknown: () => 'the change tracker started over',
};

/** A tracker restart in words, e.g. for the run line and `snapkeep jobs history`. */
export function trackerRestartWords(r: TrackerRestart): string {
  return RESTART_WORDS[r.cause](r.since !== undefined ? formatTimestamp(r.since) : undefined);
}

/** A whole-source read in words: why, and what reading used blocks only left out. */
export function fullReadWords(r: SourceRead): string {
  const why =
    r.reason === 'tracker-restarted' && r.restart
      ? `read in full: ${trackerRestartWords(r.restart)}; this backup reads the whole device once, the next reads only changes again`
      : r.reason
        ? FULL_READ_WORDS[r.reason]
        : 'read in full';
  if (!r.unusedBytes) return why;
  return `${why}; used blocks only: ${formatBytes(r.bytes)} read, ${formatBytes(r.unusedBytes)} of free space skipped (restored as zeros)`;
}

/**
 * Where a tracked device's change map lives and since when it is
 * continuous, in words (the Devices view and `snapkeep tracking`).
 */
export function trackingWords(d: TrackedDevice): string {
  const since = d.continuousSince !== undefined ? ` since ${formatTimestamp(d.continuousSince)}` : '';
  switch (d.kept) {
    case 'not-attached':
      return 'set up to be kept across reboots, but not tracked now: the next boot (or the helper\'s start) attaches it, and its first backup reads the device once';
    case 'store-failed':
      return `tracked${since}, but its store could not be written: the map is lost at the next reboot`;
    case 'ram':
      return `tracked${since}, in memory only: the next reboot loses the map and the backup after it reads the whole device`;
    case 'across-reboots': {
      if (d.restart) return `kept across reboots; started over at this boot: ${trackerRestartWords(d.restart)}`;
      const from =
        d.continuedFrom === 'crash'
          ? `, continued after a crash under write intent${d.lastSaved ? ` (last saved ${formatTimestamp(d.lastSaved)})` : ''}`
          : d.continuedFrom === 'seal'
            ? `, continued from the clean shutdown of ${d.lastSaved ? formatTimestamp(d.lastSaved) : 'the last boot'}`
            : '';
      const doubt = d.unverified
        ? "; writes made while Snapkeep's module was not loaded (another system booted) cannot be ruled out for what this device holds"
        : '';
      return `kept across reboots: tracking continuous${since}${from}${doubt}`;
    }
  }
}

const ALGORITHM_NAMES: Record<string, string> = {
  'blake2b-keyed': 'keyed BLAKE2b',
  'hmac-sha256': 'HMAC-SHA-256',
  xchacha20poly1305: 'XChaCha20-Poly1305',
  aes256gcm: 'AES-256-GCM',
};

/**
 * A repository's algorithms in words (docs/repository-format.md,
 * "Algorithms"), e.g. "chunk ids HMAC-SHA-256, encrypted with
 * AES-256-GCM". A name this build does not know is shown as it is.
 */
export function algorithmWords(a: { chunkId: string; encryption: string }): string {
  const name = (n: string): string => ALGORITHM_NAMES[n] ?? n;
  return `chunk ids ${name(a.chunkId)}, ${a.encryption === 'none' ? 'not encrypted' : `encrypted with ${name(a.encryption)}`}`;
}
