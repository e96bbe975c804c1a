// The VM harness's test-file header: the keys that decide how qemu runs.
import { describe, expect, it } from 'vitest';

// @ts-expect-error -- the harness is plain JavaScript without typings
import { parseTest } from '../../vm/lib/test-file.mjs';

type Disk = {
  size: number;
  bus: string;
  logicalBlockSize: number;
  physicalBlockSize: number;
  discard: boolean;
  iops?: number;
  bps?: number;
};
type Spec = { smp: number; tcg?: string; disks: Disk[]; memory: number; kernels: string[]; timeout: number };
const parse = (header: string): Spec => parseTest(`${header}\nset -e\n`, '/x/t.sh') as Spec;
const MiB = 2 ** 20;
const plain = (size: number): Disk => ({ size, bus: 'virtio', logicalBlockSize: 512, physicalBlockSize: 512, discard: false });

describe('vm test header', () => {
  it('defaults to one vCPU, no disks, and leaves TCG threading to the kernel', () => {
    const t = parse('# nothing declared');
    expect(t).toMatchObject({ smp: 1, memory: 1024, timeout: 120, disks: [], kernels: [] });
    expect(t.tcg).toBeUndefined();
  });

  it('reads smp and tcg', () => {
    expect(parse('# vm: disks=2x64M smp=2 tcg=multi')).toMatchObject({
      smp: 2,
      tcg: 'multi',
      disks: [plain(64 * MiB), plain(64 * MiB)],
    });
  });

  it('rejects an unknown tcg mode and an unknown key with the file and line', () => {
    expect(() => parse('# vm: tcg=parallel')).toThrow(/t\.sh:1: tcg is single or multi, not "parallel"/);
    expect(() => parse('# vm: threads=2')).toThrow(/unknown key "threads".* tcg /);
  });

  it('reads disk options after the size, repeated with NxSIZE', () => {
    const t = parse('# vm: disks=2x64M:4k:discard,3T:nvme,131075s:512e,1G:iops=200:mbps=8');
    expect(t.disks).toEqual([
      { ...plain(64 * MiB), logicalBlockSize: 4096, physicalBlockSize: 4096, discard: true },
      { ...plain(64 * MiB), logicalBlockSize: 4096, physicalBlockSize: 4096, discard: true },
      { ...plain(3 * 2 ** 40), bus: 'nvme' },
      { ...plain(131075 * 512), physicalBlockSize: 4096 },
      { ...plain(2 ** 30), iops: 200, bps: 8 * MiB },
    ]);
    // Each repeated disk is its own object: the runner may annotate one.
    expect(t.disks[0]).not.toBe(t.disks[1]);
  });

  it('refuses disk options it does not know and sizes a block size does not divide', () => {
    expect(() => parse('# vm: disks=64M:ssd')).toThrow(/t\.sh:1: unknown disk option "ssd"/);
    expect(() => parse('# vm: disks=64M:iops=0')).toThrow(/iops needs a positive number/);
    expect(() => parse('# vm: disks=131075s:4k')).toThrow(/not a whole number of 4096-byte blocks/);
    expect(() => parse('# vm: disks=64M::4k')).toThrow(/bad disks/);
  });

  it('reads kernels as names and groups, adding up over lines', () => {
    expect(parse('# vm: kernels=stock\n# vm: kernels=debug,6.1').kernels).toEqual(['6.1', '6.12', 'debug']);
    expect(parse('# vm: kernels=rt').kernels).toEqual(['6.1-rt', '6.12-rt']);
    expect(() => parse('# vm: kernels=6.2')).toThrow(/kernels takes .*debug.* not "6\.2"/);
  });
});
