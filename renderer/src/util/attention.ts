// What needs the user's attention, most urgent first: the dashboard leads
// with it and the tray agent can say the first item. Pure (no Vue, no DOM)
// and derived only from what the service reports, so it is tested with
// plain objects and cannot drift from the state it summarises.
//
// Order: failed runs (a backup that is not happening is the worst news),
// then what will make the next scheduled run fail (a locked repository, an
// unreachable destination, the kernel module for a job backing up a disk in
// use), then low destination space, then checkpoints that need a decision
// (one that can no longer be rolled back, a store nearly full, a rollback
// done or cut short), then runs that succeeded with warnings.
import { checkpointState, type Checkpoint, type ErrorInfo, type HistoryEntry, type Job, type ModuleStatus, type Repository } from '@common/contract';
import { formatBytes, formatWhen } from '@common/format';

import { describeError, describeProblem } from '@/errors/words';

export type AttentionKind = 'failed' | 'locked' | 'remembered-fails' | 'offline' | 'module' | 'space' | 'checkpoint' | 'warnings';

export interface AttentionItem {
  kind: AttentionKind;
  severity: 'error' | 'warn';
  /** What happened, with the name of what it is about. */
  title: string;
  /** Why, in words. */
  message: string;
  /** What to do. */
  hint?: string;
  jobId?: string;
  repositoryId?: string;
  checkpointId?: string;
  /** The error behind it, for "Show details". */
  error?: ErrorInfo;
}

export interface AttentionInput {
  jobs: readonly Job[];
  repositories: readonly Repository[];
  history: readonly HistoryEntry[];
  module?: ModuleStatus | undefined;
  checkpoints?: readonly Checkpoint[];
  now: Date;
}

/** From this share of its store on, an active checkpoint needs attention: the next big write fills it. */
export const CHECKPOINT_STORE_WARN = 0.8;

/** Below this share of the destination free, the space is low whatever the runs add. */
const LOW_FREE_SHARE = 0.05;
/** Room kept for a run beyond what the biggest recent run added. */
const RUN_MARGIN = 1.25;

const RANK: Record<AttentionKind, number> = { failed: 0, locked: 1, 'remembered-fails': 1, offline: 2, module: 3, space: 4, checkpoint: 5, warnings: 6 };

const scheduled = (j: Job) => j.enabled && j.schedule.kind !== 'manual';
const when = (j: Job, now: Date) => (j.nextRun ? ` (${formatWhen(j.nextRun, now)})` : '');
const names = (js: readonly Job[]) => js.map((j) => `“${j.name}”`).join(', ');

