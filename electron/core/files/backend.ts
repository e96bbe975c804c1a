// How the service opens a restore point for file restore, in one place:
// the kernel's nbd client when it can (root, nbd module), else the point's
// disk exported as a file through FUSE (fuse-export.ts) with its file
// systems opened by the kernel or in user space (open-filesystems.ts).
// Either way the result is a PointMount with a PointFiles, so files.* work
// the same; Mount.access says which way was taken.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, isAppError } from '../../common/contract';
import type { RepositoryHandle } from '../engine/api';
import { findFreeNbd } from '../nbd/attach';
import { mountPoint, unmountDevice } from '../nbd/mount';
import type { MountBackend, PointMount } from '../service/mount-manager';
import { exportPoint, unmountFuse } from './fuse-export';
import { HostTree } from './host-tree';
import { openFilesystems } from './open-filesystems';
import { run } from './run';

export interface FileRestoreOptions {
  /** Try the kernel's nbd client first (default: when root). */
  nbd?: boolean;
  /** Which readers come first for the exported disk (default: the kernel when root). */
  prefer?: 'kernel' | 'user-space';
  /** Said when the nbd path is not taken, and why. */
  log?: (message: string) => void;
}

const isRoot = () => process.getuid?.() === 0;

/** The nbd path cannot be used here (module missing, every device busy): fall back, do not fail. */
function nbdUnusable(e: unknown): boolean {
  if (!isAppError(e) || e.code !== 'DEVICE_BUSY') return false;
  const reason = e.details?.['reason'];
  return reason === 'nbd-unavailable' || reason === 'nbd-all-busy' || /nbd (kernel )?module|\/dev\/nbd device/i.test(e.message);
}

async function viaNbd(repo: RepositoryHandle, o: { pointId: string; source: string; baseDir: string }): Promise<PointMount> {
  const m = await mountPoint(repo, { pointId: o.pointId, source: o.source, baseDir: o.baseDir, mountFilesystems: true });
  const roots = m.state.filesystems.map((f) => f.mountpoint).filter((x): x is string => x !== undefined);
  return {
    device: m.state.device,
    access: 'nbd',
    filesystems: m.state.filesystems.map((f) => (f.mountpoint ? { ...f, reader: 'kernel' as const } : f)),
    files: new HostTree(roots),
    finished: m.finished,
    unmount: () => m.unmount(),
  };
}

async function viaExport(repo: RepositoryHandle, o: { pointId: string; source: string; baseDir: string }, opts: FileRestoreOptions): Promise<PointMount> {
  const point = (await repo.listPoints()).find((p) => p.id === o.pointId);
  if (!point) throw new AppError('NOT_FOUND', `no restore point ${o.pointId}`, { pointId: o.pointId });
  const layout = point.devices.find((d) => d.source === o.source);
  if (!layout) throw new AppError('NOT_FOUND', `restore point ${o.pointId} has no device ${o.source}`, { pointId: o.pointId, source: o.source });
  await fs.mkdir(o.baseDir, { recursive: true, mode: 0o700 });
  const reader = await repo.openReader(o.pointId, o.source);
  let exp;
  try {
    exp = await exportPoint(reader, o.baseDir);
  } catch (e) {
    await reader.close();
    throw e;
  }
  let opened;
  try {
    opened = await openFilesystems(exp, layout, o.baseDir, { prefer: opts.prefer ?? (isRoot() ? 'kernel' : 'user-space'), root: isRoot() });
  } catch (e) {
    await exp.close();
    await reader.close();
    throw e;
  }
  // One close at a time, and every caller waits for it: nbdfuse exiting
  // (finished) and an unmount can both ask. A close that failed (a file
  // still open: DEVICE_BUSY) can be asked again and does the work again.
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await opened.close();
      await exp.close();
      await reader.close();
    })().catch((e: unknown) => {
      closing = undefined;
      throw e;
    });
    return closing;
  };
  return {
    device: exp.file,
    access: 'export',
    filesystems: opened.filesystems,
    files: opened.files,
    // nbdfuse gone (killed, unmounted by hand): take the rest down too.
    finished: exp.finished.then(() => close().catch(() => undefined)),
    unmount: close,
  };
}

export function fileRestoreBackend(opts: FileRestoreOptions = {}): MountBackend {
  return {
    async mount(repo, o) {
      if (opts.nbd ?? isRoot()) {
        try {
          await findFreeNbd();
          return await viaNbd(repo, o);
        } catch (e) {
          if (!nbdUnusable(e)) throw e;
          opts.log?.(`file restore without nbd: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return viaExport(repo, o, opts);
    },

    /** What a killed service left: an nbd device, or mounts under a point's folder. */
    async release(device) {
      if (device.startsWith('/dev/nbd')) {
        await unmountDevice(device);
        return;
      }
      // <baseDir>/export/disk: unmount everything below <baseDir>, deepest first, then its loops.
      const base = path.dirname(path.dirname(device));
      const info = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
      const mps = info
        .split('\n')
        .map((l) => l.split(' ')[4])
        .filter((m): m is string => m !== undefined && (m === base || m.startsWith(`${base}/`)))
        .sort((a, b) => b.length - a.length);
      for (const mp of mps) if (!(await unmountFuse(mp))) await unmountFuse(mp, true);
      const loops = await run('losetup', ['-j', device]);
      for (const line of loops.stdout.split('\n')) {
        const dev = /^(\/dev\/loop\d+):/.exec(line)?.[1];
        if (dev) await run('losetup', ['-d', dev]);
      }
      await fs.rm(base, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
