// The identity a restore's progress record is tied to (restore-resume.ts):
// a disk that reports a WWID or serial keeps it under another device number
// (plugged in again as sdc instead of sdb, another boot), partitions of one
// disk differ, a disk without a serial is known by its device number, and
// an image file by its inode. Two loop devices stand for the disk under two
// numbers; what sysfs says about them comes from a directory of our own.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { targetIdentity } from '../../../../electron/core/engine/restore-resume';
import { scratch } from './fixtures';

let dir: string;
const loops: string[] = [];
beforeAll(() => {
  dir = scratch('identity-');
  for (const n of [0, 1]) {
    const f = path.join(dir, `disk${n}.img`);
    fs.writeFileSync(f, Buffer.alloc(1 << 20));
    loops.push(execFileSync('losetup', ['--find', '--show', f], { encoding: 'utf8' }).trim());
  }
});
afterAll(() => {
  for (const l of loops) execFileSync('losetup', ['-d', l]);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A sysfs of our own where `dev` (a loop device node) is a disk with these attributes. */
function fakeSys(name: string, dev: string, attrs: Record<string, string>, partition?: Record<string, string>): string {
  const root = path.join(dir, name);
  const rdev = fs.statSync(dev).rdev;
  const majmin = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
  const disk = path.join(root, 'devices/block/sdx');
  fs.mkdirSync(path.join(disk, 'device'), { recursive: true });
  for (const [k, v] of Object.entries(attrs)) fs.writeFileSync(path.join(disk, k), `${v}\n`);
  let node = disk;
  if (partition) {
    node = path.join(disk, 'sdx1');
    fs.mkdirSync(node);
    for (const [k, v] of Object.entries(partition)) fs.writeFileSync(path.join(node, k), `${v}\n`);
  }
  fs.mkdirSync(path.join(root, 'dev/block'), { recursive: true });
  fs.symlinkSync(node, path.join(root, 'dev/block', majmin));
  return root;
}

describe('restore target identity', () => {
  it('a disk with a serial is the same disk under another device number; another serial or size is not', async () => {
    const [a, b] = loops as [string, string];
    const first = await targetIdentity(a, { sysRoot: fakeSys('a', a, { size: '2048', 'device/serial': 'WD-123' }) });
    const again = await targetIdentity(b, { sysRoot: fakeSys('b', b, { size: '2048', 'device/serial': 'WD-123' }) });
    expect(again).toBe(first);
    expect(await targetIdentity(b, { sysRoot: fakeSys('c', b, { size: '2048', 'device/serial': 'WD-456' }) })).not.toBe(first);
    expect(await targetIdentity(b, { sysRoot: fakeSys('d', b, { size: '4096', 'device/serial': 'WD-123' }) })).not.toBe(first);
  });

  it('partitions of one disk differ by number and start', async () => {
    const [a] = loops as [string];
    const p1 = await targetIdentity(a, { sysRoot: fakeSys('p1', a, { size: '2048', wwid: 'naa.5000' }, { partition: '1', start: '2048', size: '1024' }) });
    const p2 = await targetIdentity(a, { sysRoot: fakeSys('p2', a, { size: '2048', wwid: 'naa.5000' }, { partition: '2', start: '3072', size: '1024' }) });
    expect(p1).toMatch(/^disk:naa\.5000:2048:part1@2048:1024$/);
    expect(p2).not.toBe(p1);
  });

  it('a disk without a serial is known by its device number; a file by its inode', async () => {
    const [a, b] = loops as [string, string];
    const na = await targetIdentity(a, { sysRoot: fakeSys('na', a, { size: '2048' }) });
    const nb = await targetIdentity(b, { sysRoot: fakeSys('nb', b, { size: '2048' }) });
    expect(na).toMatch(/^block:7:\d+:2048:\?$/);
    expect(nb).not.toBe(na);
    const file = path.join(dir, 'image.img');
    expect(await targetIdentity(file, { create: false })).toBeUndefined();
    expect(fs.existsSync(file)).toBe(false);
    const id = await targetIdentity(file);
    expect(id).toBe(`file:${fs.statSync(file, { bigint: true }).dev}:${fs.statSync(file, { bigint: true }).ino}`);
  });
});
