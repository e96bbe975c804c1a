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
  const reader = await repo.openReader(opts.pointId, opts.source);
  // From here on every failure undoes what was done, in reverse order, and
  // always closes the reader: it holds the repository's lock (issue 19: a
  // failed open left it held, and every later prune said "busy").
  const undo: Array<() => Promise<unknown>> = [() => reader.close()];
  let device = '';
  let server: Awaited<ReturnType<typeof startNbdServer>>;
  let baseDir = '';
  let socketPath = '';
  let filesystems: MountedFs[] = [];
  let state: MountState;
  try {
    device = opts.device ?? (await findFreeNbd());
    await fs.mkdir(path.join(RUN_DIR, 'mounts'), { recursive: true, mode: 0o700 });
    socketPath = path.join(RUN_DIR, `nbd-${path.basename(device)}-${randomBytes(4).toString('hex')}.sock`);
    server = await startNbdServer({ reader, socketPath, exportName: opts.pointId });
    const started = server;
    undo.push(() => started.close());
    baseDir = opts.baseDir ?? path.join(RUN_DIR, 'mnt', path.basename(device));
    await attachNbd(device, socketPath, opts.pointId, CLAIMS_DIR);
    undo.push(() => detachNbd(device, CLAIMS_DIR));
    if (opts.mountFilesystems !== false) filesystems = await mountAll(device, baseDir);
    undo.push(() => unmountAll(filesystems));
    state = { device, pid: process.pid, pointId: opts.pointId, source: opts.source, socketPath, baseDir, filesystems };
    await fs.writeFile(stateFile(device), JSON.stringify(state));
  } catch (e) {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    throw e;
  }
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
