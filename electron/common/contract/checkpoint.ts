// Checkpoints (issue 15; docs/checkpoints.md): the devices a computer boots
// from, held at one instant so a failed upgrade can be rolled back from the
// boot menu. The boot tool (kmod/boot, `snapkeep-boot checkpoint`) does the
// sector-level work; these are the objects the app shows and the calls it
// makes.
import { z } from 'zod';

import { IsoTime } from './domain';

/**
 * What the user calls a checkpoint: it becomes a GRUB menu title and a
 * config field, so printable ASCII without quotes, backslash, backtick or $.
 */
export const CheckpointName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\x20-\x7e]+$/, 'letters, digits, spaces and punctuation only')
  .refine((s) => !/['"\\`$]/.test(s) && s.trim() === s, { message: "must not hold ' \" \\ ` or $, nor start or end with a space" });

/** A checkpoint's id: the UUID its store carries. */
export const CheckpointId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a checkpoint id');

/**
 * active: held, every first write to a chunk saved first; invalid: the
 * store filled up or failed, or the devices were written while the module
 * was absent (no rollback possible, writes go on); committed / abandoned:
 * ended, the store can go; rolling-back: a rollback was cut short (the next
 * boot finishes it); rolled-back: done; unreadable: its store cannot be read.
 */
export const CheckpointState = z.enum(['active', 'invalid', 'committed', 'abandoned', 'rolling-back', 'rolled-back', 'unknown', 'unreadable']);
export type CheckpointState = z.infer<typeof CheckpointState>;

export const CheckpointDevice = z.object({
  /** As the boot config names it (a /dev/disk/by-* link). */
  device: z.string(),
  /** The kernel's name now (sda2), when the link resolves. */
  name: z.string().optional(),
  /** Where it is mounted now (/, /boot, /boot/efi). */
  mountpoints: z.array(z.string()),
});
export type CheckpointDevice = z.infer<typeof CheckpointDevice>;

