// A full destination recovers: with the repository's file system full up
// to a few KiB, prune still frees space, because it writes a small removal
// record, deletes the dropped packs, and only then writes the consolidated
// index (format 2). Real file system: a 48 MiB tmpfs.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { rng, scratch, sha256 } from './fixtures';

const CS = 4096;
const tmp: string[] = [];
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) execFileSync('umount', [m]);
  tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

function randomImage(file: string, seed: number, size: number): void {
  const r = rng(seed);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((r() * 0x100000000) >>> 0, i);
  fs.writeFileSync(file, b);
}

const free = (dir: string) => {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
};

it('prune frees a destination that is full to the last few KiB', async () => {
  const dir = scratch('full');
  tmp.push(dir);
  const dest = path.join(dir, 'dest');
  fs.mkdirSync(dest);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', dest]);
  mounts.push(dest);
  const image = path.join(dir, 'disk.img');
  const repo = await engine.init({ path: path.join(dest, 'repo'), chunkSize: CS });

  // Full backups of changing incompressible data until the disk is full.
  const points: string[] = [];
  let sha = '';
  let full: AppError | undefined;
  for (let i = 0; i < 20 && !full; i++) {
    randomImage(image, 100 + i, 8 << 20);
    try {
      points.push((await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id);
      sha = sha256(image);
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== 'DISK_FULL') throw e;
      full = e;
    }
  }
  expect(full?.code).toBe('DISK_FULL');
  expect(points.length).toBeGreaterThanOrEqual(3);
  // Whatever the failed backup left free is taken too, down to 16 KiB.
  const filler = path.join(dest, 'filler');
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free(dest) - 16 * 1024)));
  expect(free(dest)).toBeLessThanOrEqual(16 * 1024);

  const report = await repo.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false });
  expect(report.keptPoints).toEqual([points.at(-1)]);
  expect(report.freedBytes).toBeGreaterThan(16 << 20);
  expect(free(dest)).toBeGreaterThan(16 << 20);
  expect(fs.readdirSync(path.join(dest, 'repo', 'index')).length).toBe(1);
  expect((await repo.verify({ data: true })).ok).toBe(true);
  const out = path.join(dir, 'out.img');
  await repo.restore({ pointId: points.at(-1) ?? '', source: image, target: out, skipIdentical: false });
  expect(sha256(out)).toBe(sha);
  // And the next backup fits again.
  await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
  await repo.close();
}, 120_000);
