// The holder's side of a lock: keep it fresh, notice when time passed
// without a refresh, and stop the work when the lock cannot be proven.
//
// Others judge a lock by wall-clock age, but Node timers run on the
// monotonic clock, which stands still while the machine is suspended and a
// SIGSTOPped process runs no timers at all. So a short poll compares both
// clocks against the last successful refresh: a refresh is due after
// `refreshMs`; once `staleMs - 1.5 * refreshMs` passed (restic's
// refreshability timeout) another process may already have judged the lock
// stale, and the holder re-proves it (file still there and unchanged,
// nobody took the repository meanwhile) before anything is written again.
// Writers call `assertHeld()` before each commit step; it waits for a
// running proof. A refresh error is kept and retried, and becomes the reason
// when the deadline passes: never swallowed.
import { performance } from 'node:perf_hooks';

import { AppError } from '../../common/contract';
import { LOCK_REFRESH_MS, LOCK_STALE_MS } from './format';

export interface LockTiming {
  staleMs: number;
  refreshMs: number;
  /** Wait after writing a lock before trusting a listing (NAS directory caches). */
  settleMs: number;
}

function envMs(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The timing in force; tests shorten it through SNAPKEEP_TEST_LOCK_* (nothing else sets them). */
export function lockTiming(): LockTiming {
  return {
    staleMs: envMs('SNAPKEEP_TEST_LOCK_STALE_MS') ?? LOCK_STALE_MS,
    refreshMs: envMs('SNAPKEEP_TEST_LOCK_REFRESH_MS') ?? LOCK_REFRESH_MS,
    settleMs: envMs('SNAPKEEP_TEST_LOCK_SETTLE_MS') ?? 200,
  };
}

export interface MonitorHooks {
  /** Rewrites the lock with a new time; throws an AppError('REPO_LOCKED') when it is no longer ours. */
  refresh(): Promise<void>;
  /** Full proof after a gap: refresh, settle, re-read, nobody took the repository. Throws like refresh. */
  prove(): Promise<void>;
  /** A cheap check before a commit step: the lock file is still there and ours. */
  check(): Promise<void>;
  /** The error to stop with, built from a cause. */
  lost(why: string, cause?: unknown): AppError;
}

export class LockMonitor {
  private readonly controller = new AbortController();
  private lastWall = Date.now();
  private lastMono = performance.now();
  private lastAttemptMono = performance.now();
  private inFlight: Promise<void> | null = null;
  private lastError: unknown = null;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly timing: LockTiming,
    private readonly hooks: MonitorHooks,
  ) {
    // Poll often and cheaply (two clock reads); the work happens only when due.
    const poll = Math.max(10, Math.min(1000, timing.refreshMs / 5));
    this.timer = setInterval(() => this.tick(), poll);
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Milliseconds since the last successful refresh, by whichever clock says more. */
  private elapsed(): number {
    return Math.max(Date.now() - this.lastWall, performance.now() - this.lastMono);
  }

  private get proveAfter(): number {
    return Math.max(0, this.timing.staleMs - 1.5 * this.timing.refreshMs);
  }

  private tick(): void {
    if (this.stopped || this.inFlight) return;
    const gap = this.elapsed();
    if (gap >= this.proveAfter) this.run('prove');
    // After a failed refresh, retry at the poll rate's fifth of the refresh period, not every poll.
    else if (gap >= this.timing.refreshMs && performance.now() - this.lastAttemptMono >= this.timing.refreshMs / 5) this.run('refresh');
  }

  private run(what: 'prove' | 'refresh'): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const wall = Date.now();
    const mono = performance.now();
    this.lastAttemptMono = mono;
    const p = (async () => {
      try {
        await (what === 'prove' ? this.hooks.prove() : this.hooks.refresh());
        if (this.stopped) return;
        // Counted from before the write: the lock file says at least this.
        this.lastWall = wall;
        this.lastMono = mono;
        this.lastError = null;
      } catch (e) {
        if (this.stopped) return;
        if (what === 'prove' || (e instanceof AppError && e.code === 'REPO_LOCKED')) this.lose(e);
        else this.lastError = e; // retried; the reason if the deadline passes
      }
    })().finally(() => {
      this.inFlight = null;
    });
    this.inFlight = p;
    return p;
  }

  private lose(e: unknown): void {
    if (this.controller.signal.aborted) return;
    const err =
      e instanceof AppError && e.code === 'REPO_LOCKED'
        ? e
        : this.hooks.lost(
            this.lastError !== null
              ? `could not be refreshed (${errText(this.lastError)}) and then not proven (${errText(e)})`
              : `could not be proven (${errText(e)})`,
            e,
          );
    this.stop();
    this.controller.abort(err);
  }

  /**
   * Resolves when the lock is still ours; throws the reason otherwise.
   * Call before every write that others must not see from a holder that
   * lost its lock (index, chunk lists, manifest, deletions).
   */
  async assertHeld(): Promise<void> {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
    if (this.inFlight) await this.inFlight;
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
    if (this.elapsed() >= this.proveAfter) await this.run('prove');
    else {
      try {
        await this.hooks.check();
      } catch (e) {
        this.lose(e);
      }
    }
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Waits for a refresh or proof in progress (before the lock file is removed). */
  async settle(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
