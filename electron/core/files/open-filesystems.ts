// The file systems of an exported restore point disk (fuse-export.ts),
// each opened the best way this computer allows, read-only:
//   kernel   as root, when the kernel knows the file system: a read-only
//            loop device at the partition's offset, mounted nosuid, nodev,
//            noexec, without journal replay (noload / norecovery: a
//            crash-consistent snapshot's journal must not be replayed);
//   fuse2fs  ext2/3/4 in user space (e2fsprogs' libext2fs), no root needed;
//   mtools   FAT in user space (the host kernel may have no vfat).
// What cannot be opened is listed with the reason, in words.
//
// The layout comes from the restore point's manifest, which is untrusted:
// offsets and sizes are checked against the exported disk.
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Mount, PointDevice } from '../../common/contract';
import type { FuseExport } from './fuse-export';
import { unmountFuse } from './fuse-export';
import { HostTree } from './host-tree';
import { MtoolsTree } from './mtools-tree';
import { CombinedFiles, type PointFiles } from './point-files';
import { have, run } from './run';

export type Reader = 'kernel' | 'fuse2fs' | 'mtools';
type FsEntry = Mount['filesystems'][number];

export interface OpenOptions {
  /** kernel: loop mounts first (as root); user-space: fuse2fs / mtools first (tests, and users who may not mount). */
  prefer: 'kernel' | 'user-space';
  /** Whether this process may attach loop devices and mount. */
  root: boolean;
}

export interface OpenedFilesystems {
  filesystems: FsEntry[];
  files: PointFiles;
  /** Unmounts and detaches everything opened, in reverse order. */
  close(): Promise<void>;
}

interface Part {
  name: string;
  start: number;
  size: number;
  fsType?: string;
  label?: string;
}

