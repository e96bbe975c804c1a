// restore --skip-identical onto a target that already holds data: chunks
// that differ everywhere, chunks that differ only after their first 32
// bytes, identical chunks, data where the point has a zero chunk, and a
// target longer than the point. Every byte of the result must be the
// point's, and only the identical chunks may be skipped. Onto an image
// file and onto a block device (a loop device over a file).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { scratch, seededBytes } from './fixtures';

const CHUNK = 64 * 1024;
const CHUNKS = 24;
const dirs: string[] = [];
const loops: string[] = [];
afterAll(() => {
  for (const l of loops) execFileSync('losetup', ['-d', l]);
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

/** The point's image: random chunks, text chunks, and zero chunks 5, 11 and 17. */
function pointImage(): Buffer {
  const img = seededBytes(CHUNKS * CHUNK, 21);
  for (const c of [2, 3, 8]) img.fill(`chunk ${c} text `, c * CHUNK, (c + 1) * CHUNK);
  for (const c of [5, 11, 17]) img.fill(0, c * CHUNK, (c + 1) * CHUNK);
  return img;
}

type Kind = 'identical' | 'different' | 'late-difference' | 'data-over-zero' | 'zero-over-data';

/** What the target holds before the restore, chunk by chunk. */
function targetImage(img: Buffer): { target: Buffer; kinds: Kind[] } {
  const target = Buffer.from(img);
  const kinds: Kind[] = Array.from({ length: CHUNKS }, () => 'identical');
  const set = (c: number, k: Kind) => (kinds[c] = k);
  for (const c of [1, 8, 20]) {
    seededBytes(CHUNK, 100 + c).copy(target, c * CHUNK);
    set(c, 'different');
  }
  // Same first 32 bytes (and more), different from byte 32, 4096 or the last byte on.
  for (const [c, at] of [
    [3, 32],
    [6, 4096],
    [13, CHUNK - 1],
  ] as const) {
    target[c * CHUNK + at] = (target[c * CHUNK + at] ?? 0) ^ 0xff;
    set(c, 'late-difference');
  }
  // The point has zeros here; the target has data (past the first 32 bytes only in 11).
  seededBytes(CHUNK, 7).copy(target, 5 * CHUNK);
  set(5, 'data-over-zero');
  target[11 * CHUNK + 40000] = 1;
  set(11, 'data-over-zero');
  // The point has data; the target has zeros.
  target.fill(0, 14 * CHUNK, 15 * CHUNK);
  set(14, 'zero-over-data');
  return { target, kinds };
}

describe.each(['image file', 'block device'] as const)('restore --skip-identical onto an %s', (kind) => {
  it('writes every chunk that differs anywhere and skips only identical ones', async () => {
    const dir = scratch('skip');
    dirs.push(dir);
    const source = path.join(dir, 'disk.img');
    const img = pointImage();
    fs.writeFileSync(source, img);
    const repo = await engine.init({ path: path.join(dir, 'repo'), chunkSize: CHUNK });
    const point = await repo.backup({ sources: [{ source, readFrom: source }], compressionLevel: 3 });

    const { target: before, kinds } = targetImage(img);
    const file = path.join(dir, 'target.img');
    let target = file;
    if (kind === 'image file') {
      // Longer than the point: the restore cuts it to the point's size.
      fs.writeFileSync(file, Buffer.concat([before, Buffer.alloc(CHUNK, 0x77)]));
    } else {
      // A block device keeps its size; the point fills its first bytes.
      fs.writeFileSync(file, Buffer.concat([before, Buffer.alloc(CHUNK, 0x77)]));
      target = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
      loops.push(target);
    }
    const r = await repo.restore({ pointId: point.id, source, target, skipIdentical: true });
    await repo.close();

    const after = fs.readFileSync(target);
    const expectedLength = kind === 'image file' ? img.length : img.length + CHUNK;
    expect(after.length).toBe(expectedLength);
    const wrong: string[] = [];
    for (let c = 0; c < CHUNKS; c++)
      if (!after.subarray(c * CHUNK, (c + 1) * CHUNK).equals(img.subarray(c * CHUNK, (c + 1) * CHUNK))) wrong.push(`chunk ${c} (${kinds[c]})`);
    expect(wrong).toEqual([]);
    if (kind === 'block device') expect(after.subarray(img.length).equals(Buffer.alloc(CHUNK, 0x77))).toBe(true);

    const identical = kinds.filter((k) => k === 'identical').length;
    expect(r.bytesSkipped).toBe(identical * CHUNK);
    expect(r.bytesWritten).toBe((CHUNKS - identical) * CHUNK);
  });
});
