// The facts a restore plan needs (engine/restore-plan.ts), read before
// anything is written: the point's partition table as sfdisk reads it (disk
// identifier, partition UUIDs, names, attributes, boot flags: the manifest
// records less), each file system's size and used bytes from its superblock
// (ext2/3/4, xfs, FAT, btrfs), and the target's size and sector size.
// Everything is read from the point through the engine (each chunk checked
// against its id); the point is untrusted, so every number is bounded
// before use and a superblock that does not parse is "unknown".
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import type { PointReader, RepositoryHandle } from '../engine/api';
import { MiB, type PlanInput, type PlanPartitionIn } from '../engine/restore-plan';

export function sh(cmd: string, args: string[], input?: string, timeoutMs = 120_000, env: Record<string, string> = {}): Promise<{ ok: boolean; code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, LC_ALL: 'C', ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ ok: !err, code, stdout: String(stdout), stderr: String(stderr) || (err ? err.message : '') });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

interface SfdiskJson {
  partitiontable?: {
    label?: string;
    id?: string;
    sectorsize?: number;
    partitions?: Array<{ node?: string; start?: number; size?: number; type?: string; uuid?: string; name?: string; attrs?: string; bootable?: boolean }>;
  };
}

export interface TableFacts {
  label: 'gpt' | 'dos';
  id?: string;
  sectorSize: number;
  partitions: Array<Pick<PlanPartitionIn, 'number' | 'startBytes' | 'sizeBytes' | 'type' | 'uuid' | 'name' | 'attrs' | 'bootable'>>;
}

export function parseSfdiskTable(text: string): TableFacts | undefined {
  let j: SfdiskJson;
  try {
    j = JSON.parse(text) as SfdiskJson;
  } catch {
    return undefined;
  }
  const t = j.partitiontable;
  if (!t || (t.label !== 'gpt' && t.label !== 'dos')) return undefined;
  const ss = t.sectorsize ?? 512;
  if (![512, 1024, 2048, 4096].includes(ss)) return undefined;
  const partitions = (t.partitions ?? []).flatMap((p, i) => {
    const n = p.node ? /(\d+)$/.exec(p.node)?.[1] : undefined;
    if (!Number.isSafeInteger(p.start) || !Number.isSafeInteger(p.size)) return [];
    return [
      {
        number: n ? Number(n) : i + 1,
        startBytes: (p.start ?? 0) * ss,
        sizeBytes: (p.size ?? 0) * ss,
        ...(typeof p.type === 'string' && { type: p.type }),
        ...(typeof p.uuid === 'string' && { uuid: p.uuid }),
        ...(typeof p.name === 'string' && { name: p.name }),
        ...(typeof p.attrs === 'string' && { attrs: p.attrs }),
        ...(p.bootable === true && { bootable: true }),
      },
    ];
  });
  return { label: t.label, ...(typeof t.id === 'string' && { id: t.id }), sectorSize: ss, partitions };
}

/**
 * The point's partition table: its first and last MiB (where MBR, GPT and
 * the GPT backup live) copied into a sparse file of the disk's size, and
 * sfdisk asked about that file.
 */
export async function readPointTable(reader: PointReader, workDir: string): Promise<TableFacts | undefined> {
  const size = reader.sizeBytes;
  const file = path.join(workDir, 'table.img');
  const fh = await fs.open(file, 'w', 0o600);
  try {
    await fh.truncate(size);
    const head = Math.min(size, MiB);
    await fh.write(await reader.read(0, head), 0, head, 0);
    const tailStart = Math.max(head, size - MiB);
    if (tailStart < size) await fh.write(await reader.read(tailStart, size - tailStart), 0, size - tailStart, tailStart);
  } finally {
    await fh.close();
  }
  try {
    const r = await sh('sfdisk', ['--json', file]);
    return r.ok ? parseSfdiskTable(r.stdout) : undefined;
  } finally {
    await fs.rm(file, { force: true });
  }
}

