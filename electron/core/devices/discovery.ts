// Devices as the Devices view and the job wizard see them: sysfs facts,
// what is on them (udev or blkid), where they are mounted, how full, and
// whether a live snapshot is possible.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type Device } from '../../common/contract';
import { probeBlkid, probeUdev, type FsFacts } from './fs-probe';
import { readMountinfo, type MountEntry } from './mountinfo';
import { REAL_ROOTS, type SystemRoots } from './roots';
import { snapshotSupport, type ModuleState } from './snapshot-support';
import { majorMinor, nameOfDevno, readBlockDevice, readBlockDevices, type BlockDevice } from './sysfs';

export interface DiscoveryOptions {
  roots?: SystemRoots;
  /**
   * How to learn what a device holds: udev's database, then blkid when we
   * may open devices (root). 'none' skips probing (tests with fixtures).
   */
  probe?: 'auto' | 'udev-only' | 'none';
  module: () => Promise<ModuleState>;
}

export class DeviceDiscovery {
  private readonly roots: SystemRoots;

  constructor(private readonly options: DiscoveryOptions) {
    this.roots = options.roots ?? REAL_ROOTS;
  }

  async list(): Promise<Device[]> {
    const [raw, mounts, module] = await Promise.all([
      readBlockDevices(this.roots.sys),
      readMountinfo(this.roots.mountinfo),
      this.options.module(),
    ]);
    return Promise.all(raw.map((d) => this.describe(d, mounts, module)));
  }

  /** One device by a path under /dev (symlinks such as /dev/disk/by-id/... allowed). */
  async inspect(devicePath: string): Promise<Device> {
    const dev = await this.resolve(devicePath);
    const [mounts, module] = await Promise.all([readMountinfo(this.roots.mountinfo), this.options.module()]);
    return this.describe(dev, mounts, module);
  }

  /** The sysfs entry of a device node; DEVICE_NOT_FOUND for anything that is not a block device. */
  async resolve(devicePath: string): Promise<BlockDevice> {
    let st;
    try {
      st = await fs.stat(devicePath);
    } catch {
      throw new AppError('DEVICE_NOT_FOUND', `${devicePath} does not exist`, { path: devicePath });
    }
    if (!st.isBlockDevice()) throw new AppError('DEVICE_NOT_FOUND', `${devicePath} is not a block device`, { path: devicePath });
    const devno = majorMinor(st.rdev);
    const name = await nameOfDevno(this.roots.sys, devno);
    const dev = name === null ? null : await readBlockDevice(this.roots.sys, name);
    if (!dev) throw new AppError('DEVICE_NOT_FOUND', `${devicePath} (${devno}) is not known to the kernel`, { path: devicePath, devno });
    return dev;
  }

  devicePath(dev: BlockDevice): string {
    return dev.dmName !== undefined ? path.join(this.roots.dev, 'mapper', dev.dmName) : path.join(this.roots.dev, dev.name);
  }

  private async describe(dev: BlockDevice, mounts: MountEntry[], module: ModuleState): Promise<Device> {
    const devPath = this.devicePath(dev);
    const mine = mounts.filter((m) => m.devno === dev.devno || m.source === devPath || m.source === path.join(this.roots.dev, dev.name));
    const mountpoints = [...new Set(mine.map((m) => m.mountpoint))];
    const facts = await this.probe(dev, devPath);
    const device: Device = {
      name: dev.name,
      path: devPath,
      kind: dev.kind,
      sizeBytes: dev.sizeBytes,
      logicalBlockSize: dev.logicalBlockSize,
      removable: dev.removable,
      readOnly: dev.readOnly,
      mountpoints,
      snapshot: { possible: false },
    };
    if (dev.parent !== undefined) device.parent = dev.parent;
    const model = dev.model ?? facts.model;
    if (model !== undefined) device.model = model;
    const serial = dev.serial ?? facts.serial;
    if (serial !== undefined) device.serial = serial;
    const fsType = facts.fsType ?? mine[0]?.fsType;
    if (fsType !== undefined) device.fsType = fsType;
    if (facts.fsUuid !== undefined) device.fsUuid = facts.fsUuid;
    if (facts.fsLabel !== undefined) device.fsLabel = facts.fsLabel;
    if (facts.partTableType !== undefined) device.partTableType = facts.partTableType;
    const first = mine.find((m) => m.root === '/') ?? mine[0];
    if (first) {
      const used = await usedBytes(first.mountpoint);
      if (used !== undefined) device.fsUsedBytes = used;
    }
    device.snapshot = snapshotSupport(device, module);
    return device;
  }

  private async probe(dev: BlockDevice, devPath: string): Promise<FsFacts> {
    const mode = this.options.probe ?? 'auto';
    if (mode === 'none') return {};
    const udev = await probeUdev(this.roots.udevData, dev.devno);
    if (udev) return udev;
    // Opening devices needs root; an ordinary user gets sysfs facts only.
    if (mode === 'auto' && process.getuid?.() === 0) return probeBlkid(devPath);
    return {};
  }
}

async function usedBytes(mountpoint: string): Promise<number | undefined> {
  try {
    const s = await fs.statfs(mountpoint);
    return Math.max(0, (s.blocks - s.bfree) * s.bsize);
  } catch {
    return undefined;
  }
}
