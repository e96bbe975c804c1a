// What a checkpoint's state means for the user, in words: whether it can
// still be rolled back, and if not, why; which devices it holds; how full
// its store is. Pure, so the page, its dialogs and tests say it one way.
import type { Checkpoint, CheckpointDevice } from '@common/contract';

/** Why an invalid checkpoint can no longer be rolled back. */
const REASON_WORDS: Record<NonNullable<Checkpoint['reason']>, string> = {
  none: 'it can no longer be rolled back',
  full: 'its store filled up, so later changes could not be saved: it can no longer be rolled back (writes go on as usual)',
  io: 'its store could not be written (an I/O error): it can no longer be rolled back (writes go on as usual)',
  absent:
    'the disks were written while the checkpoint was not held (a boot without the Snapkeep module or without the rebuilt boot image): it can no longer be rolled back',
  unknown: 'it can no longer be rolled back, for a reason this version of Snapkeep does not know',
};

export interface StateWords {
  /** A few words for a tag. */
  label: string;
  severity: 'success' | 'info' | 'warn' | 'danger' | 'secondary';
  /** The sentence under it. */
  text: string;
}

export function checkpointState(c: Checkpoint): StateWords {
  switch (c.state) {
    case 'active':
      return c.attached
        ? { label: 'Holding', severity: 'success', text: 'Holding: every change since is saved and can be rolled back.' }
        : { label: 'Not held now', severity: 'warn', text: 'Not held right now: the module does not hold it at the moment, so changes are not saved.' };
    case 'invalid':
      return { label: 'Invalid', severity: 'danger', text: `Invalid: ${REASON_WORDS[c.reason ?? 'none']}. Remove it to free its store.` };
    case 'rolling-back':
      return { label: 'Rollback unfinished', severity: 'warn', text: 'A rollback was cut short: the next boot finishes it.' };
    case 'rolled-back':
      return { label: 'Rolled back', severity: 'info', text: 'Rolled back: the disks are as they were when it was taken. Remove it to free its store.' };
    case 'committed':
    case 'abandoned':
      return { label: 'Ended', severity: 'secondary', text: 'Ended: the changes stay and it can no longer be rolled back. Remove it to free its store.' };
    case 'unreadable':
      return { label: 'Unreadable', severity: 'danger', text: `Its store cannot be read${c.problem ? `: ${c.problem}` : ''}.` };
    case 'unknown':
      return { label: 'Unknown', severity: 'secondary', text: 'Its state is not one this version of Snapkeep knows: update Snapkeep before acting on it.' };
  }
}

/** One device as the user knows it: its mount points first ("/ and /boot (sda2)"). */
export function deviceWords(d: CheckpointDevice): string {
  const name = d.name ?? d.device;
  return d.mountpoints.length ? `${d.mountpoints.join(' and ')} (${name})` : name;
}

/** The devices in one phrase: "/ (sda2), /boot (sda1) and /boot/efi (sda15)". */
export function devicesWords(devices: readonly CheckpointDevice[]): string {
  const words = devices.map(deviceWords);
  if (words.length <= 1) return words[0] ?? 'no device';
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1] ?? ''}`;
}

/** From this share of the store on, the page warns that the checkpoint nears full. */
export const STORE_WARN_AT = 0.8;

/** Whether it can be removed rather than ended: it no longer holds anything worth rolling back to. */
export function isFinishedCheckpoint(c: Checkpoint): boolean {
  return c.state === 'invalid' || c.state === 'rolled-back' || c.state === 'unreadable' || c.state === 'committed' || c.state === 'abandoned';
}
