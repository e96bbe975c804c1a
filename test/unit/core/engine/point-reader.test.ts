// Random reads of a restore point (NBD export, file restore) hold the
// device's chunk list natively, once per reader, and read it a segment at a
// time: no JavaScript copy of the list, none per read (review finding 6).
// Here a 256 MiB device at 4 KiB chunks: a 2 MiB list in 64 segments.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { rng, scratch } from './fixtures';

const CS = 4096;
const SIZE = 256 * 1024 * 1024;
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

it('reads any range of a point without holding its chunk list in JavaScript', async () => {
  const dir = scratch('reader');
  tmp.push(dir);
  const image = path.join(dir, 'disk.img');
  // Sparse, with data scattered over every segment.
  const fd = fs.openSync(image, 'w');
  fs.ftruncateSync(fd, SIZE);
  const r = rng(3);
  const written: Array<[number, Buffer]> = [];
  for (let i = 0; i < 200; i++) {
    const off = Math.floor(r() * (SIZE / CS - 2)) * CS + Math.floor(r() * 3000);
    const data = Buffer.alloc(1 + Math.floor(r() * 9000), i + 1);
    fs.writeSync(fd, data, 0, data.length, off);
    written.push([off, data]);
  }
  fs.closeSync(fd);
  const expected = fs.readFileSync(image);
  const repo = await engine.init({ path: path.join(dir, 'repo'), chunkSize: CS });
  const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });

  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const reader = await repo.openReader(p.id, image);
  const held = process.memoryUsage().arrayBuffers - before;
  // The list is 2 MiB; the reader's own cache is 32 chunks (128 KiB).
  expect(held).toBeLessThan(512 * 1024);

  for (const [off, data] of written) {
    const from = Math.max(0, off - 5000);
    const got = await reader.read(from, Math.min(SIZE - from, data.length + 10_000));
    expect(got.equals(expected.subarray(from, from + got.length))).toBe(true);
  }
  expect((await reader.read(SIZE - 10, 10)).equals(expected.subarray(SIZE - 10))).toBe(true);
  await reader.close();
  await repo.close();
});
