// Long work (backup, restore, verify, prune, mount, copy) runs as a task: it
// has an id the UI follows, progress with rate and time left, warnings, a
// result, and can be cancelled. Updates are pushed as 'task.updated' events,
// at most a few per second per task, and always on a state change.
import { AppError, isAppError, type Progress, type Task, type TaskKind } from '../../common/contract';
import type { EventBus } from '../api/event-bus';
import type { Logger, SourceLogger } from '../logs/logger';
import { newId } from '../persist/ids';
import { RateMeter } from './rate';

export interface TaskSpec {
  kind: TaskKind;
  title: string;
  jobId?: string;
  repositoryId?: string;
}

/** What a running task's body can do. */
export interface TaskContext {
  readonly id: string;
  readonly signal: AbortSignal;
  readonly log: SourceLogger;
  /** Reports progress; rate and time left are computed unless given. */
  progress(p: Pick<Progress, 'phase'> & Partial<Omit<Progress, 'phase'>>): void;
  warn(message: string): void;
  /** Throws AppError('CANCELLED') once the task was cancelled. */
  throwIfCancelled(): void;
}

export type TaskBody = (ctx: TaskContext) => Promise<Record<string, unknown> | undefined>;

export interface TaskManagerOptions {
  bus: EventBus;
  logger: Logger;
  now?: () => Date;
  /** Finished tasks remembered for tasks.list / tasks.get. */
  keepFinished?: number;
  /** Minimum time between two progress events of one task. */
  emitIntervalMs?: number;
}

interface Entry {
  task: Task;
  controller: AbortController;
  done: Promise<Task>;
  meter: RateMeter;
  lastEmit: number;
  timer: NodeJS.Timeout | null;
}

const isFinished = (t: Task) => t.state === 'succeeded' || t.state === 'failed' || t.state === 'cancelled';

export function cancelledError(what = 'cancelled'): AppError {
  return new AppError('CANCELLED', what);
}

export class TaskManager {
  private readonly tasks = new Map<string, Entry>();
  private readonly now: () => Date;

