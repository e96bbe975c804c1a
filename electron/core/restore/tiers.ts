// Carries out a tiered restore plan (engine/restore-plan.ts) on a target
// smaller than the source, in this order:
//   1. an image file target is cut to 0 and back to its size, so it reads
//      as zeros and zero chunks need not be written;
//   2. the bytes before the first partition (boot code, a BIOS GRUB's
//      core image on MBR disks) byte for byte;
//   3. the new partition table with sfdisk: the disk identifier, GPT
//      partition UUIDs, names and attributes, types and boot flags kept,
//      the GPT backup at the target's end; then the MBR boot code again;
//   4. each partition by its tier:
//      a  the engine's verified restore of its bytes at the new start;
//      b  the engine restores it into a sparse file in workDir, e2fsck -fy
//         (a live point's journal is replayed there, never on the target),
//         resize2fs to the new size, and the result is copied to the target;
//      c  a new file system on the target partition (a loop device) with
//         the same UUID and label, the point's file system mounted read-only
//         from the exported point (files/fuse-export.ts), and the files
//         copied with cp -a (owners, modes, ACLs, xattrs, hard links,
//         times) and --sparse=always;
//   5. each written file system checked (e2fsck -fn, xfs_repair -n).
// Needs root for tier c (loop devices, mount). Every step is awaited in
// turn; a cancel stops between steps and inside the engine's.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type Progress } from '../../common/contract';
import type { RepositoryHandle } from '../engine/api';
import { MiB, type PlannedPartition, type RestorePlan } from '../engine/restore-plan';
import { exportPoint, type FuseExport } from '../files/fuse-export';
import { type PartitionFs, type TableFacts, sh } from './facts';

export interface TierStep {
  partition: number;
  tier: PlannedPartition['tier'];
  /** What was done, in words. */
  done: string;
  /** The file system check after writing: clean, or what it said. */
  check?: string;
  bytesWritten: number;
}

export interface TieredResult {
  bytesWritten: number;
  steps: TierStep[];
  /** Every byte taken from the point was checked against its chunk id. */
  verified: true;
}

