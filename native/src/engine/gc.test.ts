import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { isNativeEngineError, openSealedKey } from '../../engine';
import { format3Keys, newRepo, openFormat3, packFile, packsOf, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;
const id = (list: Buffer, c: number) => list.subarray(c * 32, c * 32 + 32);

// Format 3: blobs re-sealed under the compaction's session key (below, more).
describe.each([1, 2, 3])('garbage collection, format %i', (version) => {
  it('marks, plans, compacts in device order, replaces the index, and rebuilds it from pack trailers', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, true, { version });
    const a = writeFile(dir, 'a.img', randomBytes(16 * CS));
    const b = writeFile(dir, 'b.img', randomBytes(16 * CS));
    // Small packs (4 chunks each), several per backup.
    const ra = await repo.backup({ source: a, chunkSize: CS, level: 1, packSize: 4 * CS, threads: 1 });
    const rb = await repo.backup({ source: b, chunkSize: CS, level: 1, packSize: 4 * CS });
    const la = ra.list ;
    const lb = rb.list ;
    await repo.loadIndex();
    expect(ra.packs.length).toBe(4);
    // Keep all of b, and of a chunk 5 then chunk 0 (a point whose device has them in that order).
    const kept = Buffer.concat([id(la, 5), id(la, 0)]);
    const mark = repo.createMark();
    const m = await mark.add([lb, kept]);
    expect(m.missing.length).toBe(0);
    expect(m.marked).toBe(18);
    const plan = await mark.plan({ repackBelow: 0.5 });
    const packOf = (c: number) => repo.locate(id(la, c).toString('hex'))?.pack ?? '';
    expect(plan.drop.map((u) => u.id).sort()).toEqual([packOf(8), packOf(12)].sort());
    expect(plan.rewrite.map((u) => u.id).sort()).toEqual([packOf(0), packOf(4)].sort());
    const res = await repo.compact({ mark, rewrite: plan.rewrite.map((u) => u.id), order: [kept], packSize: 4 * CS });
    expect(res.copiedChunks).toBe(2);
    expect(res.newPacks.length).toBe(1);

    const gone = [...plan.drop, ...plan.rewrite].map((u) => u.id);
    const index = await repo.writeConsolidatedIndex({ exclude: gone });
    for (const f of fs.readdirSync(path.join(dir, 'repo', 'index'))) if (f !== index) fs.rmSync(path.join(dir, 'repo', 'index', f));
    for (const p of gone) fs.rmSync(packFile(dir, p));
    const load = await repo.loadIndex();
    expect(load.files).toEqual([index]);
    expect(load.badFiles).toEqual([]);
    expect(repo.missingChunks(Buffer.concat([lb, kept])).length).toBe(0);
    // Device order: chunk 5 first, then chunk 0, in the new pack.
    const l5 = repo.locate(id(la, 5).toString('hex'));
    const l0 = repo.locate(id(la, 0).toString('hex'));
    expect(l5?.pack).toBe(res.newPacks[0]?.id);
    expect(l0?.pack).toBe(res.newPacks[0]?.id);
    expect(l5?.offset ?? Infinity).toBeLessThan(l0?.offset ?? 0);
    expect(repo.missingChunks(Buffer.concat([id(la, 1), id(la, 9)])).length).toBe(64);
    expect((await repo.verify({ data: true })).problems).toEqual([]);
    const back = await repo.readRange({ list: la, chunkSize: CS, deviceSize: 16 * CS, offset: 5 * CS, length: CS });
    expect(back.equals(fs.readFileSync(a).subarray(5 * CS, 6 * CS))).toBe(true);

    // Lose every index file: the trailers rebuild it.
    for (const f of fs.readdirSync(path.join(dir, 'repo', 'index'))) fs.rmSync(path.join(dir, 'repo', 'index', f));
    await repo.loadIndex();
    expect(repo.missingChunks(lb).length).toBe(16 * 32);
    const rebuilt = await repo.rebuildIndex(packsOf(dir));
    expect(rebuilt.badPacks).toEqual([]);
    await repo.loadIndex();
    expect(repo.missingChunks(Buffer.concat([lb, kept])).length).toBe(0);
  });

  it('verifies every blob it copies: a damaged one stops the compaction and its pack stays', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, version >= 2, { version });
    const a = writeFile(dir, 'a.img', randomBytes(8 * CS));
    const ra = await repo.backup({ source: a, chunkSize: CS, level: 1, packSize: 4 * CS, threads: 1 });
    const la = ra.list ;
    await repo.loadIndex();
    const victim = repo.locate(id(la, 1).toString('hex'));
    if (!victim) throw new Error('chunk 1 is not indexed');
    // Flipped, not overwritten: a byte that already held the value written
    // (1 in 256 of random data) left the blob intact.
    const fd = fs.openSync(packFile(dir, victim.pack), 'r+');
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, victim.offset + 100);
    fs.writeSync(fd, Buffer.from([(b[0] ?? 0) ^ 0x55]), 0, 1, victim.offset + 100);
    fs.closeSync(fd);
    const mark = repo.createMark();
    await mark.add([Buffer.concat([id(la, 1), id(la, 6)])]);
    const plan = await mark.plan({ repackBelow: 0.5 });
    expect(plan.rewrite.map((u) => u.id)).toContain(victim.pack);
    const indexBefore = fs.readdirSync(path.join(dir, 'repo', 'index')).sort();
    const e = await repo.compact({ mark, rewrite: plan.rewrite.map((u) => u.id), packSize: 4 * CS }).catch((x: unknown) => x);
    expect(isNativeEngineError(e) && e.code).toBe('REPO_CORRUPT');
    expect(isNativeEngineError(e) && e.pack).toBe(victim.pack);
    expect(isNativeEngineError(e) && e.chunk).toBe(id(la, 1).toString('hex'));
    expect(fs.existsSync(packFile(dir, victim.pack))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'repo', 'index')).sort()).toEqual(indexBefore);
  });

  it('rewrites the emptiest packs first and no more live bytes per run than asked', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false, { version });
    const a = writeFile(dir, 'a.img', randomBytes(16 * CS));
    const ra = await repo.backup({ source: a, chunkSize: CS, level: 1, packSize: 4 * CS, threads: 1 });
    const la = ra.list ;
    await repo.loadIndex();
    const mark = repo.createMark();
    // One live chunk in each of the four packs.
    await mark.add([Buffer.concat([0, 4, 8, 12].map((c) => id(la, c)))]);
    const all = await mark.plan({ repackBelow: 0.5 });
    expect(all.rewrite.length).toBe(4);
    const capped = await mark.plan({ repackBelow: 0.5, maxRepackBytes: 2 * CS + 100 });
    expect(capped.rewrite.length).toBe(2);
    expect(capped.deferredPacks).toBe(2);
  });
});

