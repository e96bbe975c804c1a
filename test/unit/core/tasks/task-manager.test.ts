// Tasks: progress with rate and time left, cancellation that reaches the
// body through its AbortSignal, failures carried as ErrorInfo, and the
// 'task.updated' events a client follows.
import { describe, expect, it } from 'vitest';

import { AppError, type Task } from '../../../../electron/common/contract';
import { EventBus } from '../../../../electron/core/api/event-bus';
import { Logger } from '../../../../electron/core/logs/logger';
import { TaskManager } from '../../../../electron/core/tasks/task-manager';

function setup() {
  const bus = new EventBus();
  const events: Task[] = [];
  bus.listen((name, payload) => name === 'task.updated' && events.push(payload as Task));
  let t = Date.parse('2025-01-01T00:00:00Z');
  const tm = new TaskManager({ bus, logger: new Logger(), now: () => new Date(t), emitIntervalMs: 0 });
  return { tm, events, tick: (ms: number) => (t += ms) };
}

describe('TaskManager', () => {
  it('reports progress with a rate and the time left, and the result at the end', async () => {
    const { tm, events, tick } = setup();
    let step!: () => void;
    const gate = new Promise<void>((r) => (step = r));
    const task = tm.start({ kind: 'verify', title: 'Verify x', repositoryId: 'r1' }, async (ctx) => {
      ctx.progress({ phase: 'verifying', bytesDone: 0, bytesTotal: 1000 });
      // time left is given once the phase ran for 2 s (tasks/rate.ts)
      tick(2000);
      ctx.progress({ phase: 'verifying', bytesDone: 500, bytesTotal: 1000 });
      await gate;
      return { ok: true };
    });
    expect(task.state).toBe('running');
    const mid = tm.get(task.id);
    expect(mid.progress).toMatchObject({ phase: 'verifying', bytesDone: 500, bytesTotal: 1000, bytesPerSecond: 250, etaSeconds: 2 });
    step();
    const done = await tm.wait(task.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toEqual({ ok: true });
    expect(done.finishedAt).toBeDefined();
    expect(events.at(-1)?.state).toBe('succeeded');
    expect(events[0]?.state).toBe('running');
  });

  it('cancels through the AbortSignal and records the task as cancelled', async () => {
    const { tm } = setup();
    const task = tm.start({ kind: 'backup', title: 'Back up', jobId: 'j1' }, (ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new AppError('CANCELLED', 'stopped')))),
    );
    tm.cancel(task.id);
    const done = await tm.wait(task.id);
    expect(done.state).toBe('cancelled');
    expect(done.error?.code).toBe('CANCELLED');
    tm.cancel(task.id); // a finished task: nothing happens
    expect(() => tm.cancel('nope')).toThrow(/no task nope/);
  });

  it('carries the code and details of a failure, and turns bugs into INTERNAL with the message', async () => {
    const { tm } = setup();
    const a = tm.start({ kind: 'restore', title: 'Restore' }, async () => {
      throw new AppError('TARGET_TOO_SMALL', 'too small', { target: '/dev/x' });
    });
    expect((await tm.wait(a.id)).error).toEqual({ code: 'TARGET_TOO_SMALL', message: 'too small', details: { target: '/dev/x' } });
    const b = tm.start({ kind: 'restore', title: 'Restore' }, async () => {
      throw new TypeError('x is undefined');
    });
    const failed = await tm.wait(b.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toEqual({ code: 'INTERNAL', message: 'x is undefined' });
  });

  it('keeps warnings and lists running tasks; cancelAll waits for every body to clean up', async () => {
    const { tm } = setup();
    let cleaned = 0;
    const body = async (ctx: Parameters<Parameters<TaskManager['start']>[1]>[0]) => {
      ctx.warn('low storage');
      await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
      await new Promise((r) => setImmediate(r));
      cleaned++;
      ctx.throwIfCancelled();
      return undefined;
    };
    const a = tm.start({ kind: 'backup', title: 'a' }, body);
    tm.start({ kind: 'backup', title: 'b' }, body);
    expect(tm.running()).toHaveLength(2);
    expect(tm.get(a.id).warnings).toEqual(['low storage']);
    await tm.cancelAll();
    expect(cleaned).toBe(2);
    expect(tm.running()).toHaveLength(0);
    expect(tm.list().map((t) => t.state)).toEqual(['cancelled', 'cancelled']);
  });
});
