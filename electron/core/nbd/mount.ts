// File-level restore: serve one device of a restore point over NBD, attach
// it as /dev/nbdN and mount its file systems read-only. The state of each
// mount is kept in /run/snapkeep/mounts/<nbdN>.json so another process
// (`snapkeep umount`, the helper) can take it down.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { z } from 'zod';

import { AppError } from '../../common/contract';
import type { RepositoryHandle } from '../engine/api';
import { type MountedFs, attachNbd, detachNbd, findFreeNbd, mountAll, unmountAll } from './attach';
import { startNbdServer } from './server';

export const RUN_DIR = process.env['SNAPKEEP_RUN_DIR'] ?? '/run/snapkeep';
/** NBD devices in use by Snapkeep, for udev (10-snapkeep.rules names /run/snapkeep/claims). */
const CLAIMS_DIR = path.join(RUN_DIR, 'claims');

const MountState = z.object({
  device: z.string(),
  pid: z.number().int(),
  pointId: z.string(),
  source: z.string(),
  socketPath: z.string(),
  baseDir: z.string(),
  filesystems: z.array(z.object({ device: z.string(), fsType: z.string().optional(), label: z.string().optional(), mountpoint: z.string().optional(), error: z.string().optional() })),
});
export type MountState = z.infer<typeof MountState>;

const stateFile = (device: string) => path.join(RUN_DIR, 'mounts', `${path.basename(device)}.json`);

export interface ActiveMount {
  state: MountState;
  /** Resolves when the device was detached (by umount or by us). */
  finished: Promise<void>;
  unmount(): Promise<void>;
}

export async function mountPoint(
  repo: RepositoryHandle,
  opts: { pointId: string; source: string; device?: string; baseDir?: string; mountFilesystems?: boolean },
): Promise<ActiveMount> {
  // The device first: a point reader opened before a failure here would stay open.
  const device = opts.device ?? (await findFreeNbd());
  await fs.mkdir(path.join(RUN_DIR, 'mounts'), { recursive: true, mode: 0o700 });
  const reader = await repo.openReader(opts.pointId, opts.source);
  const socketPath = path.join(RUN_DIR, `nbd-${path.basename(device)}-${randomBytes(4).toString('hex')}.sock`);
  const server = await startNbdServer({ reader, socketPath, exportName: opts.pointId }).catch(async (e: unknown) => {
    await reader.close();
    throw e;
  });
  const baseDir = opts.baseDir ?? path.join(RUN_DIR, 'mnt', path.basename(device));
  let filesystems: MountedFs[] = [];
  try {
    await attachNbd(device, socketPath, opts.pointId, CLAIMS_DIR);
    if (opts.mountFilesystems !== false) filesystems = await mountAll(device, baseDir);
  } catch (e) {
    await detachNbd(device, CLAIMS_DIR);
    await server.close();
    await reader.close();
    throw e;
  }
  const state: MountState = { device, pid: process.pid, pointId: opts.pointId, source: opts.source, socketPath, baseDir, filesystems };
  await fs.writeFile(stateFile(device), JSON.stringify(state));
  let done = false;
  const cleanup = async () => {
    if (done) return;
    done = true;
    await server.close();
    await reader.close();
    await fs.rm(stateFile(device), { force: true });
  };
  const finished = server.finished.then(cleanup);
  return {
    state,
    finished,
    async unmount() {
      await unmountAll(filesystems);
      await detachNbd(device, CLAIMS_DIR);
      await cleanup();
    },
  };
}

/** Takes down a mount made by any process: file systems, then the device. */
export async function unmountDevice(deviceOrMountpoint: string): Promise<MountState> {
  let file = stateFile(deviceOrMountpoint);
  let text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) {
    for (const f of await fs.readdir(path.join(RUN_DIR, 'mounts')).catch(() => [] as string[])) {
      const t = await fs.readFile(path.join(RUN_DIR, 'mounts', f), 'utf8').catch(() => '');
      const s = MountState.safeParse(JSON.parse(t || '{}'));
      if (s.success && s.data.filesystems.some((m) => m.mountpoint === path.resolve(deviceOrMountpoint))) {
        file = path.join(RUN_DIR, 'mounts', f);
        text = t;
      }
    }
  }
  if (text === undefined) throw new AppError('NOT_FOUND', `no Snapkeep mount on ${deviceOrMountpoint}`);
  const state = MountState.parse(JSON.parse(text));
  await unmountAll(state.filesystems);
  await detachNbd(state.device, CLAIMS_DIR);
  await fs.rm(file, { force: true });
  return state;
}
