// The restore planner (engine/restore-plan.ts), table-driven: GPT and MBR,
// 1 MiB alignment, proportional shrinking, refusals with the amount missing,
// and hostile layouts as a manifest could carry them.
import { describe, expect, it } from 'vitest';

import { MiB, type PlanInput, type PlanPartitionIn, planRestore } from '../../../../electron/core/engine/restore-plan';

const GiB = 1024 * MiB;
const GPT_TAIL = 33 * 512;

const esp = (over: Partial<PlanPartitionIn> = {}): PlanPartitionIn => ({ number: 1, startBytes: MiB, sizeBytes: 64 * MiB, fsType: 'vfat', fsBytes: 64 * MiB, usedBytes: 3 * MiB, ...over });
const root = (over: Partial<PlanPartitionIn> = {}): PlanPartitionIn => ({ number: 2, startBytes: 65 * MiB, sizeBytes: 1024 * MiB, fsType: 'ext4', fsBytes: 1024 * MiB, usedBytes: 400 * MiB, ...over });
const data = (over: Partial<PlanPartitionIn> = {}): PlanPartitionIn => ({
  number: 3,
  startBytes: 1089 * MiB,
  sizeBytes: 2 * GiB - 1089 * MiB - MiB,
  fsType: 'xfs',
  fsBytes: 2 * GiB - 1090 * MiB,
  usedBytes: 280 * MiB,
  ...over,
});
const gpt = (partitions: PlanPartitionIn[], targetBytes: number, over: Partial<PlanInput> = {}): PlanInput => ({
  sourceBytes: 2 * GiB,
  table: { label: 'gpt', id: 'A1B2', sectorSize: 512 },
  partitions,
  targetBytes,
  targetSectorSize: 512,
  ...over,
});

