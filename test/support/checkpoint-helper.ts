// A real helper (startHelper) on a socket in a temporary folder, with the
// boot tool and menu mocked (checkpoint-machine.ts): for tests of what
// talks to the helper about checkpoints (the CLI, apt's hooks).
import { chmodSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { startHelper, type RunningHelper } from '../../electron/helper/serve';
import { mockMachine, type MockMachine } from './checkpoint-machine';
import { tempServiceDirs } from './temp-dirs';

export interface CheckpointHelper {
  tmp: ReturnType<typeof tempServiceDirs>;
  m: MockMachine;
  helper: RunningHelper;
  /** The helper's socket (0666, group "users"). */
  sock: string;
  /** Stops the helper and removes the folder. */
  stop(): Promise<void>;
}

export async function startCheckpointHelper(): Promise<CheckpointHelper> {
  const tmp = tempServiceDirs();
  chmodSync(tmp.root, 0o755);
  const m = mockMachine(tmp.root);
  const sock = path.join(tmp.root, 'helper.sock');
  // This boot's id, as the kernel gives it (automatic checkpoints count boots by it).
  writeFileSync(path.join(tmp.root, 'boot_id'), 'a0000000-0000-4000-8000-000000000001\n');
  const helper = await startHelper({
    dirs: tmp.dirs,
    socketPath: sock,
    socketMode: 0o666,
    group: 'users',
    service: { checkpoints: m.options, bootIdFile: path.join(tmp.root, 'boot_id'), tracking: { config: path.join(tmp.root, 'boot.conf'), storeDir: path.join(tmp.root, 'maps') } },
  });
  return {
    tmp,
    m,
    helper,
    sock,
    async stop() {
      await helper.stop();
      tmp.remove();
    },
  };
}
