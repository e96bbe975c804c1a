// An incremental must not inherit chunks the repository lost (review
// finding 5): after a pack is lost and the index rebuilt without it, a
// changed-block incremental reads the unchanged chunks it would have copied
// from the parent again from the source, so the new point is whole. And
// `repair index` makes the index stop naming missing packs and damaged
// blobs, so the next backups store them again.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { dirs } from '../../../../electron/core/engine/format';
import type { Repository } from '../../../../electron/core/engine/repository';
import { rng, scratch, sha256 } from './fixtures';

const CS = 64 * 1024;
const SIZE = 64 * CS;
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function randomImage(file: string, seed: number): void {
  const r = rng(seed);
  const b = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) b.writeUInt32LE((r() * 0x100000000) >>> 0, i);
  fs.writeFileSync(file, b);
}

function allPacks(repo: string): string[] {
  return fs.readdirSync(dirs.packs(repo)).flatMap((d) => fs.readdirSync(path.join(dirs.packs(repo), d)));
}

const cbt = (number: number) => ({ generation: 'g1', number, blockSize: CS });

describe.each([{ passphrase: undefined }, { passphrase: 'pw' }])('inherited chunks (passphrase: $passphrase)', ({ passphrase }) => {
  it('a changed-block incremental reads again the chunks its parent lost, and restores whole', async () => {
    const dir = scratch('inherit');
    tmp.push(dir);
    const image = path.join(dir, 'disk.img');
    randomImage(image, 5);
    const repo = (await engine.init({ path: path.join(dir, 'repo'), chunkSize: CS, ...(passphrase !== undefined && { passphrase }) })) as Repository;
    const full = await repo.backup({ sources: [{ source: image, readFrom: image, cbt: cbt(1) }], compressionLevel: 1, jobId: 'j' });

    // The disk holding the repository loses the pack; the index is rebuilt from what is left.
    for (const p of allPacks(repo.path)) fs.rmSync(dirs.pack(repo.path, p));
    for (const f of fs.readdirSync(dirs.index(repo.path))) fs.rmSync(path.join(dirs.index(repo.path), f));
    await repo.native.rebuildIndex(allPacks(repo.path));
    await repo.native.loadIndex();

    const fd = fs.openSync(image, 'r+');
    fs.writeSync(fd, Buffer.alloc(100, 7), 0, 100, 10 * CS + 5);
    fs.closeSync(fd);
    const incr = await repo.backup({
      sources: [{ source: image, readFrom: image, cbt: cbt(2), changes: { generation: 'g1', sinceNumber: 1, ranges: [[10 * CS + 5, 100]] } }],
      compressionLevel: 1,
      jobId: 'j',
    });
    expect(incr.kind).toBe('incremental');
    expect(incr.parentId).toBe(full.id);
    // Every chunk was read: the changed one, and the 63 the parent lost.
    expect(incr.devices[0]?.readBytes).toBe(SIZE);

    const out = path.join(dir, 'restored.img');
    await repo.restore({ pointId: incr.id, source: image, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha256(image));
    const report = await repo.verify({ data: true, pointId: incr.id });
    expect(report.problems).toEqual([]);
    await repo.close();
  });
});

describe('repair index', () => {
  it('drops missing packs and damaged blobs from the index; the next backups store them again', async () => {
    const dir = scratch('repair');
    tmp.push(dir);
    const a = path.join(dir, 'a.img');
    const b = path.join(dir, 'b.img');
    randomImage(a, 6);
    randomImage(b, 7);
    const repo = (await engine.init({ path: path.join(dir, 'repo'), chunkSize: CS, passphrase: 'pw' })) as Repository;
    const pa = await repo.backup({ sources: [{ source: a, readFrom: a, cbt: cbt(1) }], compressionLevel: 1, jobId: 'a' });
    const packsOfA = allPacks(repo.path);
    const pb = await repo.backup({ sources: [{ source: b, readFrom: b, cbt: cbt(1) }], compressionLevel: 1, jobId: 'b' });
    const packOfB = allPacks(repo.path).find((p) => !packsOfA.includes(p)) ?? '';

    // a's pack vanishes; one blob of b's pack rots.
    for (const p of packsOfA) fs.rmSync(dirs.pack(repo.path, p));
    const fd = fs.openSync(dirs.pack(repo.path, packOfB), 'r+');
    fs.writeSync(fd, Buffer.from([0xee]), 0, 1, 4000);
    fs.closeSync(fd);

    const dry = await repo.repairIndex({ data: true, dryRun: true });
    expect(dry.droppedPacks).toEqual([...packsOfA].sort());
    expect(dry.droppedChunks.length).toBe(1);
    expect(dry.droppedChunks[0]?.pack).toBe(packOfB);
    const r = await repo.repairIndex({ data: true, dryRun: false });
    expect(r).toEqual({ ...dry, dryRun: false });
    expect(await repo.repairIndex({ data: true, dryRun: true })).toMatchObject({ droppedPacks: [], droppedChunks: [] });

    const before = await repo.verify({ data: true });
    expect(before.damagedPoints).toEqual([pa.id, pb.id].sort());
    expect(before.problems.every((p) => p.kind === 'missing-chunk')).toBe(true);

    // A full backup of b stores the rotten chunk anew; an incremental of a reads everything again.
    const pb2 = await repo.backup({ sources: [{ source: b, readFrom: b }], compressionLevel: 1, jobId: 'b' });
    expect(pb2.addedBytes).toBeGreaterThan(0);
    const pa2 = await repo.backup({
      sources: [{ source: a, readFrom: a, cbt: cbt(2), changes: { generation: 'g1', sinceNumber: 1, ranges: [] } }],
      compressionLevel: 1,
      jobId: 'a',
    });
    expect(pa2.devices[0]?.readBytes).toBe(SIZE);
    for (const [p, img] of [
      [pa2, a],
      [pb2, b],
    ] as const) {
      const out = path.join(dir, `out-${p.id}.img`);
      await repo.restore({ pointId: p.id, source: img, target: out, skipIdentical: false });
      expect(sha256(out)).toBe(sha256(img));
    }
    // The old points are whole again too: their chunks are back.
    expect((await repo.verify({ data: true })).ok).toBe(true);
    await repo.close();
  });
});
