// The phases a task goes through, in words, and whether the current one is
// its last: time left is for the current phase only (rate.ts), so before
// the last phase the app must not say "almost done" (a backup still has its
// retention and clean-up to do after reading). Pure; shared with main.
import type { TaskKind } from '@common/contract';

export const PHASE_WORDS: Record<string, string> = {
  starting: 'Starting',
  snapshot: 'Taking the snapshot',
  reading: 'Reading',
  backup: 'Backing up',
  retention: 'Removing restore points beyond the retention',
  restoring: 'Restoring',
  verifying: 'Verifying',
  copying: 'Copying files',
  pruning: 'Removing old restore points',
  'post-script': 'Running the script after the backup',
  'pre-script': 'Running the script before the backup',
  cleanup: 'Cleaning up',
  estimating: 'Estimating',
  opening: 'Opening the restore point',
  searching: 'Searching',
  comparing: 'Comparing',
  tracking: 'Changing how the disk is tracked',
  // A remote repository's working copy serves one operation at a time.
  waiting: 'Waiting for another operation on the repository',
  // A remote repository: the packs sealed last, sent after the reading.
  uploading: 'Sending the last data to the server',
  done: 'Done',
};

/** Phases after which more work of the same task follows. */
const NOT_LAST: Partial<Record<TaskKind, readonly string[]>> = {
  backup: ['starting', 'pre-script', 'snapshot', 'waiting', 'reading', 'uploading', 'backup', 'verifying'],
  restore: ['waiting'],
  verify: ['waiting'],
};

export function phaseWords(phase: string): string {
  return PHASE_WORDS[phase] ?? phase.charAt(0).toUpperCase() + phase.slice(1);
}

export function isLastPhase(kind: TaskKind, phase: string): boolean {
  return !(NOT_LAST[kind] ?? []).includes(phase);
}
