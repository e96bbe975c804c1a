// The plan of a whole-disk restore, computed before anything is written
// (issue 18). A target at least as large as the source gets today's byte
// image. A smaller one gets a new partition table (GPT or MBR, 1 MiB
// alignment, the GPT backup at the target's end) and, per partition, a tier:
//   a  byte image: the partition fits as it is (moved to a new start when
//      partitions before it shrank), or is cut after the end of its file
//      system, which needs no change then;
//   b  ext2/3/4 shrunk on the way: resize2fs on a local copy of the
//      partition, then written (restore-tiers.ts);
//   c  other file systems (xfs cannot shrink; vfat, btrfs, swap): a new file
//      system with the same UUID and label, the files copied from the point.
// Partitions that must shrink are taken largest first, as few as fit; they
// shrink in proportion to their size (none below what its file system
// needs), the others keep their size. When even every shrinkable partition
// at its minimum does not fit, the plan says by how many bytes.
//
// Pure: the facts come from the manifest and the point's superblocks
// (restore-facts.ts); the layout is untrusted input and checked here.
import { createHash } from 'node:crypto';

export const MiB = 1 << 20;
const GPT_ENTRIES_BYTES = 128 * 128;

export type Tier = 'a' | 'b' | 'c';

export interface PlanPartitionIn {
  number: number;
  startBytes: number;
  sizeBytes: number;
  /** GPT type GUID or MBR type (hex, as sfdisk says it). */
  type?: string;
  fsType?: string;
  fsUuid?: string;
  fsLabel?: string;
  /** Bytes the file system spans (from its superblock); undefined when unknown. */
  fsBytes?: number;
  /** Bytes the file system uses; undefined when unknown. */
  usedBytes?: number;
  /** The least the file system can shrink to by its own tool (resize2fs -P), when asked. */
  fsMinBytes?: number;
  /** GPT: the partition's own UUID, name and attribute bits, kept. */
  uuid?: string;
  name?: string;
  attrs?: string;
  /** MBR: the boot flag. */
  bootable?: boolean;
}

export interface PlanInput {
  sourceBytes: number;
  /** Absent: the source has no partition table (one file system, or nothing known). */
  table?: { label: 'gpt' | 'dos'; id?: string; sectorSize: number };
  partitions: PlanPartitionIn[];
  targetBytes: number;
  /** Logical sector size of the target (512 for an image file). */
  targetSectorSize: number;
}

export interface PlannedPartition {
  number: number;
  tier: Tier;
  fsType?: string;
  fsUuid?: string;
  fsLabel?: string;
  oldStartBytes: number;
  oldSizeBytes: number;
  newStartBytes: number;
  newSizeBytes: number;
  usedBytes?: number;
  /** The least this partition can shrink to (its file system's needs). */
  minBytes?: number;
  /** Bytes of the point's partition written as they are (tier a). */
  copyBytes: number;
  why: string;
}

