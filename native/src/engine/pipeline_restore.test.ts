import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { isNativeEngineError } from '../../engine';
import { newRepo, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;

describe('restore pipeline', () => {
  it('restores a byte range (a partition) to offset 0 of the target, and reads ranges for NBD', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, true);
    const data = randomBytes(10 * CS + 123);
    data.fill(0, 2 * CS, 4 * CS);
    const src = writeFile(dir, 'a.img', data);
    const r = await repo.backup({ source: src, chunkSize: CS, level: 3 });
    const target = path.join(dir, 'part.img');
    const res = await repo.restore({ list: r.list, chunkSize: CS, deviceSize: data.length, rangeStart: CS + 500, rangeLength: 5 * CS, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(data.subarray(CS + 500, 6 * CS + 500))).toBe(true);
    expect(res.bytesWritten + res.bytesSkipped).toBe(5 * CS);
    const got = await repo.readRange({ list: r.list, chunkSize: CS, deviceSize: data.length, offset: 9 * CS + 7, length: CS + 116 });
    expect(got.equals(data.subarray(9 * CS + 7))).toBe(true);
  });

  it('places a range at targetOffset of an existing target, touching nothing outside it (zero chunks written unless the target is zeroed)', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false);
    const data = randomBytes(6 * CS);
    data.fill(0, 2 * CS, 3 * CS);
    const r = await repo.backup({ source: writeFile(dir, 'a.img', data), chunkSize: CS, level: 1 });
    const before = Buffer.alloc(10 * CS, 0xaa);
    const target = writeFile(dir, 'disk.img', before);
    const req = { list: r.list, chunkSize: CS, deviceSize: data.length, rangeStart: CS + 100, rangeLength: 4 * CS, target, skipIdentical: false };
    const res = await repo.restore({ ...req, targetOffset: 3 * CS + 7 });
    const after = fs.readFileSync(target);
    expect(after.length).toBe(10 * CS);
    expect(after.subarray(3 * CS + 7, 7 * CS + 7).equals(data.subarray(CS + 100, 5 * CS + 100))).toBe(true);
    expect(after.subarray(0, 3 * CS + 7).equals(before.subarray(0, 3 * CS + 7))).toBe(true);
    expect(after.subarray(7 * CS + 7).equals(before.subarray(7 * CS + 7))).toBe(true);
    expect(res.bytesWritten).toBe(4 * CS);
    // Zeroed by the caller: the zero chunk is left as it is (here still 0xaa, to see it was not written).
    expect(after.subarray(4 * CS - 93, 5 * CS - 93).equals(Buffer.alloc(CS))).toBe(true);
    fs.writeFileSync(target, before);
    const z = await repo.restore({ ...req, targetOffset: 3 * CS + 7, targetZeroed: true });
    expect(z.bytesSkipped).toBe(CS);
    expect(fs.readFileSync(target).subarray(4 * CS - 93, 5 * CS - 93).equals(Buffer.alloc(CS, 0xaa))).toBe(true);
    const small = await repo.restore({ ...req, targetOffset: 7 * CS }).catch((x: unknown) => x);
    expect(isNativeEngineError(small) && small.code).toBe('TARGET_TOO_SMALL');
    expect(fs.statSync(target).size).toBe(10 * CS);
    const none = await repo.restore({ ...req, target: path.join(dir, 'missing.img'), targetOffset: 0 }).catch((x: unknown) => x);
    expect(isNativeEngineError(none)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'missing.img'))).toBe(false);
  });

  it('refuses a chunk list that does not fit the device, and a chunk the index lacks (REPO_CORRUPT naming it)', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false);
    const list = Buffer.concat([Buffer.alloc(32, 7)]);
    const target = path.join(dir, 't.img');
    const wrong = await repo.restore({ list, chunkSize: CS, deviceSize: 3 * CS, target, skipIdentical: false }).catch((x: unknown) => x);
    expect(isNativeEngineError(wrong) && wrong.code).toBe('INVALID_ARGUMENT');
    const missing = await repo.restore({ list, chunkSize: CS, deviceSize: CS, target, skipIdentical: false }).catch((x: unknown) => x);
    expect(isNativeEngineError(missing) && missing.code).toBe('REPO_CORRUPT');
    expect(isNativeEngineError(missing) && missing.chunk).toBe('07'.repeat(32));
  });
});

describe('pack files', () => {
  /** This process's descriptors that point into `dir`. */
  const openIn = (dir: string) =>
    fs.readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith(dir) ? [target] : [];
      } catch {
        return []; // the descriptor readdir itself used, closed by now
      }
    });

  it('stay open for reading until closeFiles, then reopen on demand', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false);
    const data = randomBytes(4 * CS);
    const r = await repo.backup({ source: writeFile(dir, 'a.img', data), chunkSize: CS, level: 1 });
    const target = path.join(dir, 't.img');
    await repo.restore({ list: r.list, chunkSize: CS, deviceSize: data.length, target, skipIdentical: false });
    expect(openIn(path.join(dir, 'repo')).length).toBeGreaterThan(0);
    repo.closeFiles();
    expect(openIn(path.join(dir, 'repo'))).toEqual([]);
    const again = await repo.readRange({ list: r.list, chunkSize: CS, deviceSize: data.length, offset: 0, length: data.length });
    expect(again.equals(data)).toBe(true);
  });
});
