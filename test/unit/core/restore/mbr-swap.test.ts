// A tiered restore of an MBR disk (issue 18): the disk identifier, types
// and the boot flag kept, the MBR boot code kept, a partition moved byte
// for byte (tier a), a swap area and a FAT32 that must shrink made anew
// with their UUIDs (serial) and labels, the FAT's files copied (tier c).
// Root: the swap area is made on a loop device.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { previewRestore, restoreDisk } from '../../../../electron/core/restore';
import { tempDir } from '../../../support/temp-dirs';

const MiB = 1 << 20;
const tmp = tempDir('snapkeep-mbr-swap-');
afterAll(() => tmp.remove());
const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { encoding: 'utf8', ...(input !== undefined && { input }) });

function slice(file: string, off: number, len: number): Buffer {
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(len);
  fs.readSync(fd, b, 0, len, off);
  fs.closeSync(fd);
  return b;
}

describe.skipIf(process.getuid?.() !== 0)('restore an MBR disk to a smaller one', () => {
  it('keeps the table ids, the boot flag and boot code; moves a partition (a); makes the swap area and the FAT anew (c)', async () => {
    const src = path.join(tmp.dir, 'mbr.img');
    fs.writeFileSync(src, '');
    fs.truncateSync(src, 160 * MiB);
    // Swap first (large), data second (moves when the swap area shrinks), then a FAT32 of 80 MiB.
    sh('sfdisk', ['-q', src], 'label: dos\nlabel-id: 0x5eed1e55\n\nstart=2048, size=122880, type=82\nstart=124928, size=16384, type=83, bootable\nstart=141312, size=163840, type=c\n');
    const fatAt = `${src}@@${141312 * 512}`;
    const env = { ...process.env, MTOOLSRC: '/dev/null', MTOOLS_SKIP_CHECK: '1' };
    execFileSync('mformat', ['-i', fatAt, '-T', '163840', '-h', '64', '-s', '32', '-F', '-N', 'c0ffee42', '-v', 'DATA', '::'], { env });
    const note = randomBytes(300_000);
    fs.writeFileSync(path.join(tmp.dir, 'NOTE.BIN'), note);
    execFileSync('mmd', ['-i', fatAt, '::/EFI', '::/EFI/BOOT'], { env });
    execFileSync('mcopy', ['-i', fatAt, path.join(tmp.dir, 'NOTE.BIN'), '::/EFI/BOOT/'], { env });
    const boot = randomBytes(440);
    const data = randomBytes(8 * MiB);
    const fd = fs.openSync(src, 'r+');
    fs.writeSync(fd, boot, 0, 440, 0);
    fs.writeSync(fd, data, 0, data.length, 124928 * 512);
    fs.closeSync(fd);
    const loop = sh('losetup', ['-f', '--show', '-o', String(MiB), '--sizelimit', String(60 * MiB), src]).trim();
    try {
      sh('mkswap', ['-U', '0b5e55ed-0000-4000-8000-000000000001', '-L', 'swap0', loop]);
    } finally {
      sh('losetup', ['-d', loop]);
    }
    const repo = await engine.init({ path: path.join(tmp.dir, 'repo'), cacheDir: null });
    try {
      const pointId = (await repo.backup({ sources: [{ source: src, readFrom: src }], compressionLevel: 1 })).id;
      const target = path.join(tmp.dir, 'small.img');
      fs.writeFileSync(target, Buffer.alloc(MiB, 0xee));
      fs.truncateSync(target, 80 * MiB);
      const workDir = path.join(tmp.dir, 'work');
      const plan = await previewRestore(repo, { pointId, source: src, target, workDir });
      expect(plan.fits, plan.reason).toBe(true);
      expect(plan.partitions.map((p) => [p.number, p.tier])).toEqual([
        [1, 'c'],
        [2, 'a'],
        [3, 'c'],
      ]);
      const done = await restoreDisk(repo, { pointId, source: src, target, workDir, digest: plan.digest });
      expect(done.kind).toBe('tiers');
      const t = JSON.parse(sh('sfdisk', ['--json', target])).partitiontable;
      expect(t.id).toBe('0x5eed1e55');
      expect(t.partitions.map((p: { type: string; bootable?: boolean }) => [p.type, p.bootable ?? false])).toEqual([
        ['82', false],
        ['83', true],
        ['c', false],
      ]);
      const [p1, p2, p3] = plan.partitions;
      expect(slice(target, 0, 440).equals(boot)).toBe(true);
      expect(slice(target, p2?.newStartBytes ?? 0, data.length).equals(data)).toBe(true);
      const swap = sh('blkid', ['-p', '-o', 'export', '-O', String(p1?.newStartBytes), '-S', String(p1?.newSizeBytes), target]);
      expect(swap).toMatch(/TYPE=swap/);
      expect(swap).toMatch(/UUID=0b5e55ed-0000-4000-8000-000000000001/);
      expect(swap).toMatch(/LABEL=swap0/);
      // The FAT: FAT32 still, its serial and label, its files.
      const fat = sh('blkid', ['-p', '-o', 'export', '-O', String(p3?.newStartBytes), '-S', String(p3?.newSizeBytes), target]);
      expect(fat).toMatch(/VERSION=FAT32/);
      expect(fat).toMatch(/UUID=C0FF-EE42/);
      expect(fat).toMatch(/LABEL=DATA/);
      expect(p3?.newSizeBytes).toBeLessThan(80 * MiB);
      const back = path.join(tmp.dir, 'back.bin');
      execFileSync('mcopy', ['-n', '-i', `${target}@@${p3?.newStartBytes}`, '::/EFI/BOOT/NOTE.BIN', back], { env });
      expect(fs.readFileSync(back).equals(note)).toBe(true);
    } finally {
      await repo.close();
    }
  });
});