export function attentionItems(input: AttentionInput): AttentionItem[] {
  const { jobs, repositories, history, now } = input;
  const items: AttentionItem[] = [];

  for (const j of jobs) {
    const last = j.lastRun;
    if (!last || j.running) continue;
    const result = last.result ?? last.status;
    if (result === 'failed') {
      const why = describeError(last.error ?? { code: 'INTERNAL', message: 'no reason was recorded' });
      items.push({
        kind: 'failed',
        severity: 'error',
        title: `Backup “${j.name}” failed ${formatWhen(last.at, now)}: ${why.title}`,
        message: why.message,
        ...(why.hint && { hint: why.hint }),
        jobId: j.id,
        ...(last.error && { error: last.error }),
      });
    } else if (result === 'warnings') {
      const first = last.problems?.[0] ?? last.warnings?.[0];
      const p = first !== undefined ? describeProblem(first) : { title: 'Something did not work', message: 'The details are in the run history.', technical: '' };
      items.push({
        kind: 'warnings',
        severity: 'warn',
        title: `Backup “${j.name}” succeeded with warnings ${formatWhen(last.at, now)}: ${p.title}`,
        message: p.message,
        ...(p.hint && { hint: p.hint }),
        jobId: j.id,
        ...(last.error && { error: last.error }),
      });
    }
  }

  for (const r of repositories) {
    const users = jobs.filter((j) => j.repositoryId === r.id && scheduled(j));
    if (users.length === 0) continue;
    const next = [...users].sort((a, b) => Date.parse(a.nextRun ?? '9999') - Date.parse(b.nextRun ?? '9999'))[0] as Job;
    if (!r.online) {
      items.push({
        kind: 'offline',
        severity: 'warn',
        title: `${r.name} is not reachable`,
        message: `The next scheduled backup of “${next.name}”${when(next, now)} will fail unless the disk or folder holding ${r.path} is there.`,
        hint: 'Plug in the disk that holds it, or edit the job to use another repository.',
        repositoryId: r.id,
      });
    } else if (r.encrypted && !r.unlocked) {
      items.push({
        kind: r.remembered ? 'remembered-fails' : 'locked',
        severity: 'warn',
        title: r.remembered ? `The remembered passphrase of ${r.name} no longer opens it` : `${r.name} is locked`,
        message: `The next scheduled backup of “${next.name}”${when(next, now)} needs its passphrase and will fail while it is locked.`,
        hint: 'Unlock it; "Remember on this computer" keeps scheduled backups running after a restart.',
        repositoryId: r.id,
      });
    }
  }

  const live = jobs.filter((j) => j.enabled && j.sources.some((s) => s.startsWith('/dev/')));
  if (input.module && !input.module.loaded && live.length > 0) {
    items.push({
      kind: 'module',
      severity: 'warn',
      title: 'The kernel module is not loaded',
      message: `${names(live)} back${live.length === 1 ? 's' : ''} up disks in use, which needs the Snapkeep kernel module.`,
      hint: 'Open Setup to install it.',
    });
  }

  for (const r of repositories) {
    if (!r.online || r.freeBytes === undefined) continue;
    const users = new Set(jobs.filter((j) => j.repositoryId === r.id).map((j) => j.id));
    if (users.size === 0) continue;
    const recent = history.filter((h) => users.has(h.jobId)).slice(0, 20);
    const biggest = Math.max(0, ...recent.map((h) => h.storedBytes ?? h.bytesWritten));
    const total = (r.storedBytes ?? 0) + r.freeBytes;
    const tooSmall = biggest > 0 && r.freeBytes < biggest * RUN_MARGIN;
    const lowShare = total > 0 && r.freeBytes < total * LOW_FREE_SHARE;
    if (!tooSmall && !lowShare) continue;
    items.push({
      kind: 'space',
      severity: tooSmall ? 'error' : 'warn',
      title: `${r.name} is running out of space`,
      message: tooSmall
        ? `It has ${formatBytes(r.freeBytes)} free, and a recent backup added ${formatBytes(biggest)}: the next one may not fit.`
        : `It has ${formatBytes(r.freeBytes)} free, less than ${Math.round(LOW_FREE_SHARE * 100)} % of its disk.`,
      hint: 'Remove old restore points (Restore points, Clean up now), free space on that disk, or keep fewer restore points.',
      repositoryId: r.id,
    });
  }

  for (const c of input.checkpoints ?? []) {
    const item = checkpointAttention(c);
    if (item) items.push(item);
  }

  return items.sort((a, b) => RANK[a.kind] - RANK[b.kind]);
}

function checkpointAttention(c: Checkpoint): AttentionItem | null {
  const base = { kind: 'checkpoint' as const, ...(c.id !== undefined && { checkpointId: c.id }) };
  const title = `Checkpoint “${c.name}”`;
  const used = c.store.sizeBytes > 0 ? c.store.usedBytes / c.store.sizeBytes : 0;
  if (c.state === 'active' && c.attached && used >= CHECKPOINT_STORE_WARN)
    return {
      ...base,
      severity: 'warn',
      title: `${title} is nearly full`,
      message: `Its store is ${Math.round(used * 100)} % full (${formatBytes(c.store.usedBytes)} of ${formatBytes(c.store.sizeBytes)}); when it is full, the checkpoint can no longer be rolled back.`,
      hint: 'If the upgrade went well, end it (keep the changes); otherwise roll back soon.',
    };
  if (c.state === 'active' && c.attached) return null;
  if (c.state === 'committed' || c.state === 'abandoned') return null;
  const words = checkpointState(c);
  return {
    ...base,
    severity: c.state === 'rolled-back' ? 'warn' : 'error',
    title: c.state === 'rolled-back' ? `This computer was rolled back to checkpoint “${c.name}”` : `${title}: ${words.label.toLowerCase()}`,
    message: words.text,
    hint: c.state === 'rolling-back' ? 'Restart the computer to finish the rollback.' : 'Open Checkpoints to see it and free its store.',
  };
}
