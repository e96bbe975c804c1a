// The used blocks of ext2/3/4 images made with the real tools (mkfs -d
// populates without mounting), against what dumpe2fs says; damaged and
// foreign images give no ranges and a reason, never a crash.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ext4UsedBlocks } from '../../used-blocks';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sk-usedblocks-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A tree of a few MiB: random (incompressible) files and text. */
function tree(name: string, mib: number): string {
  const t = path.join(dir, `${name}-tree`);
  fs.mkdirSync(path.join(t, 'sub/deeper'), { recursive: true });
  for (let i = 0; i < mib; i++) fs.writeFileSync(path.join(t, i % 2 ? 'sub' : 'sub/deeper', `f${i}`), randomBytes(1 << 20));
  fs.writeFileSync(path.join(t, 'notes.txt'), 'used blocks only\n'.repeat(5000));
  return t;
}

/** mkfs with -d; the image starts filled with random bytes (nodiscard keeps them in free blocks). */
function mkfs(name: string, type: 'ext2' | 'ext3' | 'ext4', mib: number, filled: number, extra: string[] = []): string {
  const image = path.join(dir, `${name}.img`);
  fs.writeFileSync(image, randomBytes(mib << 20));
  sh(`mkfs.${type}`, ['-q', '-F', '-E', 'nodiscard', ...extra, '-d', tree(name, filled), image]);
  return image;
}

function dumpe2fs(image: string): { blocks: number; free: number; blockSize: number; groups: Array<{ bitmap: number }> } {
  const out = sh('dumpe2fs', [image]);
  const num = (re: RegExp) => Number(re.exec(out)?.[1]);
  const groups = [...out.matchAll(/Block bitmap at (\d+)/g)].map((m) => ({ bitmap: Number(m[1]) }));
  return { blocks: num(/^Block count:\s+(\d+)/m), free: num(/^Free blocks:\s+(\d+)/m), blockSize: num(/^Block size:\s+(\d+)/m), groups };
}

function flip(image: string, offset: number, bytes: number, seed = 0xa5): void {
  const fd = fs.openSync(image, 'r+');
  const b = Buffer.alloc(bytes);
  fs.readSync(fd, b, 0, bytes, offset);
  for (let i = 0; i < bytes; i++) b[i]! ^= (seed + i * 37) & 0xff || 1;
  fs.writeSync(fd, b, 0, bytes, offset);
  fs.closeSync(fd);
}

