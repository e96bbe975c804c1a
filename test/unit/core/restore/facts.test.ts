// What the restore plan reads from a point, from crafted superblocks and
// sfdisk output, hostile values included (restore/facts.ts).
import { describe, expect, it } from 'vitest';

import { btrfsFacts, extFacts, fatFacts, parseSfdiskTable, xfsFacts, xfsMkfsArgs } from '../../../../electron/core/restore/facts';

function extSb(o: { blocks: number; free: number; logBs: number; magic?: number }): Buffer {
  const b = Buffer.alloc(1024);
  b.writeUInt32LE(o.blocks, 0x4);
  b.writeUInt32LE(o.free, 0xc);
  b.writeUInt32LE(o.logBs, 0x18);
  b.writeUInt16LE(o.magic ?? 0xef53, 0x38);
  return b;
}

function xfsSb(o: { bs?: number; dblocks: bigint; fdblocks: bigint; v5?: boolean; ro?: number; inc?: number }): Buffer {
  const b = Buffer.alloc(512);
  b.write('XFSB', 0, 'latin1');
  b.writeUInt32BE(o.bs ?? 4096, 4);
  b.writeBigUInt64BE(o.dblocks, 8);
  b.writeUInt16BE(o.v5 === false ? 0xb4a4 : 0xb4a5, 0x64);
  b.writeUInt16BE(512, 0x66);
  b.writeUInt16BE(512, 0x68);
  b.writeBigUInt64BE(o.fdblocks, 0x90);
  b.writeUInt32BE(o.ro ?? 0, 0xd4);
  b.writeUInt32BE(o.inc ?? 0, 0xd8);
  return b;
}

describe('restore facts', () => {
  it('ext: size and used bytes from the superblock; nonsense is unknown', () => {
    expect(extFacts(extSb({ blocks: 262144, free: 157024, logBs: 2 }))).toEqual({ fsBytes: 1 << 30, usedBytes: 105120 * 4096 });
    expect(extFacts(extSb({ blocks: 10, free: 11, logBs: 2 }))).toEqual({});
    expect(extFacts(extSb({ blocks: 10, free: 1, logBs: 30 }))).toEqual({});
    expect(extFacts(extSb({ blocks: 10, free: 1, logBs: 2, magic: 0x1234 }))).toEqual({});
    expect(extFacts(Buffer.alloc(10))).toEqual({});
  });

  it('xfs: size and used bytes, and mkfs options that keep its features', () => {
    expect(xfsFacts(xfsSb({ dblocks: 1000n, fdblocks: 600n }))).toEqual({ fsBytes: 4096000, usedBytes: 400 * 4096 });
    expect(xfsFacts(xfsSb({ dblocks: 1000n, fdblocks: 1001n }))).toEqual({});
    expect(xfsFacts(xfsSb({ dblocks: 2n ** 62n, fdblocks: 0n }))).toEqual({});
    expect(xfsFacts(xfsSb({ bs: 3000, dblocks: 1n, fdblocks: 0n }))).toEqual({});
    // finobt + reflink, ftype + sparse + bigtime.
    expect(xfsMkfsArgs(xfsSb({ dblocks: 1n, fdblocks: 0n, ro: 0x5, inc: 0xb }))).toEqual([
      '-b',
      'size=4096',
      '-s',
      'size=512',
      '-i',
      'size=512,sparse=1,nrext64=0',
      '-m',
      'crc=1,finobt=1,rmapbt=0,reflink=1,inobtcount=0,bigtime=1',
    ]);
    expect(xfsMkfsArgs(xfsSb({ dblocks: 1n, fdblocks: 0n, v5: false }))).toContain('crc=0');
    expect(xfsMkfsArgs(xfsSb({ bs: 1000, dblocks: 1n, fdblocks: 0n }))).toBeUndefined();
  });

  it('btrfs: total and used bytes; FAT: used clusters counted in the FAT', async () => {
    const b = Buffer.alloc(0x1000);
    b.write('_BHRfS_M', 0x40, 'latin1');
    b.writeBigUInt64LE(1n << 30n, 0x70);
    b.writeBigUInt64LE(100n << 20n, 0x78);
    expect(btrfsFacts(b)).toEqual({ fsBytes: 1 << 30, usedBytes: 100 << 20 });
    // FAT16: 512-byte sectors, 4 per cluster, 1 reserved, 2 FATs of 32 sectors, 512 root entries, 40000 sectors.
    const disk = Buffer.alloc(512 * 80);
    disk.writeUInt16LE(512, 11);
    disk.writeUInt8(4, 13);
    disk.writeUInt16LE(1, 14);
    disk.writeUInt8(2, 16);
    disk.writeUInt16LE(512, 17);
    disk.writeUInt16LE(40000, 19);
    disk.writeUInt16LE(32, 22);
    disk.writeUInt16LE(0xaa55, 510);
    for (const c of [2, 3, 4, 10]) disk.writeUInt16LE(0xffff, 512 + c * 2);
    const read = async (off: number, len: number) => {
      const out = Buffer.alloc(len);
      disk.copy(out, 0, off, Math.min(disk.length, off + len));
      return out;
    };
    const meta = (1 + 2 * 32 + 32) * 512;
    expect(await fatFacts(read, 40000 * 512)).toEqual({ fsBytes: 40000 * 512, usedBytes: meta + 4 * 4 * 512, fatBits: 16 });
    expect(await fatFacts(read, 1000)).toEqual({}); // larger than its partition
  });

  it('sfdisk --json: GPT ids, names, attributes; MBR boot flags; nonsense refused', () => {
    const gpt = parseSfdiskTable(
      JSON.stringify({
        partitiontable: {
          label: 'gpt',
          id: 'ABC',
          sectorsize: 512,
          partitions: [
            { node: 'x1', start: 2048, size: 100, type: 'T', uuid: 'U', name: 'EFI', attrs: 'RequiredPartition' },
            { node: 'x2', start: 'no', size: 1 },
          ],
        },
      }),
    );
    expect(gpt).toEqual({ label: 'gpt', id: 'ABC', sectorSize: 512, partitions: [{ number: 1, startBytes: 1 << 20, sizeBytes: 51200, type: 'T', uuid: 'U', name: 'EFI', attrs: 'RequiredPartition' }] });
    const dos = parseSfdiskTable(JSON.stringify({ partitiontable: { label: 'dos', id: '0x1', partitions: [{ node: 'sda3', start: 63, size: 10, type: '83', bootable: true }] } }));
    expect(dos?.partitions[0]).toEqual({ number: 3, startBytes: 63 * 512, sizeBytes: 5120, type: '83', bootable: true });
    expect(parseSfdiskTable('not json')).toBeUndefined();
    expect(parseSfdiskTable(JSON.stringify({ partitiontable: { label: 'sun' } }))).toBeUndefined();
    expect(parseSfdiskTable(JSON.stringify({ partitiontable: { label: 'gpt', sectorsize: 520 } }))).toBeUndefined();
  });
});