export interface RestorePlan {
  /** image: the whole device byte for byte (target at least as large); tiers: a new table and a tier per partition. */
  kind: 'image' | 'tiers';
  fits: boolean;
  sourceBytes: number;
  targetBytes: number;
  /** The smallest target this plan's layout needs. */
  neededBytes: number;
  /** When it does not fit: bytes missing (neededBytes - targetBytes, or undefined when the layout itself is refused). */
  missingBytes?: number;
  /** In words: why this plan, or why no plan. */
  reason: string;
  /** Room this computer needs for tier b's copy of a partition (the largest used bytes among them), 0 without tier b. */
  scratchBytes: number;
  table?: { label: 'gpt' | 'dos'; id?: string; sectorSize: number };
  partitions: PlannedPartition[];
  /** Digest of what will be written where: the confirmation names it, and a restore refuses a plan that changed since. */
  digest: string;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;
const alignDown = (n: number, a: number) => Math.floor(n / a) * a;
const EXT = new Set(['ext2', 'ext3', 'ext4', 'ext4dev']);
const FAT = new Set(['vfat', 'msdos', 'fat']);
/** MBR types of extended partitions (containers of logical ones). */
const EXTENDED = new Set(['5', 'f', '85', '0x5', '0xf', '0x85', '05', '0f']);

/** How a file system shrinks, and the least it needs. Undefined: it cannot (unknown, or its used space is not known). */
export function shrinkRule(p: Pick<PlanPartitionIn, 'fsType' | 'usedBytes' | 'fsMinBytes'>): { tier: Tier; minBytes: number; how: string } | undefined {
  const fs = p.fsType;
  if (fs === 'swap') return { tier: 'c', minBytes: MiB, how: 'a new swap area with the same UUID and label' };
  const used = p.usedBytes;
  if (fs === undefined || used === undefined) return undefined;
  const need = (min: number, slack: number) => alignUp(Math.max(min, used + Math.max(Math.ceil(used * 0.05), slack)), MiB);
  // resize2fs's own estimate is what it will refuse below: it wins when it says more.
  if (EXT.has(fs)) return { tier: 'b', minBytes: Math.max(need(8 * MiB, 16 * MiB), alignUp(p.fsMinBytes ?? 0, MiB)), how: `${fs} shrunk with resize2fs on a copy of the partition, then written` };
  // mkfs.xfs refuses file systems under 300 MB.
  if (fs === 'xfs') return { tier: 'c', minBytes: need(300 * MiB, 32 * MiB), how: 'xfs cannot shrink: a new xfs with the same UUID and label, the files copied from the point' };
  if (FAT.has(fs)) return { tier: 'c', minBytes: need(34 * MiB, 2 * MiB), how: 'a new FAT file system with the same serial and label, the files copied from the point' };
  if (fs === 'btrfs')
    return { tier: 'c', minBytes: need(128 * MiB, 64 * MiB), how: 'a new btrfs with the same UUID and label, the files copied from the point (subvolumes become folders)' };
  return undefined;
}

function iec(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${u[i]}`;
}

function digestOf(p: Omit<RestorePlan, 'digest'>): string {
  const what = {
    kind: p.kind,
    fits: p.fits,
    targetBytes: p.targetBytes,
    table: p.table,
    parts: p.partitions.map((x) => [x.number, x.tier, x.newStartBytes, x.newSizeBytes, x.copyBytes]),
  };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

function done(p: Omit<RestorePlan, 'digest' | 'scratchBytes'>): RestorePlan {
  // Tier b restores the partition into a sparse file: about its used bytes land there.
  const scratchBytes = p.partitions.filter((x) => x.tier === 'b').reduce((m, x) => Math.max(m, alignUp(x.usedBytes ?? x.oldSizeBytes, MiB)), 0);
  const plan = { ...p, scratchBytes };
  return { ...plan, digest: digestOf(plan) };
}

/** Where partitions may lie on a target of `bytes` with this table: [first, end). */
function usableArea(label: 'gpt' | 'dos', bytes: number, sector: number): { first: number; end: number } {
  if (label === 'gpt') {
    const entries = Math.ceil(GPT_ENTRIES_BYTES / sector) * sector;
    return { first: 2 * sector + entries, end: bytes - entries - sector };
  }
  return { first: sector, end: bytes };
}

/** Why this layout cannot be planned for a smaller target, or undefined. */
function refuseLayout(inp: PlanInput, parts: PlanPartitionIn[]): string | undefined {
  if (!inp.table) return 'the point has no partition table: only a target at least as large as the source can take it';
  const ss = inp.targetSectorSize;
  if (!Number.isSafeInteger(ss) || ss < 512 || ss > 65536 || (ss & (ss - 1)) !== 0) return `the target's sector size ${ss} is not one a partition table can use`;
  const seen = new Set<number>();
  let prevEnd = 0;
  let prevNum = 0;
  const { first } = usableArea(inp.table.label, inp.sourceBytes, inp.table.sectorSize);
  for (const p of parts) {
    if (![p.number, p.startBytes, p.sizeBytes].every((n) => Number.isSafeInteger(n) && n >= 0)) return `partition ${p.number} has a start or size that is not a whole number of bytes`;
    if (seen.has(p.number)) return `partition number ${p.number} appears twice`;
    seen.add(p.number);
    if (p.sizeBytes === 0) return `partition ${p.number} is empty`;
    if (p.startBytes + p.sizeBytes > inp.sourceBytes) return `partition ${p.number} runs past the end of the source disk (${p.startBytes}+${p.sizeBytes} of ${inp.sourceBytes} bytes)`;
    if (p.startBytes < first) return `partition ${p.number} starts inside the partition table`;
    if (p.startBytes < prevEnd) return `partitions ${prevNum} and ${p.number} overlap`;
    if (inp.table.label === 'dos' && p.type !== undefined && EXTENDED.has(p.type.toLowerCase()))
      return `partition ${p.number} is an extended partition: logical partitions are not laid out anew yet`;
    if (p.startBytes % inp.table.sectorSize !== 0 || p.sizeBytes % inp.table.sectorSize !== 0) return `partition ${p.number} is not made of whole sectors`;
    prevEnd = p.startBytes + p.sizeBytes;
    prevNum = p.number;
  }
  return undefined;
}

export function planRestore(inp: PlanInput): RestorePlan {
  const parts = [...inp.partitions].sort((a, b) => a.startBytes - b.startBytes || a.number - b.number);
  const base = { sourceBytes: inp.sourceBytes, targetBytes: inp.targetBytes, ...(inp.table && { table: inp.table }) };
  const unchanged = (p: PlanPartitionIn, why: string): PlannedPartition => ({
    number: p.number,
    tier: 'a',
    ...(p.fsType !== undefined && { fsType: p.fsType }),
    ...(p.fsUuid !== undefined && { fsUuid: p.fsUuid }),
    ...(p.fsLabel !== undefined && { fsLabel: p.fsLabel }),
    oldStartBytes: p.startBytes,
    oldSizeBytes: p.sizeBytes,
    newStartBytes: p.startBytes,
    newSizeBytes: p.sizeBytes,
    ...(p.usedBytes !== undefined && { usedBytes: p.usedBytes }),
    copyBytes: p.sizeBytes,
    why,
  });
  if (inp.targetBytes >= inp.sourceBytes) {
    return done({
      ...base,
      kind: 'image',
      fits: true,
      neededBytes: inp.sourceBytes,
      reason: 'the target is at least as large as the source: the whole disk is written byte for byte',
      partitions: parts.map((p) => unchanged(p, 'written byte for byte with the whole disk')),
    });
  }
  const refused = refuseLayout(inp, parts);
  if (refused !== undefined || !inp.table) {
    return done({ ...base, kind: 'tiers', fits: false, neededBytes: inp.sourceBytes, reason: refused ?? 'no partition table', partitions: [] });
  }
  const table = inp.table;
  const ss = inp.targetSectorSize;
  const area = usableArea(table.label, inp.targetBytes, ss);
  const tailBytes = inp.targetBytes - area.end;
  // MBR entries count sectors in 32 bits.
  const mbrLimit = table.label === 'dos' ? 2 ** 32 * ss : Infinity;
  const end = Math.min(area.end, mbrLimit);

  // 1. Everything fits where it is: every partition written as it is.
  const lastEnd = parts.reduce((m, p) => Math.max(m, p.startBytes + p.sizeBytes), 0);
  const firstStart = parts[0]?.startBytes ?? MiB;
  const onSectors = parts.every((p) => p.startBytes % ss === 0 && p.sizeBytes % ss === 0);
  if (lastEnd <= end && onSectors && firstStart >= area.first) {
    return done({
      ...base,
      kind: 'tiers',
      fits: true,
      neededBytes: lastEnd + tailBytes,
      reason: 'every partition fits where it is: each is written byte for byte, under a new partition table for the smaller disk',
      partitions: parts.map((p) => unchanged(p, 'fits where it is: written byte for byte')),
    });
  }

  // 2. Pack from the first partition's start (or 1 MiB when it must move), shrinking the largest first.
  const start0 = firstStart % ss === 0 && firstStart >= area.first ? firstStart : alignUp(area.first, MiB);
  const packEnd = alignDown(end, MiB);
  // Partitions after the first start on whole MiB: counting from the first's start rounded up is a bound that holds.
  const head = alignUp(start0, MiB);
  const space = packEnd - head;
  /** The target size a layout of `bytes` of partitions needs under these rules. */
  const neededFor = (bytes: number) => head + bytes + tailBytes;
  const rules = new Map(parts.map((p) => [p.number, shrinkRule(p)]));
  /** The least a shrinking partition takes: its file system's end when that alone is small enough (tier a, cut), else its rule's minimum. */
  const minOf = (p: PlanPartitionIn) => {
    const r = rules.get(p.number);
    const cut = p.fsBytes !== undefined && p.fsBytes > 0 && p.fsBytes <= p.sizeBytes ? alignUp(p.fsBytes, MiB) : Infinity;
    return Math.min(r?.minBytes ?? Infinity, cut);
  };
  const candidates = parts.filter((p) => Number.isFinite(minOf(p)) && minOf(p) < alignDown(p.sizeBytes, MiB)).sort((a, b) => b.sizeBytes - a.sizeBytes || a.number - b.number);
  const keptBytes = (shrinking: Set<number>) => parts.filter((p) => !shrinking.has(p.number)).reduce((s, p) => s + alignUp(p.sizeBytes, MiB), 0);
  let chosen: Set<number> | undefined;
  for (let k = 1; k <= candidates.length && !chosen; k++) {
    const s = new Set(candidates.slice(0, k).map((p) => p.number));
    const room = space - keptBytes(s);
    const need = candidates.slice(0, k).reduce((t, p) => t + minOf(p), 0);
    if (room >= need) chosen = s;
  }
  if (!chosen) {
    const all = new Set(candidates.map((p) => p.number));
    const needed = neededFor(keptBytes(all) + candidates.reduce((t, p) => t + minOf(p), 0));
    const missing = Math.max(1, needed - inp.targetBytes);
    const cannot = parts.filter((p) => !all.has(p.number)).map((p) => p.number);
    return done({
      ...base,
      kind: 'tiers',
      fits: false,
      neededBytes: needed,
      missingBytes: missing,
      reason:
        `the target is ${iec(missing)} (${missing} bytes) too small: the used data and what the file systems need take ${iec(needed)}` +
        (cannot.length ? ` (partition${cannot.length > 1 ? 's' : ''} ${cannot.join(', ')} cannot shrink and keep their size)` : ''),
      partitions: parts.map((p) => {
        const r = rules.get(p.number);
        return {
          ...unchanged(p, all.has(p.number) ? `needs at least ${iec(minOf(p))}` : 'cannot shrink: no file system whose used space is known'),
          ...(r && { minBytes: r.minBytes }),
        };
      }),
    });
  }

  // Proportional shares, none below its minimum (water-filling), in whole MiB, none above the old size.
  const shrinking = parts.filter((p) => chosen.has(p.number));
  const size = new Map<number, number>();
  let room = space - keptBytes(chosen);
  let open = [...shrinking];
  for (;;) {
    const total = open.reduce((t, p) => t + p.sizeBytes, 0);
    const low = open.filter((p) => alignDown((room * p.sizeBytes) / total, MiB) < minOf(p));
    if (low.length === 0) {
      for (const p of open) size.set(p.number, Math.min(alignDown((room * p.sizeBytes) / total, MiB), alignDown(p.sizeBytes, MiB)));
      break;
    }
    for (const p of low) {
      size.set(p.number, minOf(p));
      room -= minOf(p);
    }
    open = open.filter((p) => !low.includes(p));
    if (open.length === 0) break;
  }

  const planned: PlannedPartition[] = [];
  let cursor = start0;
  for (const p of parts) {
    const newStart = planned.length === 0 ? start0 : alignUp(cursor, MiB);
    const r = rules.get(p.number);
    const newSize = size.get(p.number) ?? p.sizeBytes;
    cursor = newStart + newSize;
    const moved = newStart !== p.startBytes;
    let tier: Tier = 'a';
    let why = moved ? 'keeps its size, moved to a new start: written byte for byte' : 'keeps its size and place: written byte for byte';
    let copyBytes = p.sizeBytes;
    if (newSize < p.sizeBytes) {
      if (p.fsBytes !== undefined && p.fsBytes <= newSize) {
        copyBytes = newSize;
        why = `its ${p.fsType ?? 'file system'} ends at ${iec(p.fsBytes)}: the partition is cut after it, written byte for byte`;
      } else if (r) {
        tier = r.tier;
        copyBytes = 0;
        why = `${r.how}${p.usedBytes !== undefined ? ` (${iec(p.usedBytes)} used)` : ''}`;
      }
    }
    planned.push({
      number: p.number,
      tier,
      ...(p.fsType !== undefined && { fsType: p.fsType }),
      ...(p.fsUuid !== undefined && { fsUuid: p.fsUuid }),
      ...(p.fsLabel !== undefined && { fsLabel: p.fsLabel }),
      oldStartBytes: p.startBytes,
      oldSizeBytes: p.sizeBytes,
      newStartBytes: newStart,
      newSizeBytes: newSize,
      ...(p.usedBytes !== undefined && { usedBytes: p.usedBytes }),
      ...(r && { minBytes: minOf(p) }),
      copyBytes,
      why,
    });
  }
  const shrunk = planned.filter((p) => p.newSizeBytes < p.oldSizeBytes).map((p) => p.number);
  return done({
    ...base,
    kind: 'tiers',
    fits: true,
    neededBytes: neededFor(keptBytes(chosen) + shrinking.reduce((t, p) => t + minOf(p), 0)),
    reason: `partition${shrunk.length > 1 ? 's' : ''} ${shrunk.join(', ')} shrink${shrunk.length > 1 ? '' : 's'} to fit, in proportion to ${shrunk.length > 1 ? 'their' : 'its'} size; the others keep theirs`,
    table,
    partitions: planned,
  });
}
