// The whole Service in process (LocalBackend.open) behind the real
// dispatcher and RpcClient, with temporary directories: what web mode and
// the CLI get when no helper runs.
import { RpcClient } from '../../electron/common/rpc/client';
import type { Task } from '../../electron/common/contract';
import { LocalBackend } from '../../electron/core/api/local-backend';
import type { ServiceOptions } from '../../electron/core/service/service';
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