describe('compaction, format 3', () => {
  it('copies live blobs of three sessions\' packs into one pack under a session key of its own; the owner restores them', async () => {
    const dir = scratchDir();
    const keys = format3Keys();
    // Three backup calls (say, three clients' devices): three sessions, one pack each.
    const client = openFormat3(dir, keys, 'client');
    const sources = [0, 1, 2].map((i) => writeFile(dir, `${i}.img`, randomBytes(8 * CS)));
    const runs = [];
    for (const src of sources) runs.push(await client.backup({ source: src, chunkSize: CS, level: 1 }));
    const oldPacks = runs.map((r) => {
      expect(r.packs.length).toBe(1);
      return r.packs[0] ?? '';
    });
    const sealOf = (pack: string) => fs.readFileSync(packFile(dir, pack)).subarray(16, 96);
    const oldSeals = oldPacks.map(sealOf);
    expect(new Set(oldSeals.map((s) => s.toString('hex'))).size).toBe(3);

    const owner = openFormat3(dir, keys, 'owner');
    await owner.loadIndex();
    // Keep the first two chunks of each device: every pack is mostly dead.
    const kept = runs.map((r) => r.list.subarray(0, 2 * 32));
    const mark = owner.createMark();
    await mark.add(kept);
    const plan = await mark.plan({ repackBelow: 0.5 });
    expect(plan.rewrite.map((u) => u.id).sort()).toEqual([...oldPacks].sort());
    const res = await owner.compact({ mark, rewrite: oldPacks, order: kept });
    expect(res.copiedChunks).toBe(6);
    expect(res.newPacks.length).toBe(1);
    const fresh = res.newPacks[0]?.id ?? '';
    const seal = sealOf(fresh);
    for (const s of oldSeals) expect(seal.equals(s)).toBe(false);
    const sk = keys.secretKeys[0] ?? Buffer.alloc(0);
    const sessionKey = openSealedKey(keys.publicKey, sk, seal);
    for (const s of oldSeals) expect(openSealedKey(keys.publicKey, sk, s).equals(sessionKey)).toBe(false);

    const index = await owner.writeConsolidatedIndex({ exclude: oldPacks });
    for (const f of fs.readdirSync(path.join(dir, 'repo', 'index'))) if (f !== index) fs.rmSync(path.join(dir, 'repo', 'index', f));
    for (const p of oldPacks) fs.rmSync(packFile(dir, p));
    const after = openFormat3(dir, keys, 'owner');
    await after.loadIndex();
    for (let i = 0; i < 3; i++) {
      const target = path.join(dir, `${i}.out`);
      const run = runs[i];
      if (!run) throw new Error('no run');
      await after.restore({ list: run.list, chunkSize: CS, deviceSize: 8 * CS, rangeStart: 0, rangeLength: 2 * CS, target, skipIdentical: false });
      expect(fs.readFileSync(target).equals(fs.readFileSync(sources[i] ?? '').subarray(0, 2 * CS))).toBe(true);
      expect(after.locate(id(run.list, 1).toString('hex'))?.pack).toBe(fresh);
    }
    expect((await after.verify({ data: true })).problems).toEqual([]);
    // The trailers stay under the metadata key: a client rebuilds the index of the new pack.
    const rebuilt = await openFormat3(dir, keys, 'client').rebuildIndex([fresh]);
    expect(rebuilt.badPacks).toEqual([]);
  });
});

