import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import { createCancelToken, isNativeEngineError } from '../../engine';
import { newRepo, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;

describe('backup pipeline', () => {
  it('records zero chunks as the zero id without storing them, and dedups identical chunks', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, true);
    const block = randomBytes(CS);
    const src = writeFile(dir, 'a.img', Buffer.concat([block, Buffer.alloc(CS), block, Buffer.from('tail')]));
    const r = await repo.backup({ source: src, chunkSize: CS, level: 3 });
    expect(r.chunks).toBe(4);
    expect(r.chunksZero).toBe(1);
    expect(r.chunksNew).toBe(2); // block once, tail once
    expect(r.list.subarray(32, 64).equals(Buffer.alloc(32))).toBe(true);
    expect(r.list.subarray(0, 32).equals(r.list.subarray(64, 96))).toBe(true);
    expect(r.bytesNew).toBe(CS + 4);
    // The same content in another file adds nothing.
    const other = writeFile(dir, 'b.img', Buffer.concat([block, Buffer.from('tail')]));
    const r2 = await repo.backup({ source: other, chunkSize: CS, level: 3 });
    expect(r2.chunksNew).toBe(0); // both chunks ("block", "tail") are known, wherever they sit
    expect(r2.bytesStored).toBe(0);
    expect(repo.stats().chunks).toBe(2);
  });

  it('reads only chunks that overlap the changed ranges and copies the rest from the parent list', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false);
    const src = writeFile(dir, 'a.img', randomBytes(8 * CS));
    const full = await repo.backup({ source: src, chunkSize: CS, level: 1 });
    const fd = fs.openSync(src, 'r+');
    fs.writeSync(fd, randomBytes(100), 0, 100, 3 * CS + 10);
    fs.closeSync(fd);
    const incr = await repo.backup({ source: src, chunkSize: CS, level: 1, parentList: full.list, ranges: [[3 * CS + 10, 100]] });
    expect(incr.bytesRead).toBe(CS);
    expect(incr.chunksRead).toBe(1);
    for (let c = 0; c < 8; c++) expect(incr.list.subarray(c * 32, c * 32 + 32).equals(full.list.subarray(c * 32, c * 32 + 32))).toBe(c !== 3);
  });

  it('fails with SOURCE_CHANGED when the source is not the expected size, DEVICE_NOT_FOUND when it is missing', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false);
    const src = writeFile(dir, 'a.img', randomBytes(2 * CS));
    const e = await repo.backup({ source: src, chunkSize: CS, level: 1, expectedSize: 4 * CS }).catch((x: unknown) => x);
    expect(isNativeEngineError(e) && e.code).toBe('SOURCE_CHANGED');
    const m = await repo.backup({ source: `${dir}/missing`, chunkSize: CS, level: 1 }).catch((x: unknown) => x);
    expect(isNativeEngineError(m) && m.code).toBe('DEVICE_NOT_FOUND');
  });

  it('reports progress and stops with CANCELLED, leaving no temp pack and claiming nothing', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, true);
    const src = writeFile(dir, 'a.img', randomBytes(256 * CS));
    const token = createCancelToken();
    const ticks: Array<[number, number]> = [];
    const p = repo.backup({ source: src, chunkSize: CS, level: 19, threads: 1 }, (d, t) => ticks.push([d, t]), token);
    setTimeout(() => token.cancel(), 30);
    const e = await p.catch((x: unknown) => x);
    expect(isNativeEngineError(e) && e.code).toBe('CANCELLED');
    // tmp/ appears with the first pack: a cancel before any chunk reached
    // the packer (ASan on a busy machine) leaves none at all.
    expect(fs.existsSync(`${dir}/repo/tmp`) ? fs.readdirSync(`${dir}/repo/tmp`) : []).toEqual([]);
    // A later backup stores every chunk the cancelled one did not seal.
    const r = await repo.backup({ source: src, chunkSize: CS, level: 1 }, (d, t) => ticks.push([d, t]));
    expect(repo.missingChunks(r.list).length).toBe(0);
    expect(ticks.at(-1)).toEqual([256 * CS, 256 * CS]);
  });
});
