// Which finished runs become desktop notifications, and what they say. Fed
// with every 'task.updated' event the tray agent receives; decides once per
// task, when it reaches a final state. Cancelled runs are not announced:
// the user cancelled them.
import type { AppSettings } from '../common/contract/app';
import type { Task, TaskKind } from '../common/contract/domain';
import { describeError, describeProblem } from '../../renderer/src/errors/words';
import { formatBytes, formatDuration } from '../common/format';

export interface DesktopNotification {
  /** The task it is about: a click opens the app there. */
  taskId: string;
  severity: 'success' | 'warning' | 'error';
  title: string;
  body: string;
}

const NOUN: Partial<Record<TaskKind, string>> = {
  backup: 'Backup',
  restore: 'Restore',
  verify: 'Verification',
  prune: 'Clean-up',
  'copy-files': 'File copy',
};

const FINAL = new Set<Task['state']>(['succeeded', 'failed', 'cancelled']);

/** Forget the oldest decisions beyond this many tasks. */
const REMEMBER = 500;

export class NotificationDecider {
  private readonly decided = new Set<string>();

  constructor(private readonly settings: () => AppSettings) {}

  /** Tasks that were already finished when the agent started: never announce them. */
  seed(tasks: readonly Task[]): void {
    for (const t of tasks) if (FINAL.has(t.state)) this.remember(t.id);
  }

  decide(task: Task): DesktopNotification | null {
    if (!FINAL.has(task.state) || this.decided.has(task.id)) return null;
    this.remember(task.id);
    const noun = NOUN[task.kind];
    const level = this.settings().notifications;
    if (!noun || level === 'off' || task.state === 'cancelled') return null;

    if (task.state === 'failed') {
      const words = describeError(task.error ?? { code: 'INTERNAL', message: 'no reason given' });
      // What happened (title), why and what to do (body), as the window says it.
      return {
        taskId: task.id,
        severity: 'error',
        title: `${noun} failed: ${task.title}`,
        body: sentences([words.title, words.message, words.hint]),
      };
    }
    const problems = task.problems ?? [];
    if (task.warnings.length > 0 || problems.length > 0) {
      const first = describeProblem(problems[0] ?? (task.warnings[0] as string));
      const count = Math.max(task.warnings.length, problems.length);
      const more = count > 1 ? ` (and ${count - 1} more)` : '';
      return {
        taskId: task.id,
        severity: 'warning',
        title: `${noun} succeeded with warnings: ${task.title}`,
        body: sentences([first.title + more, first.message, first.hint]),
      };
    }
    if (level !== 'all') return null;
    return { taskId: task.id, severity: 'success', title: `${noun} finished: ${task.title}`, body: summary(task) };
  }

  private remember(id: string): void {
    this.decided.add(id);
    if (this.decided.size > REMEMBER) this.decided.delete(this.decided.values().next().value as string);
  }
}

function sentences(parts: Array<string | undefined>): string {
  return parts
    .filter((p): p is string => !!p)
    .map((p) => (/[.!?]$/.test(p) ? p : `${p}.`))
    .join(' ');
}

function summary(task: Task): string {
  const parts: string[] = [];
  if (task.progress.bytesDone > 0) parts.push(`${formatBytes(task.progress.bytesDone)} processed`);
  if (task.finishedAt) {
    const seconds = (Date.parse(task.finishedAt) - Date.parse(task.startedAt)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) parts.push(`in ${formatDuration(seconds)}`);
  }
  return parts.length ? parts.join(' ') + '.' : 'Done.';
}
