// Compression that gives up on data that does not compress, and finds it
// again when it does (compress.cc): after a run of incompressible chunks
// the next ones are stored raw untried, a probe comes within 17 chunks, and
// text after that is compressed again. Every chunk restores exactly either
// way. One worker thread, so the order the compressor sees is the file's.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { newRepo, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;

function text(i: number): Buffer {
  return Buffer.alloc(CS, `chunk ${i} is plain text that compresses well; `);
}

describe('compression skips incompressible runs', () => {
  it('stores the chunks right after an incompressible run raw, compresses again after a probe, and restores all', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false);
    const parts: Buffer[] = [];
    for (let i = 0; i < 8; i++) parts.push(randomBytes(CS));
    // Inside the skip window: stored raw without trying.
    for (let i = 0; i < 4; i++) parts.push(text(i));
    // Past it: a probe finds text again, the rest is compressed.
    for (let i = 4; i < 60; i++) parts.push(text(i));
    const data = Buffer.concat(parts);
    const r = await repo.backup({ source: writeFile(dir, 'a.img', data), chunkSize: CS, level: 3, threads: 1 });

    // Each text chunk alone compresses to a few hundred bytes.
    const alone = newRepo(scratchDir(), false);
    const one = await alone.backup({ source: writeFile(dir, 't.img', text(0)), chunkSize: CS, level: 3, threads: 1 });
    const small = one.bytesStored;
    expect(small).toBeLessThan(CS / 16);

    const random = 8 * CS;
    // The four text chunks after the run are stored whole ...
    expect(r.bytesStored).toBeGreaterThanOrEqual(random + 4 * CS);
    // ... and of the 56 after them at most the skip window's rest is (12 more), the others small.
    expect(r.bytesStored).toBeLessThan(random + 16 * CS + 44 * small * 2);

    const target = path.join(dir, 'out.img');
    await repo.restore({ list: r.list, chunkSize: CS, deviceSize: data.length, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(data)).toBe(true);
  });

  it('a chunk that saves less than 1/32 is stored raw', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false);
    // 1/40 of the chunk compressible: zstd saves a little (its own floor is
    // 1/64), not enough to be worth a decompression at every restore.
    const c = randomBytes(CS);
    c.fill(0, 0, Math.floor(CS / 40));
    const r = await repo.backup({ source: writeFile(dir, 'a.img', c), chunkSize: CS, level: 3, threads: 1 });
    expect(r.bytesStored).toBeGreaterThanOrEqual(CS);
    const target = path.join(dir, 'out.img');
    await repo.restore({ list: r.list, chunkSize: CS, deviceSize: c.length, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(c)).toBe(true);
  });
});
