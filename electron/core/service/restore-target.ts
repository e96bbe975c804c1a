// What a restore would overwrite, and the refusals that protect the user:
// a mounted target, a device a running backup reads, the disk that holds the
// repository being restored from.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type Result } from '../../common/contract';
import type { DeviceDiscovery } from '../devices/discovery';
import { blockAncestry, majorMinor, nameOfDevno } from '../devices/sysfs';

export async function inspectTarget(target: string, discovery: DeviceDiscovery): Promise<Result<'restore.inspectTarget'>> {
  const st = await fs.stat(target).catch(() => null);
  if (!st) {
    const parent = await fs.stat(path.dirname(target)).catch(() => null);
    if (!parent?.isDirectory()) throw new AppError('NOT_FOUND', `the folder ${path.dirname(target)} does not exist`, { path: target });
    return { target, kind: 'new-file', sizeBytes: 0, mounted: false };
  }
  if (st.isFile()) return { target, kind: 'file', sizeBytes: st.size, mounted: false };
  if (!st.isBlockDevice()) throw new AppError('INVALID_ARGUMENT', `${target} is neither a block device nor a file`, { path: target });
  const device = await discovery.inspect(target);
  const all = await discovery.list();
  const mounted = device.mountpoints.length > 0 || all.some((d) => d.parent === device.name && d.mountpoints.length > 0);
  return { target, kind: 'device', sizeBytes: device.sizeBytes, device, mounted };
}

export interface BusyCheck {
  discovery: DeviceDiscovery;
  repositoryPath: string;
  /** Sources of the jobs running now. */
  liveSources: string[];
  sysRoot?: string;
}

export async function refuseBusyTarget(target: string, c: BusyCheck): Promise<void> {
  const info = await inspectTarget(target, c.discovery);
  if (info.kind !== 'device' || !info.device) {
    const real = await fs.realpath(target).catch(() => target);
    for (const s of c.liveSources)
      if ((await fs.realpath(s).catch(() => s)) === real)
        throw new AppError('DEVICE_BUSY', `${target} is being backed up right now`, { path: target });
    return;
  }
  if (info.mounted) throw new AppError('TARGET_MOUNTED', `${target} is mounted: unmount it (and its partitions) first`, { path: target });
  const dev = info.device;
  const holders = await fs.readdir(path.join(c.sysRoot ?? '/sys', 'class/block', dev.name, 'holders')).catch(() => [] as string[]);
  if (holders.length > 0) throw new AppError('DEVICE_BUSY', `${target} is in use by ${holders.join(', ')}`, { path: target, holders });
  for (const s of c.liveSources) {
    const st = await fs.stat(s).catch(() => null);
    if (st?.isBlockDevice() && majorMinor(st.rdev) === (await c.discovery.resolve(target)).devno)
      throw new AppError('DEVICE_BUSY', `${target} is being backed up right now`, { path: target });
  }
  // Restoring over the disk that holds the repository would destroy the backup being read.
  const repoDev = await fs.stat(c.repositoryPath).catch(() => null);
  if (repoDev) {
    const name = await nameOfDevno(c.sysRoot ?? '/sys', majorMinor(repoDev.dev));
    if (name !== null && (await blockAncestry(c.sysRoot ?? '/sys', name)).has(dev.name))
      throw new AppError('DEVICE_BUSY', `${target} holds the repository being restored from`, { path: target, repositoryPath: c.repositoryPath });
  }
}
