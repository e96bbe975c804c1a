// A restore onto a block device that holds other data has the device zero
// the point's zero chunks (BLKZEROOUT) instead of sending zeros: the free
// space of a used-blocks point is most of such a restore. Every zero chunk
// must read back as zeros (first, last, runs, single ones), every other
// chunk as the point's, the device past the point untouched; also on a
// 4 KiB-sector device, and for a point whose size is not a multiple of 512
// (its last, partial zero chunk cannot be zeroed by the device and is
// written). A loop device over a file filled with random bytes.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { scratch, seededBytes } from './fixtures';

const CHUNK = 64 * 1024;
const CHUNKS = 40;
const dirs: string[] = [];
const loops: string[] = [];
afterAll(() => {
  for (const l of loops) execFileSync('losetup', ['-d', l]);
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

const ZERO_CHUNKS = [0, 1, 2, 7, 15, 16, 17, 18, 19, 30, 39];

/** Random data with zero chunks at ZERO_CHUNKS; `cut` bytes short of whole chunks. */
function pointImage(cut: number): Buffer {
  const img = seededBytes(CHUNKS * CHUNK - cut, 31);
  for (const c of ZERO_CHUNKS) img.fill(0, c * CHUNK, Math.min((c + 1) * CHUNK, img.length));
  return img;
}

describe.each([
  { name: '512-byte sectors', sectorSize: 512, cut: 0 },
  { name: '4 KiB sectors', sectorSize: 4096, cut: 0 },
  { name: '512-byte sectors, a point 100 bytes short of whole chunks', sectorSize: 512, cut: 100 },
])('restore onto a device holding other data: $name', ({ sectorSize, cut }) => {
  it('zero chunks read back as zeros, the rest as the point, the device past it untouched', async () => {
    const dir = scratch('devzero');
    dirs.push(dir);
    const source = path.join(dir, 'disk.img');
    const img = pointImage(cut);
    fs.writeFileSync(source, img);
    const repo = await engine.init({ path: path.join(dir, 'repo'), chunkSize: CHUNK });
    const point = await repo.backup({ sources: [{ source, readFrom: source }], compressionLevel: 1 });

    const file = path.join(dir, 'target.img');
    const tail = 4 * CHUNK;
    const before = seededBytes(CHUNKS * CHUNK + tail, 77);
    fs.writeFileSync(file, before);
    const target = execFileSync('losetup', ['--find', '--show', '--sector-size', String(sectorSize), file], { encoding: 'utf8' }).trim();
    loops.push(target);
    const r = await repo.restore({ pointId: point.id, source, target, skipIdentical: false });
    await repo.close();
    expect(r.bytesWritten).toBe(img.length);

    const after = fs.readFileSync(target);
    const wrong: string[] = [];
    for (let c = 0; c < CHUNKS; c++) {
      const end = Math.min((c + 1) * CHUNK, img.length);
      if (!after.subarray(c * CHUNK, end).equals(img.subarray(c * CHUNK, end))) wrong.push(`chunk ${c}${ZERO_CHUNKS.includes(c) ? ' (zero)' : ''}`);
    }
    expect(wrong).toEqual([]);
    expect(after.subarray(img.length).equals(before.subarray(img.length))).toBe(true);
  });
});
