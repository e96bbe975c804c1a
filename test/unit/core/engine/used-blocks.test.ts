// Full backups of ext4 images read only the blocks the file system uses:
// real images (mkfs.ext4 -d over random bytes, nodiscard, so free blocks
// hold garbage), backed up, restored, fsck'd and their files compared
// through read-only loop mounts (the tests run as root). Damaged and
// foreign file systems are read whole, and the point says why.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { JobInput } from '../../../../electron/common/contract';
import { type RepositoryHandle, engine } from '../../../../electron/core/engine';

const CHUNK = 256 * 1024;
const MIB = 1 << 20;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sk-used-'));
let repo: RepositoryHandle;
beforeAll(async () => {
  repo = await engine.init({ path: path.join(dir, 'repo'), passphrase: 'used blocks', chunkSize: CHUNK });
});
afterAll(async () => {
  await repo?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** ~`fillMiB` MiB of files (random and text) in a `mib` MiB ext4 image whose free blocks hold random bytes. */
function ext4Image(name: string, mib: number, fillMiB: number, extra: string[] = []): string {
  const tree = path.join(dir, `${name}-tree`);
  fs.mkdirSync(path.join(tree, 'photos/2024'), { recursive: true });
  for (let i = 0; i < fillMiB - 1; i++) fs.writeFileSync(path.join(tree, i % 2 ? 'photos' : 'photos/2024', `p${i}.raw`), randomBytes(MIB));
  fs.writeFileSync(path.join(tree, 'notes.txt'), 'free blocks restore as zeros\n'.repeat(MIB / 29));
  const image = path.join(dir, `${name}.img`);
  fs.writeFileSync(image, randomBytes(mib * MIB));
  sh('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'nodiscard', ...extra, '-d', tree, image]);
  return image;
}

/** Every file under a read-only loop mount of `image` (at `offset`), by relative path -> sha256. */
function filesOf(image: string, offset = 0): Map<string, string> {
  const mnt = fs.mkdtempSync(path.join(dir, 'mnt-'));
  sh('mount', ['-o', `loop,ro${offset ? `,offset=${offset}` : ''}`, image, mnt]);
  try {
    const out = new Map<string, string>();
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) out.set(path.relative(mnt, p), sha(p));
      }
    };
    walk(mnt);
    return out;
  } finally {
    sh('umount', [mnt]);
    fs.rmdirSync(mnt);
  }
}

function fsckClean(image: string): void {
  const r = spawnSync('e2fsck', ['-fn', image], { encoding: 'utf8' });
  expect(r.status, r.stdout + r.stderr).toBe(0);
}

async function backupAndRestore(image: string, readAllSectors = false) {
  const point = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1, ...(readAllSectors && { readAllSectors }) });
  const target = path.join(dir, `restored-${point.id}.img`);
  await repo.restore({ pointId: point.id, source: image, target, skipIdentical: false });
  return { point, dev: point.devices[0]!, target };
}

