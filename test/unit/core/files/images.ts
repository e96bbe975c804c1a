// Restore-point sources with files in them, made with the real tools: an
// ext4 image (mkfs.ext4 -d), an xfs image (mkfs.xfs, filled through a loop
// mount: root), a FAT image (mformat + mcopy: no kernel vfat needed), and a
// GPT disk with an ext4 and a FAT partition.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmdirSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const BEACH = 'sand and sea\n';
/** 2021-05-06 07:08:10 local time: FAT keeps local time with 2 s steps. */
export const OLD = new Date(2021, 4, 6, 7, 8, 10);
const MTOOLS = { ...process.env, MTOOLSRC: '/dev/null', MTOOLS_SKIP_CHECK: '1' };

function sh(cmd: string, args: string[], env = process.env): void {
  execFileSync(cmd, args, { stdio: 'pipe', env });
}

/** albums/2024/beach.txt (user.rating xattr), albums/cover.txt, bin/tool (setuid), shadow -> /etc/shadow. */
export function makeTree(dir: string): string {
  const tree = path.join(dir, 'tree');
  mkdirSync(path.join(tree, 'albums/2024'), { recursive: true });
  mkdirSync(path.join(tree, 'bin'));
  writeFileSync(path.join(tree, 'albums/2024/beach.txt'), BEACH);
  writeFileSync(path.join(tree, 'albums/cover.txt'), 'cover\n');
  writeFileSync(path.join(tree, 'bin/tool'), '#!/bin/sh\n');
  chmodSync(path.join(tree, 'bin/tool'), 0o4755);
  symlinkSync('/etc/shadow', path.join(tree, 'shadow'));
  sh('setfattr', ['-n', 'user.rating', '-v', 'five stars', path.join(tree, 'albums/2024/beach.txt')]);
  utimesSync(path.join(tree, 'albums/2024/beach.txt'), OLD, OLD);
  utimesSync(path.join(tree, 'albums/2024'), OLD, OLD);
  return tree;
}

export function ext4Image(dir: string, tree: string): string {
  const image = path.join(dir, 'ext4.img');
  sh('mkfs.ext4', ['-q', '-F', '-L', 'photos', '-d', tree, image, '16M']);
  return image;
}

/** xfs needs 300 MiB at least; sparse, so it costs little. Filled through a loop mount (root). */
export function xfsImage(dir: string, tree: string): string {
  const image = path.join(dir, 'xfs.img');
  writeFileSync(image, '');
  truncateSync(image, 300 << 20);
  sh('mkfs.xfs', ['-q', '-f', '-L', 'photos', image]);
  const mnt = mkdtempSync(path.join(dir, 'mnt-'));
  sh('mount', ['-o', 'loop', image, mnt]);
  try {
    sh('cp', ['-a', `${tree}/.`, mnt]);
  } finally {
    sh('umount', [mnt]);
    rmdirSync(mnt);
  }
  return image;
}

function fillFat(drive: string): void {
  sh('mmd', ['-i', drive, '::/albums', '::/albums/2024'], MTOOLS);
  const tmp = mkdtempSync('/tmp/sk-fat-');
  const beach = path.join(tmp, 'beach.txt');
  writeFileSync(beach, BEACH);
  utimesSync(beach, OLD, OLD);
  writeFileSync(path.join(tmp, 'Cover Photo.txt'), 'cover\n');
  sh('mcopy', ['-m', '-i', drive, beach, '::/albums/2024/beach.txt'], MTOOLS);
  sh('mcopy', ['-m', '-i', drive, path.join(tmp, 'Cover Photo.txt'), '::/albums/Cover Photo.txt'], MTOOLS);
  execFileSync('rm', ['-r', tmp]);
}

export function fatImage(dir: string): string {
  const image = path.join(dir, 'fat.img');
  writeFileSync(image, '');
  truncateSync(image, 16 << 20);
  sh('mformat', ['-i', image, '-v', 'PHOTOS', '::'], MTOOLS);
  fillFat(image);
  return image;
}

/** GPT: partition 1 ext4 (1 MiB, 12 MiB), partition 2 FAT (13 MiB, 8 MiB). */
export function partitionedDisk(dir: string, tree: string): string {
  const image = path.join(dir, 'disk.img');
  writeFileSync(image, '');
  truncateSync(image, 24 << 20);
  execFileSync('sfdisk', ['-q', image], { input: 'label: gpt\nstart=2048, size=24576, type=L\nstart=26624, size=16384, type=L\n', stdio: ['pipe', 'pipe', 'pipe'] });
  sh('mkfs.ext4', ['-q', '-F', '-E', `offset=${1 << 20}`, '-d', tree, image, '12M']);
  const fat = `${image}@@${13 << 20}`;
  sh('mformat', ['-i', fat, '-T', '16384', '-h', '2', '-s', '32', '-v', 'FATPART', '::'], MTOOLS);
  fillFat(fat);
  return image;
}
