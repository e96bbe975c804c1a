// Refuses restore targets that are in use, before a byte is written: a
// block device that is (or whose partitions are) mounted, used as swap or
// held by device-mapper/md, and an image file attached to a mounted loop
// device. The native restore opens block devices O_EXCL as well, which
// catches users this check cannot see.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { AppError } from '../../common/contract';

function devOf(rdev: number): string {
  const major = Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
  const minor = Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

async function read(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return '';
  }
}

async function mountedDevs(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await read('/proc/self/mountinfo')).split('\n')) {
    const f = line.split(' ');
    if (f[2] && f[4]) out.set(f[2], f[4]);
  }
  return out;
}

/** The device and its partitions, as "major:minor". */
async function devAndPartitions(dev: string): Promise<string[]> {
  const list = [dev];
  const sys = `/sys/dev/block/${dev}`;
  let entries: string[] = [];
  try {
    entries = await fs.readdir(sys);
  } catch {
    return list;
  }
  for (const e of entries) {
    const d = (await read(path.join(sys, e, 'dev'))).trim();
    if (d && (await read(path.join(sys, e, 'partition'))).trim()) list.push(d);
  }
  return list;
}

async function inUse(dev: string, shown: string): Promise<void> {
  const mounts = await mountedDevs();
  for (const d of await devAndPartitions(dev)) {
    const at = mounts.get(d);
    if (at !== undefined) throw new AppError('TARGET_MOUNTED', `restore target ${shown} is mounted on ${at}: unmount it first`, { path: shown, mountpoint: at });
    try {
      const holders = await fs.readdir(`/sys/dev/block/${d}/holders`);
      if (holders.length) throw new AppError('TARGET_MOUNTED', `restore target ${shown} is in use by ${holders.join(', ')}`, { path: shown, holders });
    } catch (e) {
      if (e instanceof AppError) throw e;
    }
  }
}

export async function checkRestoreTarget(target: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      try {
        await fs.access(path.dirname(target));
      } catch {
        throw new AppError('NOT_FOUND', `the directory of restore target ${target} does not exist`, { path: target });
      }
      return; // a new image file
    }
    throw e;
  }
  if (st.isBlockDevice()) {
    await inUse(devOf(st.rdev), target);
    const swaps = await read('/proc/swaps');
    if (swaps.split('\n').some((l) => l.split(/\s+/)[0] === target))
      throw new AppError('TARGET_MOUNTED', `restore target ${target} is in use as swap`, { path: target });
    return;
  }
  if (!st.isFile()) throw new AppError('INVALID_ARGUMENT', `restore target ${target} is neither a block device nor a file`, { path: target });
  // An image file behind a loop device whose file system is mounted.
  const real = await fs.realpath(target);
  let loops: string[] = [];
  try {
    loops = (await fs.readdir('/sys/block')).filter((n) => n.startsWith('loop'));
  } catch {
    return;
  }
  for (const l of loops) {
    const backing = (await read(`/sys/block/${l}/loop/backing_file`)).trim();
    if (backing !== real) continue;
    const dev = (await read(`/sys/block/${l}/dev`)).trim();
    if (dev) await inUse(dev, target);
  }
}