describe('index format 2', () => {
  it('caches decoded index files, maps only new ones on reload, and rebuilds a cache that does not match', async () => {
    const dir = scratchDir();
    const cacheDir = path.join(dir, 'cache');
    fs.mkdirSync(cacheDir);
    const idKey = randomBytes(32);
    const encKey = randomBytes(32);
    const repo = newRepo(dir, true, { version: 2, cacheDir, idKey, encKey });
    const a = writeFile(dir, 'a.img', randomBytes(8 * CS));
    const ra = await repo.backup({ source: a, chunkSize: CS, level: 1 });
    expect((await repo.loadIndex()).loaded).toBe(1);
    const b = writeFile(dir, 'b.img', randomBytes(8 * CS));
    const rb = await repo.backup({ source: b, chunkSize: CS, level: 1 });
    expect((await repo.loadIndex()).loaded).toBe(1);
    expect((await repo.loadIndex()).loaded).toBe(0);
    expect(fs.readdirSync(cacheDir).sort()).toEqual([ra.indexFile, rb.indexFile].sort());
    expect(repo.stats().mappedIndexFiles).toBe(2);

    // Another process with the same keys maps the cache files as they are.
    const mtimes = () => fs.readdirSync(cacheDir).map((f) => fs.statSync(path.join(cacheDir, f)).mtimeMs);
    const before = mtimes();
    const other = newRepo(dir, true, { version: 2, cacheDir, idKey, encKey });
    await other.loadIndex();
    expect(mtimes()).toEqual(before);
    expect(other.missingChunks(Buffer.concat([ra.list , rb.list ])).length).toBe(0);

    // Other keys: the index files do not open, the cache is not used or touched.
    const stranger = newRepo(dir, true, { version: 2, cacheDir, idKey: randomBytes(32), encKey: randomBytes(32) });
    expect((await stranger.loadIndex()).badFiles.sort()).toEqual([ra.indexFile, rb.indexFile].sort());
    expect(stranger.missingChunks(ra.list ).length).toBe(8 * 32);
    expect(mtimes()).toEqual(before);
    // A damaged cache file is rebuilt.
    const third = newRepo(dir, true, { version: 2, cacheDir, idKey, encKey });
    fs.writeFileSync(path.join(cacheDir, ra.indexFile), Buffer.alloc(100));
    await third.loadIndex();
    expect(third.missingChunks(ra.list ).length).toBe(0);
    expect(fs.statSync(path.join(cacheDir, ra.indexFile)).size).toBeGreaterThan(100);

    // Index files that are gone leave the cache.
    fs.rmSync(path.join(dir, 'repo', 'index', rb.indexFile));
    await third.loadIndex();
    expect(fs.readdirSync(cacheDir)).toEqual([ra.indexFile]);
  });

  it('a removal record voids the entries of the packs it names', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false, { version: 2 });
    const a = writeFile(dir, 'a.img', randomBytes(8 * CS));
    const ra = await repo.backup({ source: a, chunkSize: CS, level: 1, packSize: 4 * CS });
    await repo.loadIndex();
    const la = ra.list ;
    const victim = repo.locate(id(la, 0).toString('hex'))?.pack ?? '';
    await repo.writeRemovalRecord([victim]);
    await repo.loadIndex();
    expect(repo.locate(id(la, 0).toString('hex'))).toBeNull();
    expect(repo.missingChunks(la).length).toBe(4 * 32);
    expect(repo.stats().packs).toBe(ra.packs.length - 1);
    expect(repo.unindexedPacks(ra.packs)).toEqual([victim]);
  });

  it('refuses an index file whose frames were altered, dropped, reordered or cut', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false, { version: 2 });
    // 20000 chunks of 4 KiB: the entries span two frames.
    const src = writeFile(dir, 'a.img', randomBytes(20000 * 4096));
    const r = await repo.backup({ source: src, chunkSize: 4096, level: 1 });
    const file = path.join(dir, 'repo', 'index', r.indexFile);
    const good = fs.readFileSync(file);
    const frames: Buffer[] = [];
    for (let at = 8; at < good.length; ) {
      const len = good.readUInt32LE(at);
      frames.push(good.subarray(at, at + 4 + len));
      at += 4 + len;
    }
    expect(frames.length).toBe(4); // packs, entries, entries, end
    const head = good.subarray(0, 8);
    const cases: Record<string, Buffer> = {
      'a flipped bit': Buffer.from(good).fill((good[good.length >> 1] ?? 0) ^ 1, good.length >> 1, (good.length >> 1) + 1),
      'a frame dropped': Buffer.concat([head, frames[0]!, frames[1]!, frames[3]!]),
      'frames swapped': Buffer.concat([head, frames[0]!, frames[2]!, frames[1]!, frames[3]!]),
      'cut before the end frame': Buffer.concat([head, frames[0]!, frames[1]!, frames[2]!]),
      'bytes after the end': Buffer.concat([good, Buffer.from([0])]),
      'a huge frame length': Buffer.concat([head, Buffer.from([0xff, 0xff, 0xff, 0x7f])]),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      fs.writeFileSync(file, bytes);
      const load = await repo.loadIndex();
      expect({ name, bad: load.badFiles }).toEqual({ name, bad: [r.indexFile] });
    }
    fs.writeFileSync(file, good);
    expect((await repo.loadIndex()).badFiles).toEqual([]);
    expect(repo.missingChunks(r.list ).length).toBe(0);
  });
});
