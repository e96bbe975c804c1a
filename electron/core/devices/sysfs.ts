// Block devices as the kernel lists them in /sys/class/block. Only sysfs is
// read here: no device is opened, so listing is safe and needs no root.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Device } from '../../common/contract';

export interface BlockDevice {
  name: string; // kernel name: sda1, dm-0
  devno: string; // "8:1"
  kind: Device['kind'];
  /** The disk of a partition. */
  parent?: string;
  sizeBytes: number;
  logicalBlockSize: number;
  removable: boolean;
  readOnly: boolean;
  model?: string;
  serial?: string;
  /** dm devices: the name under /dev/mapper. */
  dmName?: string;
  /** Devices this one is built on (dm, md, loop has none). */
  slaves: string[];
}

/**
 * Devices not worth listing: RAM disks, compressed swap, floppies and
 * optical drives, and the snapshot images the snapkeep module itself creates
 * (backing them up would back up a backup's view of a disk).
 */
const HIDDEN = /^(ram|zram|fd|sr)\d+$|^snapkeep/;

async function readText(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function readInt(file: string): Promise<number | undefined> {
  const t = await readText(file);
  if (t === undefined || !/^\d+$/.test(t)) return undefined;
  return Number(t);
}

function kindOf(name: string, isPartition: boolean): Device['kind'] {
  if (isPartition) return 'partition';
  if (/^loop\d+$/.test(name)) return 'loop';
  if (/^dm-\d+$/.test(name)) return 'dm';
  if (/^md\d+$/.test(name)) return 'md';
  if (/^(sd|vd|hd|xvd)[a-z]+$|^nvme\d+n\d+$|^mmcblk\d+$/.test(name)) return 'disk';
  return 'other';
}

/** One device by its kernel name, or null when sysfs does not know it. */
export async function readBlockDevice(sysRoot: string, name: string): Promise<BlockDevice | null> {
  const link = path.join(sysRoot, 'class/block', name);
  let dir: string;
  try {
    dir = await fs.realpath(link);
  } catch {
    return null;
  }
  const devno = await readText(path.join(dir, 'dev'));
  const sectors = await readInt(path.join(dir, 'size'));
  if (devno === undefined || sectors === undefined) return null;
  const isPartition = (await readText(path.join(dir, 'partition'))) !== undefined;
  const parent = isPartition ? path.basename(path.dirname(dir)) : undefined;
  // Queue limits, removable and the model live on the disk, not the partition.
  const diskDir = isPartition ? path.dirname(dir) : dir;
  const dev: BlockDevice = {
    name,
    devno,
    kind: kindOf(name, isPartition),
    sizeBytes: sectors * 512, // sysfs "size" is always in 512-byte units
    logicalBlockSize: (await readInt(path.join(diskDir, 'queue/logical_block_size'))) ?? 512,
    removable: (await readText(path.join(diskDir, 'removable'))) === '1',
    readOnly: (await readText(path.join(dir, 'ro'))) === '1',
    slaves: await fs.readdir(path.join(dir, 'slaves')).catch(() => [] as string[]),
  };
  if (parent !== undefined) dev.parent = parent;
  const model = await readText(path.join(diskDir, 'device/model'));
  if (model) dev.model = model;
  const serial = (await readText(path.join(diskDir, 'device/serial'))) ?? (await readText(path.join(diskDir, 'serial')));
  if (serial) dev.serial = serial;
  const dmName = await readText(path.join(dir, 'dm/name'));
  if (dmName) dev.dmName = dmName;
  return dev;
}

/** Every listed block device: disks first, each followed by its partitions. */
export async function readBlockDevices(sysRoot: string): Promise<BlockDevice[]> {
  const names = (await fs.readdir(path.join(sysRoot, 'class/block')).catch(() => [] as string[])).filter((n) => !HIDDEN.test(n));
  const all = (await Promise.all(names.map((n) => readBlockDevice(sysRoot, n)))).filter((d): d is BlockDevice => d !== null);
  // Unused loop and nbd devices have size 0; they hold nothing to back up.
  const present = all.filter((d) => d.sizeBytes > 0 || d.kind === 'disk');
  const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
  const tops = present.filter((d) => d.kind !== 'partition').sort((a, b) => natural(a.name, b.name));
  const out: BlockDevice[] = [];
  for (const top of tops) {
    out.push(top);
    out.push(...present.filter((d) => d.parent === top.name).sort((a, b) => natural(a.name, b.name)));
  }
  return out;
}

/** Kernel name of the block device with this number ("8:1" -> "sda1"), via /sys/dev/block. */
export async function nameOfDevno(sysRoot: string, devno: string): Promise<string | null> {
  try {
    return path.basename(await fs.realpath(path.join(sysRoot, 'dev/block', devno)));
  } catch {
    return null;
  }
}

/**
 * The device and everything it is built on: its disk when a partition, and
 * recursively the slaves of dm/md devices. A file system on any of these
 * changes when one of them is snapshotted.
 */
export async function blockAncestry(sysRoot: string, name: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const visit = async (n: string): Promise<void> => {
    if (seen.has(n)) return;
    seen.add(n);
    const dev = await readBlockDevice(sysRoot, n);
    if (!dev) return;
    if (dev.parent) await visit(dev.parent);
    for (const s of dev.slaves) await visit(s);
  };
  await visit(name);
  return seen;
}

export function majorMinor(rdev: number): string {
  // glibc's gnu_dev_major/minor encoding, as stat(2) returns it.
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  return `${major}:${minor}`;
}