export interface FsFacts {
  fsBytes?: number;
  usedBytes?: number;
  /** The least the file system can shrink to, by its own tool (resize2fs -P). */
  minBytes?: number;
  /** mkfs options that give a new file system the same on-disk features (tier c), so the restored system's kernel can mount it. */
  mkfsArgs?: string[];
  /** FAT: 12, 16 or 32. */
  fatBits?: 12 | 16 | 32;
}

/**
 * mkfs.xfs options for the features of an xfs superblock: block, inode and
 * sector sizes, and each feature on or off as it is, not as this
 * computer's mkfs.xfs defaults them (a newer mkfs turns on features an
 * older kernel of the restored system cannot mount: bigtime, inobtcount).
 */
export function xfsMkfsArgs(sb: Buffer): string[] | undefined {
  if (sb.length < 0xe0 || sb.toString('latin1', 0, 4) !== 'XFSB') return undefined;
  const bs = sb.readUInt32BE(4);
  const sect = sb.readUInt16BE(0x66);
  const isize = sb.readUInt16BE(0x68);
  const pow2 = (n: number, lo: number, hi: number) => n >= lo && n <= hi && (n & (n - 1)) === 0;
  if (!pow2(bs, 512, 65536) || !pow2(sect, 512, 32768) || !pow2(isize, 256, 2048)) return undefined;
  const v5 = (sb.readUInt16BE(0x64) & 0xf) === 5;
  const on = (b: boolean) => (b ? 1 : 0);
  const args = ['-b', `size=${bs}`, '-s', `size=${sect}`];
  if (!v5) {
    const f2 = sb.readUInt32BE(0xc8);
    return [...args, '-i', `size=${isize}`, '-m', 'crc=0', '-n', `ftype=${on((f2 & 0x200) !== 0)}`];
  }
  const ro = sb.readUInt32BE(0xd4);
  const inc = sb.readUInt32BE(0xd8);
  return [
    ...args,
    '-i',
    `size=${isize},sparse=${on((inc & 0x2) !== 0)},nrext64=${on((inc & 0x20) !== 0)}`,
    '-m',
    `crc=1,finobt=${on((ro & 0x1) !== 0)},rmapbt=${on((ro & 0x2) !== 0)},reflink=${on((ro & 0x4) !== 0)},inobtcount=${on((ro & 0x8) !== 0)},bigtime=${on((inc & 0x8) !== 0)}`,
  ];
}

const safe = (n: bigint) => (n >= 0n && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined);

/** ext2/3/4 superblock (at 1024): blocks and free blocks. */
export function extFacts(sb: Buffer): FsFacts {
  if (sb.length < 1024 || sb.readUInt16LE(0x38) !== 0xef53) return {};
  const logBs = sb.readUInt32LE(0x18);
  if (logBs > 6) return {};
  const bs = 1024n << BigInt(logBs);
  const is64 = (sb.readUInt32LE(0x60) & 0x80) !== 0;
  const blocks = BigInt(sb.readUInt32LE(0x4)) | (is64 ? BigInt(sb.readUInt32LE(0x150)) << 32n : 0n);
  const free = BigInt(sb.readUInt32LE(0xc)) | (is64 ? BigInt(sb.readUInt32LE(0x158)) << 32n : 0n);
  if (free > blocks) return {};
  const fsBytes = safe(blocks * bs);
  const usedBytes = safe((blocks - free) * bs);
  return { ...(fsBytes !== undefined && { fsBytes }), ...(usedBytes !== undefined && { usedBytes }) };
}

