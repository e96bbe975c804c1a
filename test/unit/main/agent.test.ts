import { describe, expect, it } from 'vitest';

import { DEFAULT_APP_SETTINGS, type Job, type SystemInfo } from '../../../electron/common/contract';
import { coreHandlers, EventBus, LocalBackend } from '../../../electron/core/api/local-backend';
import { TrayAgent } from '../../../electron/main/agent';
import type { DesktopNotification } from '../../../electron/main/notifications';
import type { TrayModel } from '../../../electron/main/tray-model';
import { job, task } from './fixtures';

const info = (loaded: boolean): SystemInfo => ({
  appVersion: '0.1.0',
  hostname: 'h',
  kernel: '6.1.0',
  backend: 'local',
  module: { loaded, runningKernel: '6.1.0', builtFor: [], missingForKernels: [], secureBoot: 'unknown' },
});

/** Hand-written jobs/tasks handlers until the service serves them in process. */
function stubBackend(jobs: Job[], opts: { loaded?: boolean; locked?: boolean } = {}) {
  const bus = new EventBus();
  const runs: string[] = [];
  const backend = new LocalBackend(bus, {
    ...coreHandlers(),
    'system.info': () => info(opts.loaded ?? true),
    'jobs.list': () => jobs,
    'repos.list': () => [{ id: 'r1', name: 'Vault', path: '/media/usb/vault', encrypted: true, unlocked: !opts.locked, remembered: false, online: true }],
    'tasks.list': () => [task({ id: 'old', state: 'failed', finishedAt: '2026-03-02T09:00:00.000Z' })],
    'jobs.run': ({ id }) => {
      runs.push(id);
      return { taskId: 'tnew' };
    },
  });
  return { bus, backend, runs };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('tray agent (stub backend)', () => {
  it('follows task events into the tray and notifies once when a run ends', async () => {
    const jobs = [job()];
    const { bus, backend, runs } = stubBackend(jobs);
    const models: TrayModel[] = [];
    const notes: DesktopNotification[] = [];
    const agent = new TrayAgent({ backend, settings: () => DEFAULT_APP_SETTINGS, onModel: (m) => models.push(m), onNotify: (n) => notes.push(n), refreshMs: 0 });
    await agent.start();
    expect(models.at(-1)?.status).toBe('idle');

    bus.emit('task.updated', task({ id: 'tnew', progress: { phase: 'reading', bytesDone: 500, bytesTotal: 1000, bytesPerSecond: 0 } }));
    await until(() => models.at(-1)?.status === 'running');
    expect(models.at(-1)?.menu[0]).toEqual({ kind: 'label', label: 'Laptop disk: 50%' });

    jobs[0] = job({ lastRun: { at: '2026-03-02T10:05:00.000Z', status: 'succeeded' } });
    bus.emit('task.updated', task({ id: 'tnew', state: 'succeeded', finishedAt: '2026-03-02T10:05:00.000Z' }));
    await until(() => models.at(-1)?.status === 'idle');
    bus.emit('task.updated', task({ id: 'tnew', state: 'succeeded', finishedAt: '2026-03-02T10:05:00.000Z' }));
    await new Promise((r) => setTimeout(r, 20));
    expect(notes.map((n) => n.title)).toEqual(['Backup finished: Laptop disk']);
    expect(models.at(-1)?.menu[1]).toMatchObject({ label: expect.stringContaining('succeeded (Laptop disk)') });

    expect(await agent.backupNow('j1')).toBe('started');
    expect(runs).toEqual(['j1']);
    agent.stop();
  });

  it('does not start "Back up now" into a locked repository: the window asks for the passphrase', async () => {
    const { backend, runs } = stubBackend([job()], { locked: true });
    const agent = new TrayAgent({ backend, settings: () => DEFAULT_APP_SETTINGS, onModel: () => undefined, onNotify: () => undefined, refreshMs: 0 });
    await agent.start();
    expect(await agent.backupNow('j1')).toBe('needs-passphrase');
    expect(runs).toEqual([]);
    agent.stop();
  });

  it('flags a missing kernel module only when a job backs up a disk', async () => {
    const disk = stubBackend([job()], { loaded: false });
    const agent = new TrayAgent({ backend: disk.backend, settings: () => DEFAULT_APP_SETTINGS, onModel: () => undefined, onNotify: () => undefined, refreshMs: 0 });
    await agent.start();
    expect(agent.model()).toMatchObject({ status: 'attention', tooltip: 'Snapkeep: Kernel module not loaded: disk backups cannot run' });
    agent.stop();

    const image = stubBackend([job({ sources: ['/srv/images/vm.img'] })], { loaded: false });
    const agent2 = new TrayAgent({ backend: image.backend, settings: () => DEFAULT_APP_SETTINGS, onModel: () => undefined, onNotify: () => undefined, refreshMs: 0 });
    await agent2.start();
    expect(agent2.model().status).toBe('idle');
    agent2.stop();
  });

  it('keeps working, with an empty menu, when the service serves no jobs yet', async () => {
    const logged: string[] = [];
    const agent = new TrayAgent({
      backend: new LocalBackend(),
      settings: () => DEFAULT_APP_SETTINGS,
      onModel: () => undefined,
      onNotify: () => undefined,
      log: (m) => logged.push(m),
      refreshMs: 0,
    });
    await agent.start();
    expect(agent.model().menu[0]).toEqual({ kind: 'label', label: 'No backup jobs yet' });
    expect(logged.some((m) => m.includes('jobs.list'))).toBe(true);
    agent.stop();
  });
});
