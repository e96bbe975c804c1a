// Automatic verification after backups (a job's VerifyPolicy): counts the
// job's successful runs since its last automatic check and says when the
// next one is due. Kept in the service's state so the count survives a
// restart; the check itself is an ordinary verify task, whose outcome is
// recorded with the others (repos/verifications.ts) and notified.
import { z } from 'zod';

import type { VerifyPolicy } from '../../common/contract';
import type { JsonFile } from '../persist/json-file';

const WEEK_MS = 7 * 24 * 3600 * 1000;

export const AutoVerifyState = z.object({ runsSince: z.number().int().nonnegative(), lastAt: z.string().optional() });
export type AutoVerifyState = z.infer<typeof AutoVerifyState>;
export const AutoVerifyFile = z.object({ version: z.literal(1), jobs: z.record(z.string(), AutoVerifyState) });

/** Whether a check is due after a successful run (`state` counts that run already). */
export function verificationDue(policy: VerifyPolicy, state: AutoVerifyState, now: Date): boolean {
  if (policy.every.kind === 'runs') return state.runsSince >= policy.every.runs;
  return state.lastAt === undefined || now.getTime() - Date.parse(state.lastAt) >= WEEK_MS;
}

export class AutoVerify {
  private jobs: Record<string, AutoVerifyState> = {};

  constructor(private readonly file: JsonFile<typeof AutoVerifyFile>) {}

  async load(): Promise<void> {
    this.jobs = (await this.file.load({ version: 1, jobs: {} })).jobs;
  }

  /** Counts a successful run; true when the policy wants a check now (then the count starts again). */
  async afterRun(jobId: string, policy: VerifyPolicy | undefined, now: Date): Promise<boolean> {
    if (!policy) return false;
    const state = { ...(this.jobs[jobId] ?? { runsSince: 0 }) };
    state.runsSince++;
    const due = verificationDue(policy, state, now);
    this.jobs[jobId] = due ? { runsSince: 0, lastAt: now.toISOString() } : state;
    await this.file.save({ version: 1, jobs: this.jobs });
    return due;
  }

  async forget(jobId: string): Promise<void> {
    if (!(jobId in this.jobs)) return;
    delete this.jobs[jobId];
    await this.file.save({ version: 1, jobs: this.jobs });
  }
}