describe('restore plan: tiers', () => {
  const cases: Array<{ name: string; input: PlanInput; kind: 'image' | 'tiers'; fits: boolean; tiers?: string; sizesMiB?: Array<number | 'same'> }> = [
    { name: 'equal target: the whole disk byte for byte', input: gpt([esp(), root(), data()], 2 * GiB), kind: 'image', fits: true, tiers: 'aaa' },
    { name: 'larger target: byte image too', input: gpt([esp(), root(), data()], 3 * GiB), kind: 'image', fits: true, tiers: 'aaa' },
    {
      name: 'GPT 2 GiB to 1.2 GiB: ESP kept, ext4 shrunk (b), xfs new (c), in proportion',
      input: gpt([esp(), root(), data()], Math.round(1.2 * GiB)),
      kind: 'tiers',
      fits: true,
      tiers: 'abc',
      sizesMiB: ['same', 600, 562],
    },
    {
      name: 'smaller target whose end only holds free space: all partitions in place',
      input: gpt([esp(), root({ sizeBytes: 512 * MiB, fsBytes: 512 * MiB })], GiB),
      kind: 'tiers',
      fits: true,
      tiers: 'aa',
      sizesMiB: ['same', 'same'],
    },
    {
      name: 'only the largest shrinks when that is enough',
      input: gpt([esp(), root(), data({ sizeBytes: 200 * MiB, fsBytes: 200 * MiB, usedBytes: 10 * MiB })], GiB),
      kind: 'tiers',
      fits: true,
      tiers: 'aba',
      sizesMiB: ['same', 758, 'same'],
    },
    {
      name: 'a file system smaller than its partition: cut after its end (tier a)',
      input: gpt([esp(), root({ fsBytes: 500 * MiB, usedBytes: 450 * MiB })], 600 * MiB),
      kind: 'tiers',
      fits: true,
      tiers: 'aa',
      sizesMiB: ['same', 534],
    },
    {
      name: 'a share below a minimum is raised to it and the rest shared out',
      input: gpt([esp(), root({ usedBytes: 100 * MiB }), data({ usedBytes: 10 * MiB })], Math.round(0.9 * GiB)),
      kind: 'tiers',
      fits: true,
      tiers: 'abc',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planRestore(c.input);
      expect(plan.kind).toBe(c.kind);
      expect(plan.fits, plan.reason).toBe(c.fits);
      if (c.tiers) expect(plan.partitions.map((p) => p.tier).join('')).toBe(c.tiers);
      if (c.sizesMiB)
        expect(plan.partitions.map((p) => (p.newSizeBytes === p.oldSizeBytes ? 'same' : p.newSizeBytes / MiB))).toEqual(c.sizesMiB);
      if (plan.kind === 'tiers' && plan.fits) {
        // Aligned, in order, inside the usable area, none below its minimum, and the table stays.
        let prevEnd = 0;
        for (const p of plan.partitions) {
          expect(p.newStartBytes).toBeGreaterThanOrEqual(prevEnd);
          if (p.newStartBytes !== p.oldStartBytes) expect(p.newStartBytes % MiB).toBe(0);
          if (p.newSizeBytes !== p.oldSizeBytes) expect(p.newSizeBytes % MiB).toBe(0);
          if (p.tier !== 'a') expect(p.newSizeBytes).toBeGreaterThanOrEqual(p.minBytes ?? 0);
          expect(p.copyBytes).toBeLessThanOrEqual(p.newSizeBytes);
          prevEnd = p.newStartBytes + p.newSizeBytes;
        }
        expect(prevEnd).toBeLessThanOrEqual(c.input.targetBytes - (c.input.table?.label === 'gpt' ? GPT_TAIL : 0));
        expect(plan.neededBytes).toBeLessThanOrEqual(c.input.targetBytes);
        expect(plan.table).toEqual(c.input.table);
      }
      expect(plan.digest).toMatch(/^[0-9a-f]{16}$/);
    });
  }

  it("resize2fs's own minimum wins over the estimate from the used bytes", () => {
    const plan = planRestore(gpt([esp(), root({ fsMinBytes: 700 * MiB }), data()], Math.round(1.2 * GiB)));
    expect(plan.fits, plan.reason).toBe(true);
    expect(plan.partitions[1]?.minBytes).toBe(700 * MiB);
    expect(plan.partitions[1]?.newSizeBytes).toBeGreaterThanOrEqual(700 * MiB);
    expect(plan.partitions.map((p) => p.tier).join('')).toBe('abc');
    const refused = planRestore(gpt([esp(), root({ fsMinBytes: 1000 * MiB }), data()], Math.round(1.2 * GiB)));
    expect(refused.fits).toBe(false);
  });

  it('the 1.2 GiB case says why per partition and what it needs', () => {
    const plan = planRestore(gpt([esp(), root(), data()], Math.round(1.2 * GiB)));
    expect(plan.partitions.map((p) => p.why)).toEqual([
      'keeps its size and place: written byte for byte',
      'ext4 shrunk with resize2fs on a copy of the partition, then written (400.0 MiB used)',
      'xfs cannot shrink: a new xfs with the same UUID and label, the files copied from the point (280.0 MiB used)',
    ]);
    expect(plan.partitions.map((p) => p.newStartBytes / MiB)).toEqual([1, 65, 665]);
    expect(plan.reason).toMatch(/partitions 2, 3 shrink to fit/);
    // Tier b's copy of the ext4 partition needs about its used bytes on this computer.
    expect(plan.scratchBytes).toBe(400 * MiB);
  });

  it('the same choices give the same digest; another target another one', () => {
    const a = planRestore(gpt([esp(), root(), data()], Math.round(1.2 * GiB)));
    expect(planRestore(gpt([esp(), root(), data()], Math.round(1.2 * GiB))).digest).toBe(a.digest);
    expect(planRestore(gpt([esp(), root(), data()], Math.round(1.3 * GiB))).digest).not.toBe(a.digest);
  });
});

