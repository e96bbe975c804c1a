// What the tray shows, as plain data: the icon's state, the tooltip, and
// the menu (status, last and next backup, "Back up now", open, quit). The
// Electron glue (tray.ts) only renders it, so all of this is tested
// without Electron.
import type { Job, Task } from '../common/contract/domain';
import { formatPercent, formatRate, formatWhen } from '../common/format';

export type TrayStatus = 'idle' | 'running' | 'attention' | 'error';

export type TrayAction = { type: 'backup-now'; jobId: string } | { type: 'open' } | { type: 'quit' };

export type TrayMenuItem =
  | { kind: 'label'; label: string }
  | { kind: 'separator' }
  | { kind: 'action'; label: string; enabled: boolean; action: TrayAction }
  | { kind: 'submenu'; label: string; items: TrayMenuItem[] };

export interface TrayModel {
  status: TrayStatus;
  tooltip: string;
  menu: TrayMenuItem[];
}

export interface TrayInput {
  jobs: readonly Job[];
  /** Tasks the agent knows about (running and recently finished). */
  tasks: readonly Task[];
  /** Not loaded kernel module or unreachable service, in words; null when fine. */
  problem: string | null;
  /** The service runs inside this app (no helper): quitting stops the schedules. */
  schedulesInApp?: boolean;
  now: Date;
}

function statusLine(input: TrayInput, running: Task[], lastFailed: Job | undefined): [TrayStatus, string] {
  if (running.length > 0) {
    const t = running[0] as Task;
    const pct = formatPercent(t.progress.bytesDone, t.progress.bytesTotal);
    const rate = t.progress.bytesPerSecond > 0 ? `, ${formatRate(t.progress.bytesPerSecond)}` : '';
    const others = running.length > 1 ? ` (+${running.length - 1} more)` : '';
    return ['running', `${t.title}: ${pct}%${rate}${others}`];
  }
  if (lastFailed) return ['error', `Last backup of "${lastFailed.name}" failed`];
  if (input.problem) return ['attention', input.problem];
  if (input.jobs.length === 0) return ['idle', 'No backup jobs yet'];
  return ['idle', 'Backups are up to date'];
}

const RESULT_WORDS = { succeeded: 'succeeded', warnings: 'succeeded with warnings', failed: 'failed', cancelled: 'cancelled' } as const;

export function trayModel(input: TrayInput): TrayModel {
  const running = input.tasks.filter((t) => t.state === 'running' || t.state === 'queued');
  const lastFailed = input.jobs.find((j) => j.enabled && j.lastRun?.status === 'failed' && !j.running);
  const [status, line] = statusLine(input, running, lastFailed);

  const last = input.jobs
    .filter((j) => j.lastRun)
    .sort((a, b) => Date.parse(b.lastRun!.at) - Date.parse(a.lastRun!.at))[0];
  const next = input.jobs
    .filter((j) => j.enabled && j.nextRun)
    .sort((a, b) => Date.parse(a.nextRun!) - Date.parse(b.nextRun!))[0];
  const lastLine = last
    ? `Last backup: ${formatWhen(last.lastRun!.at, input.now)}, ${RESULT_WORDS[last.lastRun!.result ?? last.lastRun!.status]} (${last.name})`
    : 'Last backup: never';
  const nextLine = next ? `Next backup: ${formatWhen(next.nextRun!, input.now)} (${next.name})` : 'Next backup: none scheduled';

  const backupNow = (j: Job, label: string): TrayMenuItem => ({
    kind: 'action',
    label: j.running ? `${label} (running)` : label,
    enabled: !j.running,
    action: { type: 'backup-now', jobId: j.id },
  });
  let backupItem: TrayMenuItem;
  if (input.jobs.length === 0) backupItem = { kind: 'label', label: 'Back up now (no jobs yet)' };
  else if (input.jobs.length === 1) backupItem = backupNow(input.jobs[0] as Job, 'Back up now');
  else backupItem = { kind: 'submenu', label: 'Back up now', items: input.jobs.map((j) => backupNow(j, j.name)) };

  return {
    status,
    tooltip: `Snapkeep: ${line}`,
    menu: [
      { kind: 'label', label: line },
      { kind: 'label', label: lastLine },
      { kind: 'label', label: nextLine },
      { kind: 'separator' },
      backupItem,
      { kind: 'action', label: 'Open Snapkeep', enabled: true, action: { type: 'open' } },
      { kind: 'separator' },
      {
        kind: 'action',
        label: input.schedulesInApp ? 'Quit Snapkeep (scheduled backups stop too)' : 'Quit Snapkeep',
        enabled: true,
        action: { type: 'quit' },
      },
    ],
  };
}
