// A job's schedule as a cron pattern, and when it next fires. Presets are
// written as the cron patterns they mean, so presets and expressions share
// one code path, including croner's DST rules (a fixed time inside a
// spring-forward gap runs right after it; a fixed time that occurs twice at
// fall-back runs once).
import { Cron } from 'croner';

import { AppError, type Schedule } from '../../common/contract';
import { cronPattern } from '../../common/schedule-pattern';

/** A compiled schedule; null for manual jobs. Throws INVALID_ARGUMENT for a bad expression. */
export function compileSchedule(s: Schedule, timezone?: string): Cron | null {
  const pattern = cronPattern(s);
  if (pattern === null) return null;
  let cron: Cron;
  try {
    // Five fields only: minute resolution; a backup every second is a typo.
    cron = new Cron(pattern, { paused: true, mode: '5-part', ...(timezone !== undefined && { timezone }) });
  } catch (e) {
    throw new AppError('INVALID_ARGUMENT', `schedule "${pattern}": ${e instanceof Error ? e.message : String(e)}`, { pattern });
  }
  if (cron.nextRun(new Date()) === null) throw new AppError('INVALID_ARGUMENT', `schedule "${pattern}" never fires`, { pattern });
  return cron;
}

/** First time strictly after `after` at which the schedule fires. */
export function nextFire(cron: Cron, after: Date): Date | null {
  return cron.nextRun(after);
}
