// Boot repair's steps after a whole-disk restore (core/restore/boot-repair.ts),
// and their words: the same lines in the CLI's `snapkeep restore` and the
// restore wizard's result.
export interface BootStep {
  step: 'efi-fallback' | 'fstab';
  /** done: changed the target; ok: nothing needed; warning: the user should know; failed: could not do it. */
  outcome: 'done' | 'ok' | 'warning' | 'failed';
  /** What was found and done, in words. */
  detail: string;
}

export const BOOT_OUTCOME_WORDS: Record<BootStep['outcome'], string> = {
  done: 'repaired',
  ok: 'fine',
  warning: 'look at this',
  failed: 'could not repair',
};

export function bootStepLine(s: BootStep): string {
  return `${BOOT_OUTCOME_WORDS[s.outcome]}: ${s.detail}`;
}
