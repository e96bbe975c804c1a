// A restore (without --skip-identical) onto an image file that exists and
// holds other data: the result is exactly the point's image, zero chunks
// included (a restore that only wrote the non-zero chunks would leave the
// old file's bytes there), and no longer than the point.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { rng, scratch } from './fixtures';

const CHUNK = 64 * 1024;
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function random(n: number, seed: number): Buffer {
  const r = rng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE((r() * 0x100000000) >>> 0, i);
  return b;
}

it('leaves exactly the point on an image file that held other, longer data', async () => {
  const dir = scratch('restore-existing');
  tmp.push(dir);
  const source = path.join(dir, 'disk.img');
  const img = random(16 * CHUNK, 3);
  for (const c of [2, 7, 15]) img.fill(0, c * CHUNK, (c + 1) * CHUNK);
  fs.writeFileSync(source, img);
  const repo = await engine.init({ path: path.join(dir, 'repo'), chunkSize: CHUNK });
  try {
    const point = await repo.backup({ sources: [{ source, readFrom: source }], compressionLevel: 1 });
    const target = path.join(dir, 'target.img');
    fs.writeFileSync(target, random(20 * CHUNK, 4));
    await repo.restore({ pointId: point.id, source, target, skipIdentical: false });
    const out = fs.readFileSync(target);
    expect(out.length).toBe(img.length);
    expect(out.equals(img)).toBe(true);
  } finally {
    await repo.close();
  }
});