export const Checkpoint = z.object({
  /** Absent only while unreadable. */
  id: CheckpointId.optional(),
  name: z.string(),
  state: CheckpointState,
  /** Why it became invalid: the store is full, an I/O error, written while the module was absent. */
  reason: z.enum(['none', 'full', 'io', 'absent', 'unknown']).optional(),
  createdAt: IsoTime.optional(),
  devices: z.array(CheckpointDevice),
  store: z.object({
    /** The block device the store's sectors are on. */
    device: z.string(),
    /** The store file (a pinned, immutable file), when known. */
    file: z.string().optional(),
    usedBytes: z.number().int().nonnegative(),
    sizeBytes: z.number().int().nonnegative(),
  }),
  /** The module holds it now (writes are saved first). */
  attached: z.boolean(),
  /** 64 KiB chunks saved so far. */
  chunksSaved: z.number().int().nonnegative(),
  /** The boot menu's rollback entry for it, when there is one. */
  bootEntry: z.string().optional(),
  /** The next boot rolls it back (set with checkpoints.rollback). */
  rollbackAtNextBoot: z.boolean(),
  /** Unreadable: why. */
  problem: z.string().optional(),
  /** Taken automatically (before package changes): the good boots counted since, and after how many it is ended (0: only by the user). */
  auto: z
    .object({
      trigger: z.literal('packages'),
      goodBoots: z.number().int().nonnegative(),
      endAfterGoodBoots: z.number().int().nonnegative(),
      /** The boot menu rolls it back after this many failed boots in a row (absent: never by itself). */
      rollBackAfterFailedBoots: z.number().int().positive().optional(),
    })
    .optional(),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/**
 * Automatic checkpoints: one is taken when apt is about to change packages
 * (the apt hook the helper installs calls `snapkeep-helper
 * checkpoint-before-packages`), unless an active checkpoint already holds
 * the system; it is ended after a number of good boots (a boot in which the
 * helper started). Kept by the helper in its config folder.
 */
export const AutoCheckpoints = z
  .object({
    beforePackageChanges: z.boolean(),
    /** When one cannot be taken: the package change goes on (apt shows why) or is stopped. */
    onFailure: z.enum(['continue', 'stop']),
    /** Ends an automatic checkpoint after this many good boots; 0: only the user ends it. */
    endAfterGoodBoots: z.number().int().min(0).max(20),
    /** Store size of an automatic checkpoint; absent: the plan's suggestion at the time. */
    storeBytes: z.number().int().positive().optional(),
    /**
     * Rolls an automatic checkpoint back by itself after this many boots in a
     * row that did not reach multi-user.target (GRUB counts them); 0 or
     * absent: never by itself. Boots of another system from the boot menu
     * count as failed too: the boot menu must start only this system.
     */
    rollBackAfterFailedBoots: z.number().int().min(0).max(9).optional(),
  })
  .strict();
export type AutoCheckpoints = z.infer<typeof AutoCheckpoints>;

/** Off until the user turns it on. */
export const AUTO_CHECKPOINTS_DEFAULT: AutoCheckpoints = { beforePackageChanges: false, onFailure: 'continue', endAfterGoodBoots: 3 };

/** What checkpoints.beforePackages did: a task that takes the checkpoint, or why none is taken. */
export const BeforePackagesResult = z.object({
  taskId: z.string().optional(),
  /** Why no checkpoint is taken, in words: turned off, one already holds the system (its name), or it cannot be made (the plan's problem). */
  skipped: z.string().optional(),
  /**
   * The same as a kind: off and held are no failure; cannot (turned on, but
   * none can be made) is one, and the hook applies onFailure.
   */
  skippedBecause: z.enum(['off', 'held', 'cannot']).optional(),
  /** The settings in force, so the apt hook knows whether a failure stops the package change. */
  onFailure: z.enum(['continue', 'stop']),
});
export type BeforePackagesResult = z.infer<typeof BeforePackagesResult>;

/** What checkpoints.create would hold, and whether it can now. */
export const CheckpointPlan = z.object({
  /** Why a checkpoint cannot be made here, in words (no module, no GRUB, a device in use by one). */
  problem: z.string().optional(),
  /**
   * Set when the problem is that a device is in a checkpoint already: that
   * checkpoint, as the list names it (no id while it is unreadable). Then
   * checkpoints are possible here once it is ended; any other problem (no
   * module, a root on LVM, no room) is this computer's.
   */
  heldBy: z.object({ id: CheckpointId.optional(), name: z.string() }).optional(),
  /** The devices the system boots from: the root, /boot and the EFI system partition. */
  devices: z.array(CheckpointDevice.extend({ sizeBytes: z.number().int().nonnegative() })),
  /** Where the store file goes, and the room there. */
  storeDir: z.string(),
  freeBytes: z.number().int().nonnegative(),
  /** A size that holds a typical upgrade (rewrites of a few GiB). */
  suggestedStoreBytes: z.number().int().nonnegative(),
  minStoreBytes: z.number().int().nonnegative(),
  maxStoreBytes: z.number().int().nonnegative(),
  /** Whether the boot menu can offer the rollback (GRUB with the snippet installed). */
  bootMenu: z.boolean(),
  /** Why not, in words, when it cannot. */
  bootMenuProblem: z.string().optional(),
});
export type CheckpointPlan = z.infer<typeof CheckpointPlan>;

/** Why an invalid checkpoint can no longer be rolled back. */
const REASON_WORDS: Readonly<Record<NonNullable<Checkpoint['reason']>, string>> = {
  none: 'it can no longer be rolled back',
  full: 'its store filled up, so later changes could not be saved: it can no longer be rolled back (writes go on as usual)',
  io: 'its store could not be written (an I/O error): it can no longer be rolled back (writes go on as usual)',
  absent:
    'the disks were written while the checkpoint was not held (a boot without the Snapkeep module or without the rebuilt boot image): it can no longer be rolled back',
  unknown: 'it can no longer be rolled back, for a reason this version of Snapkeep does not know',
};

/** A checkpoint's state: a tag's few words, its tone, and the sentence under it; the same in the app and the CLI. */
export function checkpointState(c: Pick<Checkpoint, 'state' | 'reason' | 'attached' | 'problem'>): { label: string; severity: 'success' | 'info' | 'warn' | 'danger' | 'secondary'; text: string } {
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