describe('full backups of used blocks only', () => {
  it('reads about the used fraction of a 30 % full ext4 image; the restore fscks clean with the same files, free blocks zero', async () => {
    const image = ext4Image('thirty', 48, 14);
    const size = fs.statSync(image).size;
    const usedBytes = (Number(/^Block count:\s+(\d+)/m.exec(sh('dumpe2fs', ['-h', image]))![1]) - Number(/^Free blocks:\s+(\d+)/m.exec(sh('dumpe2fs', ['-h', image]))![1])) * 4096;
    const { dev, target } = await backupAndRestore(image);
    expect(dev.usedBlocks).toEqual([{ fsType: 'ext4', usedBytes }]);
    expect(dev.readBytes + dev.unusedBytes!).toBe(size);
    // Whole chunks around the used blocks: at least the used bytes, well under the whole image.
    expect(dev.readBytes).toBeGreaterThanOrEqual(usedBytes);
    expect(dev.readBytes).toBeLessThan(usedBytes + size * 0.2);
    expect(dev.readBytes).toBeLessThan(size * 0.6);
    fsckClean(target);
    expect(filesOf(target)).toEqual(filesOf(image));
    // The free blocks held random bytes in the source and are zeros now.
    expect(sha(target)).not.toBe(sha(image));
    // Chunk by chunk: as in the source, or zeros where nothing was read.
    const src = fs.readFileSync(image);
    const out = fs.readFileSync(target);
    let zeroed = 0;
    for (let off = 0; off < size; off += CHUNK) {
      const a = src.subarray(off, off + CHUNK);
      const b = out.subarray(off, off + CHUNK);
      if (a.equals(b)) continue;
      expect(b.every((x) => x === 0)).toBe(true);
      zeroed += b.length;
    }
    expect(zeroed).toBe(dev.unusedBytes);
  });

  it('reads every sector with readAllSectors, and the restore is the source byte for byte', async () => {
    const image = ext4Image('allsectors', 16, 4);
    const { dev, target } = await backupAndRestore(image, true);
    expect(dev.readBytes).toBe(fs.statSync(image).size);
    expect(dev.unusedBytes).toBeUndefined();
    expect(dev.usedBlocks).toBeUndefined();
    expect(sha(target)).toBe(sha(image));
  });

  it('reads a damaged ext4 (bitmap bytes flipped), an xfs image and random bytes whole, saying why', async () => {
    const damaged = ext4Image('damaged', 16, 4, ['-O', '^metadata_csum']);
    const bitmap = Number(/Block bitmap at (\d+)/.exec(sh('dumpe2fs', [damaged]))![1]) * 4096;
    // One bit: block 800 of group 0 changes between used and free.
    const fd = fs.openSync(damaged, 'r+');
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, bitmap + 100);
    byte[0]! ^= 1;
    fs.writeSync(fd, byte, 0, 1, bitmap + 100);
    fs.closeSync(fd);
    const xfs = path.join(dir, 'xfs.img');
    fs.writeFileSync(xfs, '');
    fs.truncateSync(xfs, 300 * MIB);
    sh('mkfs.xfs', ['-q', '-f', xfs]);
    const rnd = path.join(dir, 'random.img');
    fs.writeFileSync(rnd, randomBytes(8 * MIB));
    for (const [image, reason] of [
      [damaged, /^group 0: the bitmap has \d+ used blocks, its descriptor says \d+$/],
      [xfs, /^used blocks are read from ext2\/3\/4 only, not xfs$/],
      [rnd, /^no file system recognised$/],
    ] as const) {
      const { dev, target } = await backupAndRestore(image);
      expect(dev.readBytes).toBe(fs.statSync(image).size);
      expect(dev.unusedBytes).toBe(0);
      expect(dev.usedBlocks).toHaveLength(1);
      expect(dev.usedBlocks![0]!.reason).toMatch(reason);
      expect(sha(target)).toBe(sha(image));
    }
  });

  it('on a partitioned disk reads the table, the other partitions and the ext4 partition\'s used blocks', async () => {
    const inner = ext4Image('part1', 24, 4);
    const disk = path.join(dir, 'disk.img');
    fs.writeFileSync(disk, randomBytes(48 * MIB));
    // p1: the ext4 image at 1 MiB; p2: 10 MiB of random bytes at 25 MiB.
    execFileSync('sfdisk', ['-q', disk], { input: 'label: gpt\nstart=2048, size=49152, type=linux\nstart=51200, size=20480, type=linux\n', stdio: ['pipe', 'pipe', 'pipe'] });
    const fd = fs.openSync(disk, 'r+');
    fs.writeSync(fd, fs.readFileSync(inner), 0, 24 * MIB, MIB);
    fs.closeSync(fd);
    const used = Number(/^Block count:\s+(\d+)/m.exec(sh('dumpe2fs', ['-h', inner]))![1]) - Number(/^Free blocks:\s+(\d+)/m.exec(sh('dumpe2fs', ['-h', inner]))![1]);
    const { dev, target } = await backupAndRestore(disk);
    expect(dev.usedBlocks).toEqual([
      { partition: 1, fsType: 'ext4', usedBytes: used * 4096 },
      { partition: 2, reason: 'no file system recognised' },
    ]);
    expect(dev.readBytes + dev.unusedBytes!).toBe(48 * MIB);
    expect(dev.readBytes).toBeLessThan(48 * MIB - 10 * MIB);
    const src = fs.readFileSync(disk);
    const out = fs.readFileSync(target);
    // The table, the second partition and the backup GPT at the end: as they were.
    expect(out.subarray(0, MIB).equals(src.subarray(0, MIB))).toBe(true);
    expect(out.subarray(25 * MIB).equals(src.subarray(25 * MIB))).toBe(true);
    // The ext4 partition: clean, the same files.
    const p1 = path.join(dir, 'restored-p1.img');
    fs.writeFileSync(p1, out.subarray(MIB, 25 * MIB));
    fsckClean(p1);
    expect(filesOf(target, MIB)).toEqual(filesOf(disk, MIB));
  });
});

describe('the readAllSectors job option', () => {
  it('is checked at the contract edge', () => {
    const field = JobInput.shape.readAllSectors;
    expect(field.safeParse(true).success).toBe(true);
    expect(field.safeParse(undefined).success).toBe(true);
    expect(field.safeParse('yes').success).toBe(false);
    expect(field.safeParse(1).success).toBe(false);
  });
});
