// The scheduler against a fake clock: on-time runs, one catch-up after a
// long power-off or sleep (not one per missed slot), no second run while
// one is going, edits that do not trigger runs, and DST changes in a real
// time zone (Europe/Berlin) through croner's rules.
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Schedule } from '../../../../electron/common/contract';
import { Logger } from '../../../../electron/core/logs/logger';
import { JsonFile } from '../../../../electron/core/persist/json-file';
import { cronPattern } from '../../../../electron/common/schedule-pattern';
import { compileSchedule } from '../../../../electron/core/scheduler/schedule';
import { Scheduler, SchedulerFile, type SchedulableJob } from '../../../../electron/core/scheduler/scheduler';
import { FakeClock } from '../../../support/fake-clock';
import { tempDir } from '../../../support/temp-dirs';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir('snapkeep-sched-')));
afterEach(() => tmp.remove());

interface Harness {
  clock: FakeClock;
  scheduler: Scheduler;
  runs: Array<{ jobId: string; at: string; slot: string; missed: boolean }>;
  running: Set<string>;
  logger: Logger;
  advance(ms: number): Promise<void>;
}

function harness(clock: FakeClock, jobs: SchedulableJob[], timezone = 'UTC'): Harness {
  const runs: Harness['runs'] = [];
  const running = new Set<string>();
  const logger = new Logger();
  const scheduler = new Scheduler({
    clock,
    file: new JsonFile(path.join(tmp.dir, 'scheduler.json'), SchedulerFile),
    log: logger.for('scheduler'),
    jobs: () => jobs,
    isRunning: (id) => running.has(id),
    start: (jobId, why) => runs.push({ jobId, at: clock.now().toISOString(), slot: why.slot.toISOString(), missed: why.missed }),
    timezone,
  });
  return { clock, scheduler, runs, running, logger, advance: (ms) => clock.advance(ms, () => scheduler.idle()) };
}

const job = (id: string, schedule: Schedule, enabled = true): SchedulableJob => ({ id, name: id, schedule, enabled });
const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('schedules', () => {
  it('writes presets as the cron patterns they mean', () => {
    expect(cronPattern({ kind: 'hourly', minute: 5 })).toBe('5 * * * *');
    expect(cronPattern({ kind: 'daily', at: '02:30' })).toBe('30 2 * * *');
    expect(cronPattern({ kind: 'weekly', day: 0, at: '23:05' })).toBe('5 23 * * 0');
    expect(cronPattern({ kind: 'manual' })).toBeNull();
  });

  it('refuses expressions that do not parse, have seconds, or never fire', () => {
    expect(() => compileSchedule({ kind: 'cron', expression: '61 * * * *' })).toThrow(/schedule "61 \* \* \* \*"/);
    expect(() => compileSchedule({ kind: 'cron', expression: '*/5 * * * * *' })).toThrow(/INVALID|schedule/);
    expect(() => compileSchedule({ kind: 'cron', expression: '0 0 31 2 *' })).toThrow(/never fires/);
    expect(compileSchedule({ kind: 'cron', expression: '15 3 * * 1-5' })).not.toBeNull();
  });
});

