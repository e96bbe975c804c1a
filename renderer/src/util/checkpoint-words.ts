// What a checkpoint's state means for the user, in words: whether it can
// still be rolled back, and if not, why; which devices it holds; how full
// its store is. Pure, so the page, its dialogs and tests say it one way.
import type { Checkpoint, CheckpointDevice } from '@common/contract';

export { checkpointState } from '@common/contract';

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
