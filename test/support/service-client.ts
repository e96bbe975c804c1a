// The whole Service in process (LocalBackend.open) behind the real
// dispatcher and RpcClient, with temporary directories: what web mode and
// the CLI get when no helper runs.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { RpcClient } from '../../electron/common/rpc/client';
import type { Task } from '../../electron/common/contract';
import { LocalBackend } from '../../electron/core/api/local-backend';
import type { ServiceOptions } from '../../electron/core/service/service';
import type { ServiceDirs } from '../../electron/core/persist/dirs';
import { memoryTransport } from './memory-transport';
import { tempServiceDirs } from './temp-dirs';

export interface ServiceClient {
  client: RpcClient;
  backend: LocalBackend;
  dirs: ReturnType<typeof tempServiceDirs>;
  /** Polls until the task finished; no deadline of its own (the test's timeout is the limit). */
  waitTask(taskId: string): Promise<Task>;
  /** Resolves with the task once `pred` holds for it (progress phases and the like). */
  waitFor(taskId: string, pred: (t: Task) => boolean): Promise<Task>;
  close(): Promise<void>;
}

export async function openServiceClient(options: Partial<ServiceOptions> = {}): Promise<ServiceClient> {
  const dirs = tempServiceDirs();
  const backend = await LocalBackend.open({ dirs: dirs.dirs, ...options });
  const client = new RpcClient(await memoryTransport(backend));
  const waitFor = async (taskId: string, pred: (t: Task) => boolean) => {
    for (;;) {
      const t = await client.call('tasks.get', { taskId });
      if (pred(t)) return t;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    client,
    backend,
    dirs,
    waitFor,
    waitTask: (id) => waitFor(id, (t) => t.state !== 'running' && t.state !== 'queued'),
    close: async () => {
      client.close();
      await backend.close();
      dirs.remove();
    },
  };
}

/**
 * A service that a test stops and starts again over the same directories,
 * as the helper is after a reboot: `start()` (stopping the running one
 * first) gives a fresh client, `stop()` closes it.
 */
export function restartableService(dirs: () => ServiceDirs, options: Partial<ServiceOptions> = {}) {
  let open: { backend: LocalBackend; client: RpcClient } | null = null;
  const stop = async (): Promise<void> => {
    if (!open) return;
    open.client.close();
    await open.backend.close();
    open = null;
  };
  const start = async (): Promise<RpcClient> => {
    await stop();
    const backend = await LocalBackend.open({ dirs: dirs(), ...options });
    open = { backend, client: new RpcClient(await memoryTransport(backend)) };
    return open.client;
  };
  return { start, stop };
}

/** Polls a task until it finished; no deadline of its own (the test's timeout is the limit). */
export async function waitTask(c: RpcClient, taskId: string): Promise<Task> {
  for (;;) {
    const task = await c.call('tasks.get', { taskId });
    if (task.state !== 'running' && task.state !== 'queued') return task;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every file under the service's state directory, as text: where a kept secret would be. */
export function stateText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}
