// Why a device's change tracker has another generation than at the last
// backup, in the contract's terms (TrackerRestartCause): the history says
// it next to the full read it causes ("this computer was not shut down
// cleanly ..."), so a long backup after short ones is never a mystery.
import type { TrackerRestart, TrackerRestartCause } from '../../common/contract';
import type { TrackerInfo } from '../snapshot/driver';

/** The module's attach reasons (docs/kernel-module.md, "Attach: continue or restart"). */
const ATTACH_REASON: Readonly<Record<string, TrackerRestartCause>> = {
  new: 'new-store',
  corrupt: 'corrupt',
  identity: 'device-changed',
  size: 'device-changed',
  geometry: 'settings-changed',
  version: 'settings-changed',
  unclean: 'unclean',
  absent: 'absent',
};

/**
 * The cause for a tracker found with another generation than the last
 * backup's. A map that was continued at attach restarted before this boot
 * (an earlier boot's attach, or 255 takes): its own attach reason is gone.
 */
export function trackerRestart(info: TrackerInfo): TrackerRestart {
  const p = info.persist;
  if (!p) return { cause: 'not-persistent' };
  if (p.failed) return { cause: 'store-failed' };
  if (p.continued) return { cause: 'earlier' };
  const cause = ATTACH_REASON[p.reason] ?? 'unknown';
  // The metadata found says when the map was last known good: the seal
  // (absent: written after it) or the last save before a crash.
  const withTime = cause === 'unclean' || cause === 'absent';
  return withTime && p.foundAt !== undefined ? { cause, since: p.foundAt } : { cause };
}