describe('Scheduler', () => {
  it('runs a job at each slot, on time, and reports the next run', async () => {
    const h = harness(new FakeClock('2025-06-02T10:00:30Z'), [job('a', { kind: 'hourly', minute: 15 })]);
    await h.scheduler.start();
    expect(h.scheduler.nextRun(job('a', { kind: 'hourly', minute: 15 }))?.toISOString()).toBe('2025-06-02T10:15:00.000Z');
    await h.advance(14 * 60_000);
    expect(h.runs).toEqual([]);
    await h.advance(60_000);
    expect(h.runs).toEqual([{ jobId: 'a', at: '2025-06-02T10:15:00.000Z', slot: '2025-06-02T10:15:00.000Z', missed: false }]);
    await h.advance(3 * HOUR);
    expect(h.runs.map((r) => r.at)).toEqual(['2025-06-02T10:15:00.000Z', '2025-06-02T11:15:00.000Z', '2025-06-02T12:15:00.000Z', '2025-06-02T13:15:00.000Z']);
    h.scheduler.stop();
  });

  it('catches up once after a week powered off, then keeps the normal rhythm', async () => {
    const daily = job('d', { kind: 'daily', at: '02:00' });
    const clock = new FakeClock('2025-06-02T01:00:00Z');
    const before = harness(clock, [daily]);
    await before.scheduler.start();
    await before.advance(2 * HOUR); // 03:00: the 02:00 run happened
    expect(before.runs.map((r) => r.at)).toEqual(['2025-06-02T02:00:00.000Z']);
    before.scheduler.stop(); // power off

    clock.jump('2025-06-09T12:00:00Z'); // seven 02:00 slots missed
    const after = harness(clock, [daily]); // a new process reads the persisted state
    await after.scheduler.start();
    expect(after.runs).toEqual([{ jobId: 'd', at: '2025-06-09T12:00:00.000Z', slot: '2025-06-03T02:00:00.000Z', missed: true }]);
    expect(after.logger.list(10).some((e) => /catching up the run missed at 2025-06-03T02:00/.test(e.message))).toBe(true);
    await after.advance(DAY);
    expect(after.runs.map((r) => r.at)).toEqual(['2025-06-09T12:00:00.000Z', '2025-06-10T02:00:00.000Z']);
    after.scheduler.stop();
  });

  it('catches up once after the machine slept through slots while the service kept running', async () => {
    const h = harness(new FakeClock('2025-06-02T09:50:00Z'), [job('a', { kind: 'hourly', minute: 0 })]);
    await h.scheduler.start();
    // Suspend: the wall clock moves five hours, no timer fires meanwhile.
    h.clock.jump('2025-06-02T15:20:00Z');
    expect(h.runs).toEqual([]);
    // On resume the pending timer (armed for <= 1 minute of clock time) fires and re-reads the wall clock.
    await h.advance(60_000);
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]).toMatchObject({ slot: '2025-06-02T10:00:00.000Z', missed: true });
    await h.advance(HOUR);
    expect(h.runs.map((r) => r.at)).toEqual(['2025-06-02T15:20:00.000Z', '2025-06-02T16:00:00.000Z']);
    h.scheduler.stop();
  });

  it('never starts a second run of a job that is still running: the slot is skipped and logged', async () => {
    const h = harness(new FakeClock('2025-06-02T09:59:00Z'), [job('a', { kind: 'hourly', minute: 0 })]);
    await h.scheduler.start();
    await h.advance(60_000);
    expect(h.runs).toHaveLength(1);
    h.running.add('a'); // the 10:00 run takes more than an hour
    await h.advance(HOUR);
    expect(h.runs).toHaveLength(1);
    expect(h.logger.list(10).some((e) => e.level === 'warn' && /2025-06-02T11:00:00.000Z is skipped, the previous run is still going/.test(e.message))).toBe(true);
    h.running.delete('a');
    await h.advance(30 * 60_000);
    expect(h.runs).toHaveLength(1); // no late start of the skipped slot
    await h.advance(30 * 60_000);
    expect(h.runs.map((r) => r.at)).toEqual(['2025-06-02T10:00:00.000Z', '2025-06-02T12:00:00.000Z']);
    h.scheduler.stop();
  });

  it('does not run a job created or edited after its slot passed, nor disabled or manual jobs', async () => {
    const jobs = [job('a', { kind: 'daily', at: '08:00' }), job('off', { kind: 'hourly', minute: 0 }, false), job('m', { kind: 'manual' })];
    const h = harness(new FakeClock('2025-06-02T09:00:00Z'), jobs);
    await h.scheduler.start();
    await h.scheduler.reset('a');
    await h.advance(5 * HOUR);
    expect(h.runs).toEqual([]);
    // Editing a schedule so that a slot lies in the past: still no catch-up.
    jobs[0] = job('a', { kind: 'daily', at: '10:00' });
    await h.scheduler.reset('a');
    await h.advance(60_000);
    expect(h.runs).toEqual([]);
    await h.advance(DAY);
    expect(h.runs.map((r) => `${r.jobId}@${r.at}`)).toEqual(['a@2025-06-03T10:00:00.000Z']);
    h.scheduler.stop();
  });

  it('handles the spring-forward gap in Europe/Berlin: a 02:30 job runs once that day, right after the gap', async () => {
    const h = harness(new FakeClock('2025-03-28T12:00:00Z'), [job('a', { kind: 'daily', at: '02:30' })], 'Europe/Berlin');
    await h.scheduler.start();
    await h.advance(4 * DAY);
    // 28 Mar CET (UTC+1); 30 Mar 02:00 -> 03:00 CEST (UTC+2): 02:30 does not exist.
    expect(h.runs.map((r) => r.at)).toEqual([
      '2025-03-29T01:30:00.000Z', // 02:30 CET
      '2025-03-30T01:00:00.000Z', // 03:00 CEST, first valid time after the gap
      '2025-03-31T00:30:00.000Z', // 02:30 CEST
      '2025-04-01T00:30:00.000Z',
    ]);
    h.scheduler.stop();
  });

  it('handles the fall-back repeat in Europe/Berlin: a 02:30 job runs once, an hourly job every real hour', async () => {
    const h = harness(new FakeClock('2025-10-25T12:00:00Z'), [job('d', { kind: 'daily', at: '02:30' }), job('h', { kind: 'hourly', minute: 0 })], 'Europe/Berlin');
    await h.scheduler.start();
    await h.advance(2 * DAY);
    const daily = h.runs.filter((r) => r.jobId === 'd').map((r) => r.at);
    // 26 Oct 03:00 CEST -> 02:00 CET: 02:30 happens twice, the job runs at the first.
    expect(daily).toEqual(['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']);
    // The local day of 26 Oct has 25 hours: 25 hourly runs between its midnights.
    const hourly = h.runs.filter((r) => r.jobId === 'h' && r.at >= '2025-10-25T22:00:00.000Z' && r.at < '2025-10-26T23:00:00.000Z');
    expect(hourly).toHaveLength(25);
    expect(new Set(hourly.map((r) => r.at)).size).toBe(25);
    h.scheduler.stop();
  });

  it('persists what it handled, so a restart right after a run does not run it again', async () => {
    const clock = new FakeClock('2025-06-02T09:59:00Z');
    const first = harness(clock, [job('a', { kind: 'hourly', minute: 0 })]);
    await first.scheduler.start();
    await first.advance(90_000);
    expect(first.runs).toHaveLength(1);
    first.scheduler.stop();
    const second = harness(clock, [job('a', { kind: 'hourly', minute: 0 })]);
    await second.scheduler.start();
    expect(second.runs).toHaveLength(0);
    second.scheduler.stop();
  });
});