const EXT = new Set(['ext2', 'ext3', 'ext4']);
const FAT = new Set(['vfat', 'msdos', 'fat']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const valid = (p: Part, size: number) =>
  Number.isSafeInteger(p.start) && Number.isSafeInteger(p.size) && p.start > 0 && p.size > 0 && p.start + p.size <= size;

function partsOf(layout: PointDevice, size: number): Part[] {
  const whole: Part = { name: 'disk', start: 0, size, ...(layout.fsType && { fsType: layout.fsType }), ...(layout.fsLabel && { label: layout.fsLabel }) };
  // A file system found at offset 0 means the disk is that file system.
  if (layout.fsType || layout.partitions.length === 0) return [whole];
  const parts: Part[] = layout.partitions.map((p) => ({
    name: `p${p.number}`,
    start: p.startBytes,
    size: p.sizeBytes,
    ...(p.fsType && { fsType: p.fsType }),
    ...(p.fsLabel && { label: p.fsLabel }),
  }));
  // No partition that fits (a FAT "superfloppy" boot sector reads as an MBR
  // whose one entry starts at 0 and runs past the end): the disk itself, probed.
  if (!parts.some((p) => valid(p, size))) return [{ name: 'disk', start: 0, size }];
  return parts;
}

async function kernelKnows(fsType: string, root: boolean): Promise<boolean> {
  const listed = async () => (await fs.readFile('/proc/filesystems', 'utf8').catch(() => '')).split('\n').some((l) => l.trim().split(/\s+/).pop() === fsType);
  if (await listed()) return true;
  if (!root) return false;
  await run('modprobe', [fsType], { timeoutMs: 10_000 });
  return listed();
}

/** Whether `mp` is a mount point now, from /proc/self/mountinfo (never touching the mount itself). */
async function isMounted(mp: string): Promise<boolean> {
  const info = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // Field 5 is the mount point, with spaces and the like escaped as \040.
  const esc = mp.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((l) => l.split(' ')[4] === esc);
}

async function openKernel(file: string, part: Part, fsType: string, mp: string): Promise<{ device: string; close: () => Promise<void> } | { error: string }> {
  const loop = await run('losetup', ['-f', '--show', '-r', '-o', String(part.start), '--sizelimit', String(part.size), file]);
  if (!loop.ok) return { error: `losetup: ${loop.stderr.trim()}` };
  const device = loop.stdout.trim();
  // A restore point is someone's old disk: never run or trust what is on it.
  const options = ['ro', 'nosuid', 'nodev', 'noexec', ...(fsType === 'ext3' || fsType === 'ext4' ? ['noload'] : []), ...(fsType === 'xfs' ? ['norecovery'] : [])];
  await fs.mkdir(mp, { recursive: true, mode: 0o700 });
  const m = await run('mount', ['-t', fsType, '-o', options.join(','), device, mp]);
  if (!m.ok) {
    await run('losetup', ['-d', device]);
    await fs.rmdir(mp).catch(() => undefined);
    return { error: m.stderr.trim() };
  }
  return {
    device,
    close: async () => {
      const u = await run('umount', [mp]);
      if (!u.ok) await run('umount', ['-l', mp]);
      await run('losetup', ['-d', device]);
      await fs.rmdir(mp).catch(() => undefined);
    },
  };
}

async function openFuse2fs(file: string, part: Part, mp: string): Promise<{ close: () => Promise<void> } | { error: string }> {
  if (!(await have('fuse2fs'))) return { error: 'fuse2fs is not installed (Debian package fuse2fs)' };
  await fs.mkdir(mp, { recursive: true, mode: 0o700 });
  // -f: in the foreground, so its lifetime is ours; norecovery: no journal replay (implies ro).
  const child: ChildProcess = spawn('fuse2fs', [file, mp, '-f', '-o', `ro,norecovery,offset=${part.start}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.once('error', (e) => (stderr += String(e)));
  for (let i = 0; i < 200 && child.exitCode === null && child.signalCode === null; i++) {
    if (await isMounted(mp)) {
      return {
        close: async () => {
          if (!(await unmountFuse(mp))) await unmountFuse(mp, true);
          if (child.exitCode === null && child.signalCode === null) {
            const gone = await Promise.race([new Promise<boolean>((r) => child.once('exit', () => r(true))), sleep(5000).then(() => false)]);
            if (!gone) child.kill('SIGTERM');
          }
          await fs.rmdir(mp).catch(() => undefined);
        },
      };
    }
    await sleep(50);
  }
  child.kill('SIGTERM');
  await fs.rmdir(mp).catch(() => undefined);
  return { error: `fuse2fs: ${stderr.trim() || 'the file system did not appear'}` };
}

/** The file system type at an offset of the exported disk, when the manifest does not say. */
async function probe(file: string, part: Part): Promise<{ fsType?: string; label?: string }> {
  const r = await run('blkid', ['-p', '-o', 'export', '-O', String(part.start), '-S', String(part.size), file], { timeoutMs: 60_000 });
  const kv = new Map(r.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
  const fsType = kv.get('USAGE') === 'filesystem' ? kv.get('TYPE') : undefined;
  const label = kv.get('LABEL');
  return { ...(fsType && { fsType }), ...(label && { label }) };
}

export async function openFilesystems(exp: FuseExport, layout: PointDevice, baseDir: string, o: OpenOptions): Promise<OpenedFilesystems> {
  const entries: FsEntry[] = [];
  const parts: PointFiles[] = [];
  const closers: Array<() => Promise<void>> = [];
  const staging = path.join(baseDir, 'staging');
  await fs.mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    for (const part of partsOf(layout, exp.sizeBytes)) {
      const entry: FsEntry = { device: exp.file };
      entries.push(entry);
      if (part.name !== 'disk' && !valid(part, exp.sizeBytes)) {
        entry.error = `the layout recorded in the restore point puts partition ${part.name} outside the disk (${part.start}+${part.size} of ${exp.sizeBytes} bytes)`;
        continue;
      }
      const facts = part.fsType ? { fsType: part.fsType, ...(part.label && { label: part.label }) } : await probe(exp.file, part);
      if (facts.fsType) entry.fsType = facts.fsType;
      if (facts.label) entry.label = facts.label;
      const fsType = facts.fsType;
      if (!fsType || fsType === 'swap') continue;
      const mp = path.join(baseDir, part.name);
      const tried: string[] = [];

      const kernel = async () => {
        if (!o.root || !(await kernelKnows(fsType, o.root))) {
          tried.push(o.root ? `this kernel cannot read ${fsType}` : 'mounting needs root');
          return false;
        }
        const k = await openKernel(exp.file, part, fsType, mp);
        if ('error' in k) {
          tried.push(`loop mount: ${k.error}`);
          return false;
        }
        entry.device = k.device;
        entry.mountpoint = mp;
        entry.reader = 'kernel';
        parts.push(new HostTree([mp]));
        closers.push(k.close);
        return true;
      };
      const userSpace = async () => {
        if (EXT.has(fsType)) {
          const f = await openFuse2fs(exp.file, part, mp);
          if ('error' in f) {
            tried.push(f.error);
            return false;
          }
          entry.mountpoint = mp;
          entry.reader = 'fuse2fs';
          parts.push(new HostTree([mp]));
          closers.push(f.close);
          return true;
        }
        if (FAT.has(fsType)) {
          if (!(await have('mdir'))) {
            tried.push('mtools is not installed (Debian package mtools)');
            return false;
          }
          entry.mountpoint = mp;
          entry.reader = 'mtools';
          parts.push(new MtoolsTree(exp.file, part.start, mp, staging));
          return true;
        }
        tried.push(`no user-space reader for ${fsType}`);
        return false;
      };
      const order = o.prefer === 'kernel' ? [kernel, userSpace] : [userSpace, kernel];
      let opened = false;
      for (const way of order) if (!opened) opened = await way();
      if (!opened) entry.error = `${fsType} could not be opened here: ${tried.join('; ')}`;
    }
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    throw e;
  }
  return {
    filesystems: entries,
    files: new CombinedFiles(parts),
    close: async () => {
      for (const c of [...closers].reverse()) await c();
      await fs.rm(staging, { recursive: true, force: true });
    },
  };
}