export interface ExecuteOptions {
  pointId: string;
  source: string;
  /** Block device or image file (an image file is cut to the plan's target size). */
  target: string;
  plan: RestorePlan;
  /** The point's table as sfdisk read it (facts.ts), for the fields the plan keeps. */
  table: TableFacts;
  /** File systems of the point's partitions (type, UUID, label) from its manifest. */
  fs: Map<number, PartitionFs>;
  /** A private folder with room for tier b's copies (the used bytes of the largest ext file system shrunk). */
  workDir: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

async function must(cmd: string, args: string[], what: string, input?: string, okCodes: number[] = [0]) {
  const r = await sh(cmd, args, input, 30 * 60_000);
  if (!okCodes.includes(r.code)) throw new AppError('IO_ERROR', `${what}: ${cmd} failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`, { tool: cmd });
  return r;
}

/** The sfdisk script of the new table: what the point's table said, with the plan's starts and sizes. */
export function sfdiskScript(plan: RestorePlan, table: TableFacts, sectorSize: number): string {
  const lines = [`label: ${table.label}`];
  if (table.id) lines.push(`label-id: ${table.id}`);
  lines.push('unit: sectors');
  if (table.label === 'gpt') lines.push(`first-lba: ${Math.ceil((2 * sectorSize + 16384) / sectorSize)}`);
  lines.push(`sector-size: ${sectorSize}`, '');
  const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
  for (const p of plan.partitions) {
    const t = table.partitions.find((x) => x.number === p.number);
    if (p.newStartBytes % sectorSize !== 0 || p.newSizeBytes % sectorSize !== 0)
      throw new AppError('INVALID_ARGUMENT', `partition ${p.number} is not made of whole sectors of the target`);
    const f = [`start=${p.newStartBytes / sectorSize}`, `size=${p.newSizeBytes / sectorSize}`];
    if (t?.type) f.push(`type=${t.type}`);
    if (table.label === 'gpt') {
      if (t?.uuid) f.push(`uuid=${t.uuid}`);
      if (t?.name) f.push(`name=${q(t.name)}`);
      if (t?.attrs) f.push(`attrs=${q(t.attrs)}`);
    } else if (t?.bootable) {
      f.push('bootable');
    }
    lines.push(`${p.number} : ${f.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Copies [0, length) of a local file to `offset` of the target; zero blocks are skipped when the target reads as zeros already. */
async function copyInto(from: string, target: string, offset: number, length: number, zeroed: boolean, signal?: AbortSignal): Promise<number> {
  const src = await fs.open(from, 'r');
  const dst = await fs.open(target, 'r+');
  const buf = Buffer.alloc(4 * MiB);
  let written = 0;
  try {
    for (let off = 0; off < length; off += buf.length) {
      if (signal?.aborted) throw new AppError('CANCELLED', 'restore cancelled');
      const n = Math.min(buf.length, length - off);
      const { bytesRead } = await src.read(buf, 0, n, off);
      if (bytesRead < n) buf.fill(0, bytesRead, n);
      const view = buf.subarray(0, n);
      if (zeroed && view.every((b) => b === 0)) continue;
      await dst.write(view, 0, n, offset + off);
      written += n;
    }
    await dst.sync();
  } finally {
    await src.close();
    await dst.close();
  }
  return written;
}

async function loop(file: string, offset: number, size: number, readOnly: boolean): Promise<string> {
  const r = await must('losetup', ['-f', '--show', ...(readOnly ? ['-r'] : []), '-o', String(offset), '--sizelimit', String(size), file], 'a loop device');
  return r.stdout.trim();
}

async function detach(dev: string) {
  await sh('losetup', ['-d', dev]);
}

async function umount(mp: string) {
  const r = await sh('umount', [mp]);
  if (!r.ok) await sh('umount', ['-l', mp]);
}

/** mkfs for tier c, keeping UUID and label. */
async function makeFs(fsType: string, dev: string, f: PartitionFs): Promise<void> {
  const { fsUuid: uuid, fsLabel: label } = f;
  switch (fsType) {
    case 'xfs':
      // The source's features (facts.ts xfsMkfsArgs), then its UUID: mkfs.xfs takes the last -m of each option.
      await must('mkfs.xfs', ['-q', '-f', ...(f.mkfsArgs ?? []), ...(uuid ? ['-m', `uuid=${uuid}`] : []), ...(label ? ['-L', label.slice(0, 12)] : []), dev], 'a new xfs');
      return;
    case 'btrfs':
      await must('mkfs.btrfs', ['-q', '-f', ...(uuid ? ['-U', uuid] : []), ...(label ? ['-L', label] : []), dev], 'a new btrfs');
      return;
    case 'swap':
      await must('mkswap', [...(uuid ? ['-U', uuid] : []), ...(label ? ['-L', label] : []), dev], 'a new swap area');
      return;
    default:
      throw new AppError('INVALID_ARGUMENT', `a new ${fsType} file system is not made by the tiered restore yet`);
  }
}

async function checkFs(fsType: string | undefined, dev: string): Promise<string | undefined> {
  if (fsType === 'ext2' || fsType === 'ext3' || fsType === 'ext4') {
    const r = await sh('e2fsck', ['-fn', dev], undefined, 30 * 60_000);
    return r.code === 0 ? 'clean (e2fsck -fn)' : `e2fsck -fn exit ${r.code}: ${r.stdout.trim().split('\n').slice(-3).join(' ')}`;
  }
  if (fsType === 'xfs') {
    const r = await sh('xfs_repair', ['-n', dev], undefined, 30 * 60_000);
    return r.code === 0 ? 'clean (xfs_repair -n)' : `xfs_repair -n exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`;
  }
  return undefined;
}

export async function executePlan(h: RepositoryHandle, o: ExecuteOptions): Promise<TieredResult> {
  const { plan, target } = o;
  if (plan.kind !== 'tiers' || !plan.fits) throw new AppError('INVALID_ARGUMENT', `this plan cannot be carried out: ${plan.reason}`);
  const cancelled = () => {
    if (o.signal?.aborted) throw new AppError('CANCELLED', 'restore cancelled');
  };
  const st = await fs.stat(target).catch(() => null);
  const isFile = !st || st.isFile();
  if (st && !st.isFile() && !st.isBlockDevice()) throw new AppError('INVALID_ARGUMENT', `${target} is neither a block device nor an image file`, { path: target });
  const sectorSize = isFile ? 512 : Number((await must('blockdev', ['--getss', target], 'the sector size')).stdout.trim());
  await fs.mkdir(o.workDir, { recursive: true, mode: 0o700 });
  const steps: TierStep[] = [];
  let total = 0;
  const progress = (message: string) => o.onProgress?.({ phase: 'restoring', bytesDone: total, bytesTotal: 0, bytesPerSecond: 0, message });
  /** [start, start+length) of the point at `at` of the target, by the engine (every chunk checked). */
  const restoreRange = async (start: number, length: number, at: number) => {
    const r = await h.restore({
      pointId: o.pointId,
      source: o.source,
      target,
      range: { start, length },
      targetOffset: at,
      targetZeroed: isFile,
      skipIdentical: false,
      ...(o.onProgress && { onProgress: o.onProgress }),
      ...(o.signal && { signal: o.signal }),
    });
    total += r.bytesWritten;
    return r.bytesWritten;
  };

  // 1. A file: zeros everywhere, its size the plan's.
  if (isFile) {
    const fh = await fs.open(target, st ? 'r+' : 'w', 0o600);
    try {
      await fh.truncate(0);
      await fh.truncate(plan.targetBytes);
    } finally {
      await fh.close();
    }
  }
  // 2. Before the first partition (an empty table: the first MiB, where a partition would start).
  const firstOld = plan.partitions.length ? Math.min(...plan.partitions.map((p) => p.oldStartBytes)) : Math.min(MiB, plan.sourceBytes);
  const firstNew = plan.partitions.length ? Math.min(...plan.partitions.map((p) => p.newStartBytes)) : firstOld;
  progress('the disk\'s first sectors');
  await restoreRange(0, Math.min(firstOld, firstNew), 0);
  cancelled();
  // 3. The new table, then the boot code sfdisk may have cleared.
  progress('the new partition table');
  await must('sfdisk', ['--no-reread', '--no-tell-kernel', '--wipe', 'never', '--wipe-partitions', 'never', '-q', target], 'the new partition table', sfdiskScript(plan, o.table, sectorSize));
  const reader = await h.openReader(o.pointId, o.source);
  try {
    const boot = await reader.read(0, 440);
    const fh = await fs.open(target, 'r+');
    try {
      await fh.write(boot, 0, 440, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } finally {
    await reader.close();
  }

  // 4. The partitions.
  let exp: { reader: Awaited<ReturnType<RepositoryHandle['openReader']>>; exp: FuseExport } | undefined;
  try {
    for (const p of plan.partitions) {
      cancelled();
      const facts = o.fs.get(p.number) ?? {};
      const fsType = p.fsType ?? facts.fsType;
      progress(`partition ${p.number}: tier ${p.tier}`);
      if (p.tier === 'a') {
        const n = await restoreRange(p.oldStartBytes, p.copyBytes, p.newStartBytes);
        const moved = p.newStartBytes !== p.oldStartBytes;
        steps.push({
          partition: p.number,
          tier: 'a',
          done: p.copyBytes < p.oldSizeBytes ? `written byte for byte up to the end of its file system (${p.copyBytes} bytes)` : moved ? 'written byte for byte at its new start' : 'written byte for byte',
          bytesWritten: n,
        });
        continue;
      }
      if (p.tier === 'b') {
        const copy = path.join(o.workDir, `p${p.number}.img`);
        try {
          await h.restore({
            pointId: o.pointId,
            source: o.source,
            target: copy,
            partition: p.number,
            skipIdentical: false,
            ...(o.onProgress && { onProgress: o.onProgress }),
            ...(o.signal && { signal: o.signal }),
          });
          cancelled();
          progress(`partition ${p.number}: e2fsck and resize2fs on a copy`);
          // 0: clean, 1: errors corrected (a replayed journal counts).
          await must('e2fsck', ['-fy', copy], `checking the copy of partition ${p.number}`, undefined, [0, 1]);
          await must('resize2fs', [copy, `${Math.floor(p.newSizeBytes / 1024)}K`], `shrinking partition ${p.number}`);
          const n = await copyInto(copy, target, p.newStartBytes, p.newSizeBytes, isFile, o.signal);
          total += n;
          steps.push({ partition: p.number, tier: 'b', done: `${fsType ?? 'ext'} shrunk from ${p.oldSizeBytes} to ${p.newSizeBytes} bytes with resize2fs, then written`, bytesWritten: n });
        } finally {
          await fs.rm(copy, { force: true });
        }
      } else {
        if (!fsType) throw new AppError('INVALID_ARGUMENT', `partition ${p.number} has no known file system to make anew`);
        if (FAT.has(fsType)) {
          // FAT in user space (the kernel may have no vfat): mformat and mcopy at the partition's offsets.
          if (!exp) exp = await openExport(h, o);
          await remakeFat(exp.exp.file, target, p, facts, o.workDir);
          steps.push({ partition: p.number, tier: 'c', done: 'a new FAT with the same serial and label, the files copied', bytesWritten: 0 });
          continue;
        }
        const dst = await loop(target, p.newStartBytes, p.newSizeBytes, false);
        try {
          await makeFs(fsType, dst, facts);
          if (fsType !== 'swap') {
            if (!exp) exp = await openExport(h, o);
            await copyFiles(exp.exp.file, p, fsType, dst, o.workDir);
          }
          steps.push({ partition: p.number, tier: 'c', done: fsType === 'swap' ? 'a new swap area with the same UUID and label' : `a new ${fsType} with the same UUID and label, the files copied`, bytesWritten: 0 });
        } finally {
          await detach(dst);
        }
      }
    }
  } finally {
    if (exp) {
      await exp.exp.close();
      await exp.reader.close();
    }
  }

  // 5. Check what was written: a read-only check of each ext and xfs file system.
  for (const s of steps) {
    const p = plan.partitions.find((x) => x.number === s.partition);
    const fsType = p?.fsType;
    if (!p || (s.tier === 'a' && p.copyBytes === p.oldSizeBytes)) continue;
    const dev = await loop(target, p.newStartBytes, p.newSizeBytes, true);
    try {
      const c = await checkFs(fsType, dev);
      if (c !== undefined) s.check = c;
    } finally {
      await detach(dev);
    }
  }
  if (!isFile) await sh('blockdev', ['--rereadpt', target]);
  return { bytesWritten: total, steps, verified: true };
}

const FAT = new Set(['vfat', 'msdos', 'fat']);
/** mtools reads no configuration of the user's, and does not stop at a geometry it finds odd. */
const MTOOLS_ENV = { MTOOLSRC: '/dev/null', MTOOLS_SKIP_CHECK: '1' };

async function openExport(h: RepositoryHandle, o: ExecuteOptions): Promise<{ reader: Awaited<ReturnType<RepositoryHandle['openReader']>>; exp: FuseExport }> {
  const r = await h.openReader(o.pointId, o.source);
  try {
    return { reader: r, exp: await exportPoint(r, path.join(o.workDir, 'point')) };
  } catch (e) {
    await r.close();
    throw e;
  }
}

async function mtools(cmd: string, args: string[], what: string): Promise<void> {
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(cmd, args, { timeout: 3_600_000, maxBuffer: 16 << 20, env: { ...process.env, LC_ALL: 'C', ...MTOOLS_ENV } }, (err, _out, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stderr: String(stderr) }),
    );
  });
  if (r.code !== 0) throw new AppError('IO_ERROR', `${what}: ${cmd} failed (${r.code}): ${r.stderr.trim().slice(-2000)}`, { tool: cmd });
}

/**
 * A new FAT in the partition's new place, of the point's FAT size class
 * (FAT32 stays FAT32), with its serial and label, and the files copied
 * through a private staging folder (mcopy keeps names and times; FAT has
 * no owners, modes or links).
 */
async function remakeFat(pointFile: string, target: string, p: PlannedPartition, f: PartitionFs, workDir: string): Promise<void> {
  const serial = f.fsUuid?.replace('-', '');
  const fat32 = f.fatBits === 32;
  const at = (file: string, off: number) => `${file}@@${off}`;
  await mtools(
    'mformat',
    ['-i', at(target, p.newStartBytes), '-T', String(Math.floor(p.newSizeBytes / 512)), '-h', '64', '-s', '32', ...(fat32 ? ['-F'] : []), ...(serial && /^[0-9a-fA-F]{8}$/.test(serial) ? ['-N', serial] : []), ...(f.fsLabel ? ['-v', f.fsLabel.slice(0, 11)] : []), '::'],
    `a new FAT for partition ${p.number}`,
  );
  const staging = path.join(workDir, `fat-p${p.number}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    await mtools('mcopy', ['-s', '-p', '-m', '-n', '-Q', '-i', at(pointFile, p.oldStartBytes), '::/*', `${staging}/`], `reading the files of partition ${p.number}`).catch(async (e: unknown) => {
      // An empty FAT has nothing to match "*".
      const r = await sh('mdir', ['-a', '-b', '-i', at(pointFile, p.oldStartBytes), '::/']);
      if (r.stdout.trim() !== '') throw e;
    });
    const names = await fs.readdir(staging);
    if (names.length)
      await mtools('mcopy', ['-s', '-p', '-m', '-n', '-Q', '-i', at(target, p.newStartBytes), ...names.map((n) => path.join(staging, n)), '::/'], `copying the files of partition ${p.number}`);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Mounts the point's file system read-only and the new one, and copies everything across. */
async function copyFiles(pointFile: string, p: PlannedPartition, fsType: string, dstDev: string, workDir: string): Promise<void> {
  const srcMp = path.join(workDir, `from-p${p.number}`);
  const dstMp = path.join(workDir, `to-p${p.number}`);
  await fs.mkdir(srcMp, { recursive: true, mode: 0o700 });
  await fs.mkdir(dstMp, { recursive: true, mode: 0o700 });
  const srcDev = await loop(pointFile, p.oldStartBytes, p.oldSizeBytes, true);
  try {
    // A point's journal is not replayed (it is read-only and crash-consistent): as file restore opens it.
    // Both carry the same UUID, which xfs refuses to mount twice unless told (nouuid).
    const ro = ['ro', 'nosuid', 'nodev', 'noexec', ...(fsType === 'xfs' ? ['norecovery', 'nouuid'] : [])];
    await must('mount', ['-t', fsType, '-o', ro.join(','), srcDev, srcMp], `mounting partition ${p.number} of the point`);
    try {
      await must('mount', ['-t', fsType, ...(fsType === 'xfs' ? ['-o', 'nouuid'] : []), dstDev, dstMp], `mounting the new partition ${p.number}`);
      try {
        // -a: owners, modes, times, links, xattrs (ACLs and SELinux labels are xattrs); the root folder's own too ("src/.").
        await must('cp', ['-a', '--sparse=always', `${srcMp}/.`, `${dstMp}/`], `copying the files of partition ${p.number}`);
        await must('sync', ['-f', dstMp], 'sync');
      } finally {
        await umount(dstMp);
      }
    } finally {
      await umount(srcMp);
    }
  } finally {
    await detach(srcDev);
    await fs.rmdir(srcMp).catch(() => undefined);
    await fs.rmdir(dstMp).catch(() => undefined);
  }
}