describe('restore plan: MBR', () => {
  const dos = (partitions: PlanPartitionIn[], targetBytes: number): PlanInput => ({
    sourceBytes: 2 * GiB,
    table: { label: 'dos', id: '0x1234abcd', sectorSize: 512 },
    partitions,
    targetBytes,
    targetSectorSize: 512,
  });

  it('uses the disk to its last MiB (no backup table), and keeps an old 63-sector start', () => {
    const plan = planRestore(dos([root({ number: 1, startBytes: 63 * 512, sizeBytes: 2 * GiB - 63 * 512 - MiB, fsBytes: 2 * GiB - 63 * 512 - MiB, usedBytes: 300 * MiB })], GiB));
    expect(plan.fits, plan.reason).toBe(true);
    const [p] = plan.partitions;
    expect(p?.tier).toBe('b');
    expect(p?.newStartBytes).toBe(63 * 512);
    expect(p?.newSizeBytes).toBe(GiB - MiB);
  });

  it('refuses an extended partition (logical ones are not laid out anew)', () => {
    const plan = planRestore(dos([root({ number: 1, type: '5' }), root({ number: 5, startBytes: 66 * MiB, sizeBytes: 100 * MiB })], GiB));
    expect(plan.fits).toBe(false);
    expect(plan.reason).toMatch(/extended partition/);
  });
});

describe('restore plan: refusals', () => {
  it('says exactly how many bytes are missing when the used data does not fit', () => {
    const input = gpt([esp(), root({ usedBytes: 900 * MiB }), data({ usedBytes: 700 * MiB })], GiB);
    const plan = planRestore(input);
    expect(plan.fits).toBe(false);
    expect(plan.missingBytes).toBe(plan.neededBytes - GiB);
    expect(plan.reason).toContain(`${plan.missingBytes} bytes) too small`);
    // A target of exactly the needed size fits; one byte less does not, and misses one byte.
    const exact = planRestore({ ...input, targetBytes: plan.neededBytes });
    expect(exact.fits, exact.reason).toBe(true);
    const short = planRestore({ ...input, targetBytes: plan.neededBytes - 1 });
    expect(short.fits).toBe(false);
    expect(short.missingBytes).toBe(1);
  });

  it('counts a partition that cannot shrink (used space unknown) at its full size', () => {
    const plan = planRestore(gpt([esp(), root({ usedBytes: undefined, fsBytes: undefined }), data()], GiB));
    expect(plan.fits).toBe(false);
    expect(plan.reason).toMatch(/partition 2 cannot shrink/);
  });

  it('refuses a smaller target for a disk without a partition table', () => {
    const plan = planRestore({ sourceBytes: GiB, partitions: [], targetBytes: GiB / 2, targetSectorSize: 512 });
    expect(plan.fits).toBe(false);
    expect(plan.reason).toMatch(/no partition table/);
  });

  const hostile: Array<[string, PlanPartitionIn[], RegExp]> = [
    ['overlapping partitions', [esp(), root({ startBytes: 60 * MiB })], /overlap/],
    ['a partition past the end of the disk', [esp(), root({ sizeBytes: 4 * GiB })], /past the end/],
    ['a partition inside the table', [esp({ startBytes: 512 })], /inside the partition table/],
    ['a number twice', [esp(), root({ number: 1 })], /twice/],
    ['an empty partition', [esp(), root({ sizeBytes: 0 })], /empty/],
    ['a negative start', [esp({ startBytes: -MiB })], /whole number/],
    ['a fractional size', [esp({ sizeBytes: 1.5 })], /whole number/],
    ['an unsafe integer', [esp({ sizeBytes: 2 ** 60 })], /whole number|past the end/],
    ['half sectors', [esp({ sizeBytes: 64 * MiB + 100 })], /whole sectors/],
  ];
  for (const [name, parts, why] of hostile) {
    it(`refuses a hostile layout: ${name}`, () => {
      const plan = planRestore(gpt(parts, GiB));
      expect(plan.fits).toBe(false);
      expect(plan.reason).toMatch(why);
      expect(plan.partitions).toEqual([]);
    });
  }

  it('a hostile layout still restores byte for byte to a target as large as the source', () => {
    const plan = planRestore(gpt([esp(), root({ startBytes: 60 * MiB })], 2 * GiB));
    expect(plan.kind).toBe('image');
    expect(plan.fits).toBe(true);
  });

  it('refuses a target sector size that is not a power of two', () => {
    expect(planRestore(gpt([esp(), root(), data()], GiB, { targetSectorSize: 520 })).reason).toMatch(/sector size/);
  });
});
