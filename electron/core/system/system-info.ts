import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { SystemInfo } from '../../common/contract';
import { APP_VERSION } from '../../common/version';
import { moduleStatus } from './module-status';

export interface SystemInfoOptions {
  /** Whether this process runs the schedules (the helper, serve, the app without the helper). */
  schedules: boolean;
}

/** Where a package puts the helper's launcher (build/linux/postinst). */
const PACKAGED_HELPER = '/usr/bin/snapkeep-helper';

/**
 * The install command that exists here: the packaged launcher, or this
 * source tree's helper run by this node. A command that does not exist on
 * this machine must never be shown.
 */
export function installCommand(user: string | undefined, o: { packaged?: string; helperJs?: string; node?: string } = {}): string {
  const packaged = o.packaged ?? PACKAGED_HELPER;
  const helperJs = o.helperJs ?? path.resolve(__dirname, '../../helper/main.js');
  const base = existsSync(packaged) ? 'snapkeep-helper' : `${o.node ?? process.execPath} ${helperJs}`;
  return `sudo ${base} install${user && user !== 'root' ? ` --user ${user}` : ''}`;
}

export async function systemInfo(backend: SystemInfo['backend'], o: SystemInfoOptions = { schedules: false }): Promise<SystemInfo> {
  const uid = process.getuid?.() ?? 0;
  let user: string | undefined;
  try {
    user = os.userInfo().username;
  } catch {
    user = undefined; // a uid without a passwd entry (containers)
  }
  return {
    appVersion: APP_VERSION,
    hostname: os.hostname(),
    kernel: os.release(),
    backend,
    module: await moduleStatus(),
    service: {
      uid,
      root: uid === 0,
      schedules: !o.schedules ? 'off' : backend === 'helper' ? 'always' : 'while-running',
      installCommand: installCommand(user),
    },
  };
}