/** xfs primary superblock (at 0): data blocks and free data blocks. */
export function xfsFacts(sb: Buffer): FsFacts {
  if (sb.length < 512 || sb.toString('latin1', 0, 4) !== 'XFSB') return {};
  const bs = BigInt(sb.readUInt32BE(4));
  if (bs < 512n || bs > 65536n || (bs & (bs - 1n)) !== 0n) return {};
  const dblocks = sb.readBigUInt64BE(8);
  const fdblocks = sb.readBigUInt64BE(0x90);
  if (fdblocks > dblocks) return {};
  const fsBytes = safe(dblocks * bs);
  const usedBytes = safe((dblocks - fdblocks) * bs);
  return { ...(fsBytes !== undefined && { fsBytes }), ...(usedBytes !== undefined && { usedBytes }) };
}

/** btrfs superblock (at 64 KiB): total and used bytes. */
export function btrfsFacts(sb: Buffer): FsFacts {
  if (sb.length < 0x100 || sb.toString('latin1', 0x40, 0x48) !== '_BHRfS_M') return {};
  const fsBytes = safe(sb.readBigUInt64LE(0x70));
  const usedBytes = safe(sb.readBigUInt64LE(0x78));
  return { ...(fsBytes !== undefined && { fsBytes }), ...(usedBytes !== undefined && { usedBytes }) };
}

/** FAT12/16/32: the boot sector's geometry, and the FAT read to count the clusters in use. */
export async function fatFacts(read: (off: number, len: number) => Promise<Buffer>, partBytes: number): Promise<FsFacts> {
  const bs = await read(0, 512);
  if (bs.readUInt16LE(510) !== 0xaa55) return {};
  const bps = bs.readUInt16LE(11);
  const spc = bs.readUInt8(13);
  const rsvd = bs.readUInt16LE(14);
  const nfats = bs.readUInt8(16);
  const rootEnts = bs.readUInt16LE(17);
  const tot = bs.readUInt16LE(19) || bs.readUInt32LE(32);
  const fatSz = bs.readUInt16LE(22) || bs.readUInt32LE(36);
  if (![512, 1024, 2048, 4096].includes(bps) || spc === 0 || (spc & (spc - 1)) !== 0 || nfats === 0 || nfats > 4 || fatSz === 0 || tot === 0) return {};
  const fsBytes = tot * bps;
  if (fsBytes > partBytes) return {};
  const rootSecs = Math.ceil((rootEnts * 32) / bps);
  const meta = rsvd + nfats * fatSz + rootSecs;
  if (meta >= tot) return {};
  const clusters = Math.floor((tot - meta) / spc);
  const kind: 12 | 16 | 32 = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
  const fatBytes = fatSz * bps;
  if (fatBytes > 256 * MiB) return {};
  let used = 0;
  const step = 4 * MiB;
  for (let off = 0; off < fatBytes; off += step) {
    const chunk = await read(rsvd * bps + off, Math.min(step, fatBytes - off));
    if (kind === 32) {
      for (let i = 0; i + 4 <= chunk.length; i += 4) {
        const c = (off + i) / 4;
        if (c >= 2 && c < clusters + 2 && (chunk.readUInt32LE(i) & 0x0fffffff) !== 0) used++;
      }
    } else if (kind === 16) {
      for (let i = 0; i + 2 <= chunk.length; i += 2) {
        const c = (off + i) / 2;
        if (c >= 2 && c < clusters + 2 && chunk.readUInt16LE(i) !== 0) used++;
      }
    } else if (off === 0) {
      // FAT12 is at most 6 KiB: one read holds all of it.
      for (let c = 2; c < clusters + 2 && Math.floor((c * 3) / 2) + 1 < chunk.length; c++) {
        const v = chunk.readUInt16LE(Math.floor((c * 3) / 2));
        if ((c & 1 ? v >> 4 : v & 0xfff) !== 0) used++;
      }
    }
  }
  return { fsBytes, usedBytes: meta * bps + used * spc * bps, fatBits: kind };
}

/**
 * resize2fs's own minimum for an ext2/3/4 file system of the point: its
 * estimate reads only the superblock and the group descriptors, so those
 * are copied into a sparse file of the partition's size and resize2fs -P
 * asked about it. Undefined when it cannot tell.
 */
