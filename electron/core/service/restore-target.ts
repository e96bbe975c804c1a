// What a restore would overwrite, and the refusals that protect the user:
// a mounted target, a device a running backup reads, the disk that holds the
// repository being restored from. A file target is seen, opened and created
// as the one who asked (access/caller-files.ts), and the restore writes
// through that descriptor; a device target is a block device node whatever
// path named it, restored only after the checks (and, for a member of the
// helper's group, polkit's authorization).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type Result } from '../../common/contract';
import type { Identity } from '../../../native';
import { openRestoreFile, statAs } from '../access/caller-files';
import type { DeviceDiscovery } from '../devices/discovery';
import { blockAncestry, majorMinor, nameOfDevno } from '../devices/sysfs';

/** A block device, by the kernel's own record (root's view: device nodes are root's business). */
async function blockDevice(target: string): Promise<boolean> {
  return (await fs.stat(target).catch(() => null))?.isBlockDevice() ?? false;
}

export async function inspectTarget(target: string, discovery: DeviceDiscovery, who: Identity | null = null): Promise<Result<'restore.inspectTarget'>> {
  if (await blockDevice(target)) {
    const device = await discovery.inspect(target);
    const all = await discovery.list();
    const mounted = device.mountpoints.length > 0 || all.some((d) => d.parent === device.name && d.mountpoints.length > 0);
    return { target, kind: 'device', sizeBytes: device.sizeBytes, device, mounted };
  }
  // Files as the caller sees them: nothing about a folder they cannot enter.
  const st = await statAs(who, target, false);
  if (!st) {
    const parent = await statAs(who, path.dirname(target));
    if (!parent?.isDirectory()) throw new AppError('NOT_FOUND', `the folder ${path.dirname(target)} does not exist`, { path: target });
    return { target, kind: 'new-file', sizeBytes: 0, mounted: false };
  }
  if (st.isSymbolicLink())
    throw new AppError('INVALID_ARGUMENT', `${target} is a symbolic link: name the file or device it points to`, { path: target });
  if (st.isFile()) return { target, kind: 'file', sizeBytes: st.size, mounted: false };
  throw new AppError('INVALID_ARGUMENT', `${target} is neither a block device nor a file`, { path: target });
}

export interface BusyCheck {
  discovery: DeviceDiscovery;
  repositoryPath: string;
  /** Sources of the jobs running now. */
  liveSources: string[];
  sysRoot?: string;
}

/** The refusals for a block device target (mounted, held, read by a running backup, holding the repository). */
export async function refuseBusyDevice(target: string, c: BusyCheck): Promise<void> {
  const info = await inspectTarget(target, c.discovery);
  if (info.kind !== 'device' || !info.device) throw new AppError('INVALID_ARGUMENT', `${target} is not a block device`, { path: target });
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

export interface PreparedTarget {
  kind: 'device' | 'file';
  /** What the engine opens: the device node, or /proc/self/fd/N of the file opened as the caller. */
  path: string;
  close(): void;
}

export interface PrepareOptions extends BusyCheck {
  /** Who asked, for a file target (null: this process). */
  who: Identity | null;
  /** Throws unless the caller may restore over this device (polkit for members). */
  authorizeDevice: (device: string) => Promise<void>;
}

/** Checks the target and makes it ready to write; the caller closes it when the restore ends. */
export async function prepareRestoreTarget(target: string, o: PrepareOptions): Promise<PreparedTarget> {
  if (await blockDevice(target)) {
    // The node the kernel names, not the path given (a link could be re-pointed after the checks).
    const node = o.discovery.devicePath(await o.discovery.resolve(target));
    await refuseBusyDevice(node, o);
    await o.authorizeDevice(node);
    return { kind: 'device', path: node, close: () => undefined };
  }
  const file = await openRestoreFile(o.who, target);
  try {
    for (const s of o.liveSources) {
      const st = await fs.stat(s).catch(() => null);
      if (st?.isFile() && st.dev === file.stat.dev && st.ino === file.stat.ino)
        throw new AppError('DEVICE_BUSY', `${target} is being backed up right now`, { path: target });
    }
  } catch (e) {
    file.close();
    throw e;
  }
  return { kind: 'file', path: file.procPath, close: () => file.close() };
}