  constructor(private readonly options: TaskManagerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Starts `body` now; returns the task as it is at the start. */
  start(spec: TaskSpec, body: TaskBody): Task {
    const id = newId('t', this.now());
    const controller = new AbortController();
    const task: Task = {
      id,
      kind: spec.kind,
      title: spec.title,
      ...(spec.jobId !== undefined && { jobId: spec.jobId }),
      ...(spec.repositoryId !== undefined && { repositoryId: spec.repositoryId }),
      state: 'running',
      startedAt: this.now().toISOString(),
      progress: { phase: 'starting', bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0 },
      warnings: [],
    };
    const log = this.options.logger.for(spec.jobId ? `job:${spec.jobId}` : `task:${spec.kind}`);
    const entry: Entry = { task, controller, done: Promise.resolve(task), meter: new RateMeter(), lastEmit: 0, timer: null };
    this.tasks.set(id, entry);

    let phase = '';
    const ctx: TaskContext = {
      id,
      signal: controller.signal,
      log,
      progress: (p) => {
        if (isFinished(entry.task)) return;
        const at = this.now().getTime();
        if (p.phase !== phase) {
          phase = p.phase;
          entry.meter.reset();
        }
        const bytesDone = p.bytesDone ?? 0;
        const bytesTotal = p.bytesTotal ?? 0;
        const rate = p.bytesPerSecond ?? entry.meter.sample(at, bytesDone);
        const eta = p.etaSeconds ?? entry.meter.eta(bytesDone, bytesTotal);
        entry.task.progress = {
          phase: p.phase,
          bytesDone,
          bytesTotal,
          bytesPerSecond: rate,
          ...(eta !== undefined && { etaSeconds: eta }),
          ...(p.message !== undefined && { message: p.message }),
          ...(p.upload !== undefined && { upload: p.upload }),
        };
        this.emitSoon(entry);
      },
      warn: (message) => {
        entry.task.warnings.push(message);
        log.warn(message);
        this.emitNow(entry);
      },
      throwIfCancelled: () => {
        if (controller.signal.aborted) throw cancelledError();
      },
    };

    log.info(`${spec.title}: started (task ${id})`);
    this.emitNow(entry);
    entry.done = this.runBody(entry, body, ctx, log);
    this.trim();
    return structuredClone(task);
  }

  get(id: string): Task {
    const entry = this.tasks.get(id);
    if (!entry) throw new AppError('NOT_FOUND', `no task ${id}`, { taskId: id });
    return structuredClone(entry.task);
  }

  list(): Task[] {
    return [...this.tasks.values()].map((e) => structuredClone(e.task));
  }

  /** Asks a task to stop; a finished task is left as it is. */
  cancel(id: string): void {
    const entry = this.tasks.get(id);
    if (!entry) throw new AppError('NOT_FOUND', `no task ${id}`, { taskId: id });
    if (isFinished(entry.task) || entry.controller.signal.aborted) return;
    this.options.logger.for('tasks').info(`${entry.task.title}: cancel requested (task ${id})`);
    entry.controller.abort(cancelledError());
  }

  /** Resolves with the task once it finished (never rejects). */
  async wait(id: string): Promise<Task> {
    const entry = this.tasks.get(id);
    if (!entry) throw new AppError('NOT_FOUND', `no task ${id}`, { taskId: id });
    await entry.done;
    return structuredClone(entry.task);
  }

  running(): Task[] {
    return this.list().filter((t) => !isFinished(t));
  }

  /** Cancels everything and waits for the bodies to clean up (shutdown). */
  async cancelAll(): Promise<void> {
    const entries = [...this.tasks.values()].filter((e) => !isFinished(e.task));
    for (const e of entries) e.controller.abort(cancelledError('the service is stopping'));
    await Promise.all(entries.map((e) => e.done));
  }

  private async runBody(entry: Entry, body: TaskBody, ctx: TaskContext, log: SourceLogger): Promise<Task> {
    const task = entry.task;
    try {
      const result = await body(ctx);
      // Cancelled after the body finished its work: the work stands.
      task.state = 'succeeded';
      if (result !== undefined) task.result = result;
      log.info(`${task.title}: succeeded`);
    } catch (e) {
      const cancelled = entry.controller.signal.aborted || (isAppError(e) && e.code === 'CANCELLED');
      const err = isAppError(e) ? e : new AppError(cancelled ? 'CANCELLED' : 'INTERNAL', e instanceof Error ? e.message : String(e));
      task.state = cancelled ? 'cancelled' : 'failed';
      task.error = cancelled && err.code !== 'CANCELLED' ? new AppError('CANCELLED', 'cancelled').toInfo() : err.toInfo();
      if (cancelled) log.info(`${task.title}: cancelled`);
      else log.error(`${task.title}: failed: ${err.message}`);
      if (!isAppError(e) && e instanceof Error && e.stack) log.debug(e.stack);
    }
    task.finishedAt = this.now().toISOString();
    this.emitNow(entry);
    return task;
  }

  private emitNow(entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    entry.lastEmit = Date.now();
    this.options.bus.emit('task.updated', structuredClone(entry.task));
  }

  private emitSoon(entry: Entry): void {
    const interval = this.options.emitIntervalMs ?? 250;
    const wait = entry.lastEmit + interval - Date.now();
    if (wait <= 0) return this.emitNow(entry);
    entry.timer ??= setTimeout(() => this.emitNow(entry), wait);
  }

  private trim(): void {
    const keep = this.options.keepFinished ?? 100;
    const finished = [...this.tasks.values()].filter((e) => isFinished(e.task));
    for (const e of finished.slice(0, Math.max(0, finished.length - keep))) this.tasks.delete(e.task.id);
  }
}