describe('ext4 used blocks', () => {
  it.each([
    ['ext4', []],
    ['ext3', []],
    ['ext2', []],
    ['ext4', ['-b', '1024']],
    ['ext4', ['-O', '^metadata_csum,^flex_bg']],
  ] as Array<['ext2' | 'ext3' | 'ext4', string[]]>)('reads the bitmaps of %s %j like dumpe2fs does', async (type, extra) => {
    const image = mkfs(`${type}${extra.join('')}`, type, 24, 6, extra);
    const d = dumpe2fs(image);
    const r = await ext4UsedBlocks(image);
    expect(r.reason).toBeUndefined();
    expect(r).toMatchObject({ ok: true, fsType: type, blockSize: d.blockSize, blocks: d.blocks });
    // dumpe2fs counts the boot block of a 1 KiB-block file system, which no bitmap covers.
    expect(r.usedBlocks).toBe(d.blocks - d.free - (d.blockSize === 1024 ? 1 : 0));
    // Sorted, disjoint, inside the file system; they add up to the used blocks
    // (plus the boot block a 1 KiB-block file system keeps outside its bitmaps).
    let end = -1;
    let sum = 0;
    for (const [off, len] of r.ranges) {
      expect(off).toBeGreaterThan(end);
      expect(len).toBeGreaterThan(0);
      end = off + len;
      sum += len;
    }
    expect(end).toBeLessThanOrEqual(d.blocks * d.blockSize);
    expect(sum).toBe((r.usedBlocks + (d.blockSize === 1024 ? 1 : 0)) * d.blockSize);
    // 6 MiB of files in 24 MiB: well under half is used.
    expect(sum).toBeGreaterThan(6 << 20);
    expect(sum).toBeLessThan(14 << 20);
  });

  it('merges ranges closer than mergeBelow and finds a file system at an offset', async () => {
    const fsImage = mkfs('inner', 'ext4', 16, 4);
    const exact = await ext4UsedBlocks(fsImage);
    const merged = await ext4UsedBlocks(fsImage, { mergeBelow: 4 << 20 });
    expect(merged.ranges.length).toBeLessThan(exact.ranges.length);
    expect(merged.usedBlocks).toBe(exact.usedBlocks);
    const disk = path.join(dir, 'offset.img');
    fs.writeFileSync(disk, Buffer.concat([randomBytes(1 << 20), fs.readFileSync(fsImage), randomBytes(1 << 20)]));
    const at = await ext4UsedBlocks(disk, { offset: 1 << 20, size: 16 << 20 });
    expect(at).toMatchObject({ ok: true, usedBlocks: exact.usedBlocks });
    expect(at.ranges).toEqual(exact.ranges);
    // Told the partition is smaller than the file system: no.
    const small = await ext4UsedBlocks(disk, { offset: 1 << 20, size: 8 << 20 });
    expect(small.ok).toBe(false);
    expect(small.reason).toMatch(/do not fit|larger than/);
  });

  it('gives no ranges and a reason for a damaged bitmap, a damaged group descriptor, a short device, an unreplayed journal', async () => {
    // Without checksums the bitmap is checked against the descriptors' free counts.
    const plain = mkfs('plain', 'ext4', 16, 4, ['-O', '^metadata_csum']);
    const pd = dumpe2fs(plain);
    const bitmapAt = pd.groups[0]!.bitmap * pd.blockSize;
    const a = path.join(dir, 'bitmap.img');
    fs.copyFileSync(plain, a);
    flip(a, bitmapAt + 900, 64);
    const ra = await ext4UsedBlocks(a);
    expect(ra).toMatchObject({ ok: false, fsType: 'ext4', ranges: [] });
    expect(ra.reason).toMatch(/group 0: the bitmap has \d+ used blocks, its descriptor says \d+/);

    // With metadata_csum libext2fs itself refuses the bitmap.
    const csum = mkfs('csum', 'ext4', 16, 4);
    const cd = dumpe2fs(csum);
    const b = path.join(dir, 'bitmap-csum.img');
    fs.copyFileSync(csum, b);
    flip(b, cd.groups[0]!.bitmap * cd.blockSize + 900, 64);
    const rb = await ext4UsedBlocks(b);
    expect(rb.ok).toBe(false);
    expect(rb.reason).toMatch(/bitmap/i);

    // The group descriptor table follows the superblock's block.
    const c = path.join(dir, 'gdt.img');
    fs.copyFileSync(plain, c);
    flip(c, pd.blockSize === 1024 ? 2048 : pd.blockSize, 32);
    const rc = await ext4UsedBlocks(c);
    expect(rc.ok).toBe(false);
    expect(rc.reason).toBeTruthy();

    const d = path.join(dir, 'short.img');
    fs.copyFileSync(plain, d);
    fs.truncateSync(d, 8 << 20);
    const rd = await ext4UsedBlocks(d);
    expect(rd.ok).toBe(false);
    expect(rd.reason).toMatch(/do not fit/);

    const e = path.join(dir, 'recover.img');
    fs.copyFileSync(plain, e);
    sh('debugfs', ['-w', '-R', 'feature needs_recovery', e]);
    const re = await ext4UsedBlocks(e);
    expect(re.ok).toBe(false);
    expect(re.reason).toMatch(/journal needs replaying/);
  });

  it('says what it is not: random bytes, xfs, an empty file, a directory', async () => {
    const rnd = path.join(dir, 'random.img');
    fs.writeFileSync(rnd, randomBytes(4 << 20));
    expect(await ext4UsedBlocks(rnd)).toMatchObject({ ok: false, reason: 'not an ext2/3/4 file system', ranges: [] });
    const xfs = path.join(dir, 'xfs.img');
    fs.writeFileSync(xfs, '');
    fs.truncateSync(xfs, 300 << 20);
    sh('mkfs.xfs', ['-q', '-f', xfs]);
    expect(await ext4UsedBlocks(xfs)).toMatchObject({ ok: false, reason: 'not an ext2/3/4 file system' });
    const empty = path.join(dir, 'empty.img');
    fs.writeFileSync(empty, '');
    expect((await ext4UsedBlocks(empty)).ok).toBe(false);
    expect((await ext4UsedBlocks(dir)).reason).toMatch(/cannot size/);
    expect((await ext4UsedBlocks(path.join(dir, 'missing'))).reason).toMatch(/cannot open/);
    expect(() => ext4UsedBlocks('relative.img')).toThrow(TypeError);
    expect(() => ext4UsedBlocks(rnd, { offset: -1 })).toThrow(TypeError);
  });

  it('survives random byte flips in the superblock and group descriptors (fuzz, seeded)', async () => {
    const bases = [mkfs('fz4', 'ext4', 8, 2, ['-O', '^metadata_csum']), mkfs('fz2', 'ext2', 8, 2, ['-b', '1024'])];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const outcomes = { ok: 0, refused: 0 };
    const image = path.join(dir, 'fuzz.img');
    for (let i = 0; i < 150; i++) {
      const base = bases[i % bases.length]!;
      fs.copyFileSync(base, image);
      const fd = fs.openSync(image, 'r+');
      // Superblock at 1024 and the descriptor table after it (block 1 or 2).
      for (let k = 0, n = 1 + (next() % 6); k < n; k++) {
        const off = 1024 + (next() % 3072);
        fs.writeSync(fd, Buffer.from([next() & 0xff]), 0, 1, off);
      }
      fs.closeSync(fd);
      const r = await ext4UsedBlocks(image);
      if (r.ok) {
        outcomes.ok++;
        for (const [off, len] of r.ranges) expect(off + len).toBeLessThanOrEqual(r.blocks * r.blockSize);
      } else {
        outcomes.refused++;
        expect(r.reason).toBeTruthy();
        expect(r.ranges).toEqual([]);
      }
    }
    // Both happen: flips in unused superblock fields are harmless, others are caught.
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
