// What a checkpoint's state means for the user, in words: whether it can
// still be rolled back, and if not, why; which devices it holds; how full
// its store is, and the sizes a store may have; when an automatic one
// ends. Pure, so the page, its dialogs and tests say it one way.
import type { Checkpoint, CheckpointDevice, CheckpointPlan } from '@common/contract';

import { formatBytes } from '@/util/format';

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

/** An automatic checkpoint's line: why it was taken, when it ends, and whether the boot menu rolls it back by itself. */
export function autoCheckpointWords(auto: NonNullable<Checkpoint['auto']>): string {
  const taken = 'Taken before package changes';
  const n = auto.rollBackAfterFailedBoots;
  const rolls = n !== undefined ? ` · rolled back by itself after ${n === 1 ? '1 failed boot' : `${n} failed boots in a row`}` : '';
  if (auto.endAfterGoodBoots === 0) return `${taken} · ended only by you${rolls}`;
  const boots = auto.endAfterGoodBoots === 1 ? '1 good boot' : `${auto.endAfterGoodBoots} good boots`;
  return `${taken} · ends after ${boots} (${auto.goodBoots} so far)${rolls}`;
}

/**
 * The listed checkpoint that holds a device the plan would hold, when the
 * plan says that is its problem (plan.heldBy): then automatic checkpoints
 * are not impossible on this computer, they wait until it is ended.
 * Undefined when the plan names none, or one without an id (unreadable) or
 * not in the list.
 */
export function checkpointHoldingPlan(plan: Pick<CheckpointPlan, 'heldBy'>, checkpoints: readonly Checkpoint[]): Checkpoint | undefined {
  const id = plan.heldBy?.id;
  return id === undefined ? undefined : checkpoints.find((c) => c.id === id);
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A store size typed in GiB, in bytes as the service sizes stores (whole MiB); 0 when nothing is typed. */
export function storeBytesOfGiB(gib: number | null): number {
  return gib === null ? 0 : Math.round((gib * GiB) / MiB) * MiB;
}

/** A store size in GiB as the size fields show it (two decimals at most). */
export function gibOfStoreBytes(bytes: number): number {
  return Math.round((bytes / GiB) * 100) / 100;
}

/** Why a store of this size cannot be made under this plan, or undefined. */
export function storeSizeProblem(bytes: number, plan: Pick<CheckpointPlan, 'minStoreBytes' | 'maxStoreBytes'>): string | undefined {
  return bytes < plan.minStoreBytes || bytes > plan.maxStoreBytes ? `Choose between ${formatBytes(plan.minStoreBytes)} and ${formatBytes(plan.maxStoreBytes)}.` : undefined;
}
