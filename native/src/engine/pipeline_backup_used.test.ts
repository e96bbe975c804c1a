// A full backup given used ranges reads only the chunks that touch them;
// the others are recorded as the zero id unread.
import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { newRepo, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;

describe('backup pipeline with used ranges', () => {
  it('reads chunks touching a used range whole and records the rest as zero ids unread', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, true);
    const data = randomBytes(16 * CS); // no zero chunk of its own
    const src = writeFile(dir, 'a.img', data);
    // chunk 0 (one byte of it), chunks 3-4 (a range across their border), chunk 15 (past the end too)
    const r = await repo.backup({ source: src, chunkSize: CS, level: 1, usedRanges: [[100, 1], [4 * CS - 10, 20], [15 * CS + 5, 100 * CS]] });
    expect(r.chunksRead).toBe(4);
    expect(r.bytesRead).toBe(4 * CS);
    expect(r.bytesUnused).toBe(12 * CS);
    expect(r.chunksZero).toBe(0); // the skipped chunks were not read, so not seen as zero either
    const zero = Buffer.alloc(32);
    for (let c = 0; c < 16; c++) expect(r.list.subarray(c * 32, c * 32 + 32).equals(zero)).toBe(![0, 3, 4, 15].includes(c));
    // Without used ranges: everything, nothing counted as unused.
    const all = await repo.backup({ source: src, chunkSize: CS, level: 1 });
    expect(all.bytesRead).toBe(16 * CS);
    expect(all.bytesUnused).toBe(0);
    for (const c of [0, 3, 4, 15]) expect(all.list.subarray(c * 32, c * 32 + 32).equals(r.list.subarray(c * 32, c * 32 + 32))).toBe(true);
  });

  it('reads nothing for empty used ranges and refuses them with changed ranges', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false);
    const src = writeFile(dir, 'a.img', randomBytes(3 * CS + 7));
    const r = await repo.backup({ source: src, chunkSize: CS, level: 1, usedRanges: [] });
    expect(r.bytesRead).toBe(0);
    expect(r.bytesUnused).toBe(3 * CS + 7);
    expect(r.list.equals(Buffer.alloc(4 * 32))).toBe(true);
    expect(() => repo.backup({ source: src, chunkSize: CS, level: 1, parentList: r.list, ranges: [[0, 1]], usedRanges: [[0, 1]] })).toThrow(/usedRanges/);
    expect(() => repo.backup({ source: src, chunkSize: CS, level: 1, usedRanges: [[-1, 5]] })).toThrow(/non-negative/);
  });
});
