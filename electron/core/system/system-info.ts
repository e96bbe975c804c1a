import * as os from 'node:os';

import type { SystemInfo } from '../../common/contract';
import { APP_VERSION } from '../../common/version';
import { moduleStatus } from './module-status';

export async function systemInfo(backend: SystemInfo['backend']): Promise<SystemInfo> {
  return {
    appVersion: APP_VERSION,
    hostname: os.hostname(),
    kernel: os.release(),
    backend,
    module: await moduleStatus(),
  };
}
