// Runs jobs on their schedules, inside the helper, with or without anyone
// logged in.
//
// Per job it remembers the time up to which slots were handled, on disk.
// When a slot is due the job is started once and everything up to now is
// marked handled: after a night asleep or a week powered off, a job that
// missed seven slots runs once, not seven times. A slot that comes while the
// job is still running from before is skipped and logged, never queued.
//
// Timers alone cannot be trusted across suspend (they run on a clock that
// stops while the machine sleeps), so the scheduler also re-reads the wall
// clock at least every minute.
import type { Cron } from 'croner';
import { z } from 'zod';

import { type Schedule } from '../../common/contract';
import type { SourceLogger } from '../logs/logger';
import type { JsonFile } from '../persist/json-file';
import type { Clock } from './clock';
import { compileSchedule } from './schedule';

export const SchedulerFile = z.object({
  version: z.literal(1),
  /** Per job: slots up to this time are handled (ISO time). */
  handledUntil: z.record(z.string(), z.string()),
});

export interface SchedulableJob {
  id: string;
  name: string;
  schedule: Schedule;
  enabled: boolean;
}

export interface SchedulerOptions {
  clock: Clock;
  file: JsonFile<typeof SchedulerFile>;
  log: SourceLogger;
  jobs: () => SchedulableJob[];
  isRunning: (jobId: string) => boolean;
  /** Starts a run; the scheduler does not wait for it to finish. */
  start: (jobId: string, why: { slot: Date; missed: boolean }) => void;
  /** IANA time zone of the schedules (default: the system's). */
  timezone?: string;
  /** Longest sleep between two looks at the wall clock. */
  recheckMs?: number;
}

/** A slot older than this when noticed counts as missed (logged as a catch-up). */
const LATE_MS = 2 * 60_000;

export class Scheduler {
  private handled = new Map<string, Date>();
  private crons = new Map<string, { key: string; cron: Cron | null }>();
  private cancelTimer: (() => void) | null = null;
  private stopped = true;
  private evaluating: Promise<void> = Promise.resolve();

  constructor(private readonly options: SchedulerOptions) {}

  async start(): Promise<void> {
    const state = await this.options.file.load({ version: 1, handledUntil: {} });
    this.handled = new Map(Object.entries(state.handledUntil).map(([k, v]) => [k, new Date(v)]));
    this.stopped = false;
    await this.evaluate();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  /** When the job fires next (undefined: manual, disabled or stopped). */
  nextRun(job: SchedulableJob): Date | undefined {
    if (!job.enabled) return undefined;
    const cron = this.cronOf(job);
    if (!cron) return undefined;
    const from = this.handled.get(job.id) ?? this.options.clock.now();
    return cron.nextRun(from) ?? undefined;
  }

  /**
   * A job was created, changed or enabled: slots before now do not count
   * for it, so editing a schedule never triggers a catch-up run.
   */
  async reset(jobId: string): Promise<void> {
    this.handled.set(jobId, this.options.clock.now());
    this.crons.delete(jobId);
    await this.persist();
    this.rearm();
  }

  async forget(jobId: string): Promise<void> {
    this.handled.delete(jobId);
    this.crons.delete(jobId);
    await this.persist();
    this.rearm();
  }

  /** Looks at the clock now: starts what is due and arms the next wake-up. */
  evaluate(): Promise<void> {
    this.evaluating = this.evaluating.then(() => this.evaluateNow()).catch((e: unknown) => {
      this.options.log.error(`scheduler: ${e instanceof Error ? e.message : String(e)}`);
    });
    return this.evaluating;
  }

  /** Resolves when the evaluation under way (if any) is done (tests, shutdown). */
  idle(): Promise<void> {
    return this.evaluating;
  }

  private async evaluateNow(): Promise<void> {
    if (this.stopped) return;
    const now = this.options.clock.now();
    const jobs = this.options.jobs();
    let changed = false;
    for (const job of jobs) {
      if (!job.enabled) continue;
      let cron: Cron | null;
      try {
        cron = this.cronOf(job);
      } catch (e) {
        this.options.log.error(`job ${job.name}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if (!cron) continue;
      const from = this.handled.get(job.id);
      if (from === undefined) {
        // First sight (new job, or state lost): start counting from now.
        this.handled.set(job.id, now);
        changed = true;
        continue;
      }
      const slot = cron.nextRun(from);
      if (!slot || slot.getTime() > now.getTime()) continue;
      // Due. Everything up to now is handled by this one decision.
      this.handled.set(job.id, now);
      changed = true;
      const missed = now.getTime() - slot.getTime() > LATE_MS;
      if (this.options.isRunning(job.id)) {
        this.options.log.warn(`job ${job.name}: the run due at ${slot.toISOString()} is skipped, the previous run is still going`);
        continue;
      }
      // Persisted before the start: a crash during the run must not turn into a restart loop.
      await this.persist();
      changed = false;
      if (missed) this.options.log.info(`job ${job.name}: catching up the run missed at ${slot.toISOString()} (later missed runs fold into this one)`);
      else this.options.log.info(`job ${job.name}: scheduled run (${slot.toISOString()})`);
      try {
        this.options.start(job.id, { slot, missed });
      } catch (e) {
        this.options.log.error(`job ${job.name}: could not start: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // Jobs that no longer exist leave no state behind.
    const ids = new Set(jobs.map((j) => j.id));
    for (const id of [...this.handled.keys()])
      if (!ids.has(id)) {
        this.handled.delete(id);
        changed = true;
      }
    if (changed) await this.persist();
    this.rearm();
  }

  private rearm(): void {
    if (this.stopped) return;
    this.cancelTimer?.();
    const now = this.options.clock.now().getTime();
    let wake = now + (this.options.recheckMs ?? 60_000);
    for (const job of this.options.jobs()) {
      let next: Date | undefined;
      try {
        next = this.nextRun(job);
      } catch {
        continue;
      }
      if (next && next.getTime() < wake) wake = next.getTime();
    }
    this.cancelTimer = this.options.clock.setTimer(() => void this.evaluate(), Math.max(0, wake - now));
  }

  private cronOf(job: SchedulableJob): Cron | null {
    const key = JSON.stringify(job.schedule) + (this.options.timezone ?? '');
    const cached = this.crons.get(job.id);
    if (cached?.key === key) return cached.cron;
    const cron = compileSchedule(job.schedule, this.options.timezone);
    this.crons.set(job.id, { key, cron });
    return cron;
  }

  private persist(): Promise<void> {
    return this.options.file.save({
      version: 1,
      handledUntil: Object.fromEntries([...this.handled].map(([k, v]) => [k, v.toISOString()])),
    });
  }
}