export async function extMinBytes(read: (off: number, len: number) => Promise<Buffer>, size: number, workDir: string): Promise<number | undefined> {
  const sb = await read(1024, 1024);
  if (sb.readUInt16LE(0x38) !== 0xef53) return undefined;
  const logBs = sb.readUInt32LE(0x18);
  if (logBs > 6) return undefined;
  const bs = 1024 << logBs;
  const is64 = (sb.readUInt32LE(0x60) & 0x80) !== 0;
  const blocks = sb.readUInt32LE(0x4) + (is64 ? sb.readUInt32LE(0x150) * 2 ** 32 : 0);
  const perGroup = sb.readUInt32LE(0x20);
  const descSize = is64 ? sb.readUInt16LE(0xfe) : 32;
  const firstData = sb.readUInt32LE(0x14);
  if (perGroup === 0 || descSize < 32 || descSize > 1024 || firstData > 1) return undefined;
  const groups = Math.ceil((blocks - firstData) / perGroup);
  const metaEnd = (firstData + 1 + Math.ceil((groups * descSize) / bs)) * bs;
  if (metaEnd > Math.min(size, 64 * MiB)) return undefined;
  const file = path.join(workDir, `ext-meta-${process.pid}.img`);
  const fh = await fs.open(file, 'w', 0o600);
  try {
    await fh.truncate(size);
    await fh.write(await read(0, metaEnd), 0, metaEnd, 0);
  } finally {
    await fh.close();
  }
  try {
    const r = await sh('resize2fs', ['-P', file]);
    const m = /minimum size of the filesystem: (\d+)/.exec(r.stdout);
    const n = m?.[1] ? Number(m[1]) * bs : NaN;
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** Size and used bytes of the file system at [start, start+size) of the point, as far as its superblock tells. */
export async function readFsFacts(reader: PointReader, fsType: string | undefined, start: number, size: number, workDir: string): Promise<FsFacts> {
  const read = (off: number, len: number) => {
    if (off + len > size) throw new AppError('REPO_CORRUPT', `a file system of the point reaches past its partition (${off}+${len} of ${size})`);
    return reader.read(start + off, len);
  };
  try {
    switch (fsType) {
      case 'ext2':
      case 'ext3':
      case 'ext4': {
        const facts = extFacts(await read(1024, 1024));
        const minBytes = facts.fsBytes !== undefined ? await extMinBytes(read, size, workDir) : undefined;
        return { ...facts, ...(minBytes !== undefined && { minBytes }) };
      }
      case 'xfs': {
        const sb = await read(0, 512);
        const mkfsArgs = xfsMkfsArgs(sb);
        return { ...xfsFacts(sb), ...(mkfsArgs && { mkfsArgs }) };
      }
      case 'btrfs':
        return btrfsFacts(await read(0x10000, 0x1000));
      case 'vfat':
        return await fatFacts(read, size);
      default:
        return {};
    }
  } catch (e) {
    if (e instanceof AppError && e.code !== 'REPO_CORRUPT') throw e;
    return {};
  }
}

/**
 * Size and logical sector size of a restore target. An image file that has
 * a size keeps it (restoring into a smaller image is a restore to a
 * smaller disk); a new or empty one gets the source's size, as a restore
 * always made it. Sectors of an image file are 512 bytes.
 */
export async function targetFacts(target: string, sourceBytes: number): Promise<{ bytes: number; sectorSize: number; kind: 'device' | 'file' }> {
  const st = await fs.stat(target).catch(() => null);
  if (st?.isBlockDevice()) {
    const size = await sh('blockdev', ['--getsize64', target]);
    const ss = await sh('blockdev', ['--getss', target]);
    const bytes = Number(size.stdout.trim());
    const sectorSize = Number(ss.stdout.trim());
    if (!size.ok || !ss.ok || !Number.isSafeInteger(bytes) || !Number.isSafeInteger(sectorSize))
      throw new AppError('IO_ERROR', `the size of ${target} cannot be read: ${size.stderr || ss.stderr}`, { path: target });
    return { bytes, sectorSize, kind: 'device' };
  }
  if (st?.isFile()) return { bytes: st.size > 0 ? st.size : sourceBytes, sectorSize: 512, kind: 'file' };
  if (!st) return { bytes: sourceBytes, sectorSize: 512, kind: 'file' };
  throw new AppError('INVALID_ARGUMENT', `${target} is neither a block device nor an image file`, { path: target });
}

/** What the tiered restore needs to know of a partition's file system besides the plan. */
export interface PartitionFs {
  fsType?: string;
  fsUuid?: string;
  fsLabel?: string;
  mkfsArgs?: string[];
  fatBits?: 12 | 16 | 32;
}

/** The plan's input for one device of a point and a target: the table, each file system's facts. */
export async function planInput(
  h: RepositoryHandle,
  o: { pointId: string; source: string; target: string; workDir: string },
): Promise<PlanInput & { fs: Map<number, PartitionFs> }> {
  const point = (await h.listPoints()).find((p) => p.id === o.pointId);
  if (!point) throw new AppError('NOT_FOUND', `no restore point ${o.pointId}`, { pointId: o.pointId });
  const dev = point.devices.find((d) => d.source === o.source);
  if (!dev) throw new AppError('NOT_FOUND', `restore point ${o.pointId} has no device ${o.source}`, { pointId: o.pointId, source: o.source });
  const target = await targetFacts(o.target, dev.sizeBytes);
  await fs.mkdir(o.workDir, { recursive: true, mode: 0o700 });
  const reader = await h.openReader(o.pointId, o.source);
  try {
    const table = dev.partTableType ? await readPointTable(reader, o.workDir) : undefined;
    const fsMap = new Map<number, PartitionFs>();
    const partitions: PlanPartitionIn[] = [];
    for (const tp of table?.partitions ?? []) {
      // The manifest's probe (blkid) names the file system; sfdisk the table's own fields.
      const m = dev.partitions.find((p) => p.number === tp.number);
      const fsType = m?.fsType;
      const inBounds = tp.startBytes + tp.sizeBytes <= dev.sizeBytes && tp.sizeBytes > 0;
      const facts = inBounds ? await readFsFacts(reader, fsType, tp.startBytes, tp.sizeBytes, o.workDir) : {};
      // A full backup of used blocks counted them from the bitmaps: exact where the superblock's counter may lag.
      const noted = dev.usedBlocks?.find((n) => n.partition === tp.number)?.usedBytes;
      const usedBytes = noted ?? facts.usedBytes;
      fsMap.set(tp.number, {
        ...(fsType && { fsType }),
        ...(m?.fsUuid && { fsUuid: m.fsUuid }),
        ...(m?.fsLabel && { fsLabel: m.fsLabel }),
        ...(facts.mkfsArgs && { mkfsArgs: facts.mkfsArgs }),
        ...(facts.fatBits && { fatBits: facts.fatBits }),
      });
      partitions.push({
        ...tp,
        ...(fsType !== undefined && { fsType }),
        ...(m?.fsUuid !== undefined && { fsUuid: m.fsUuid }),
        ...(m?.fsLabel !== undefined && { fsLabel: m.fsLabel }),
        ...(facts.fsBytes !== undefined && { fsBytes: facts.fsBytes }),
        ...(usedBytes !== undefined && { usedBytes }),
        ...(facts.minBytes !== undefined && { fsMinBytes: facts.minBytes }),
      });
    }
    return {
      sourceBytes: dev.sizeBytes,
      ...(table && { table: { label: table.label, ...(table.id !== undefined && { id: table.id }), sectorSize: table.sectorSize } }),
      partitions,
      targetBytes: target.bytes,
      targetSectorSize: target.sectorSize,
      fs: fsMap,
    };
  } finally {
    await reader.close();
  }
}
