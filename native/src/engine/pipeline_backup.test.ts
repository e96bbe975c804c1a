import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { aeadOpen, createCancelToken, isNativeEngineError, openSealedKey } from '../../engine';
import { format3Keys, newRepo, openFormat3, packFile, scratchDir, writeFile } from './test-support';

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

describe('backup pipeline, format 3', () => {
  it('seals each call\'s own session key in its packs\' headers, trailers under the metadata key; the owner restores what a client wrote', async () => {
    const dir = scratchDir();
    const keys = format3Keys();
    const client = openFormat3(dir, keys, 'client');
    const a = randomBytes(8 * CS);
    const b = randomBytes(8 * CS);
    const ra = await client.backup({ source: writeFile(dir, 'a.img', a), chunkSize: CS, level: 1, packSize: 4 * CS });
    const rb = await client.backup({ source: writeFile(dir, 'b.img', b), chunkSize: CS, level: 1, packSize: 4 * CS });
    const sealOf = (pack: string) => fs.readFileSync(packFile(dir, pack)).subarray(16, 96);
    const sa = ra.packs.map(sealOf);
    const sb = rb.packs.map(sealOf);
    expect(sa.length).toBeGreaterThan(1);
    for (const s of sa) expect(s.equals(sa[0] ?? Buffer.alloc(0))).toBe(true);
    for (const s of sb) expect(s.equals(sb[0] ?? Buffer.alloc(0))).toBe(true);
    expect(sa[0]?.equals(sb[0] ?? Buffer.alloc(0))).toBe(false);
    const sk = keys.secretKeys[0] ?? Buffer.alloc(0);
    const ka = openSealedKey(keys.publicKey, sk, sa[0] ?? Buffer.alloc(0));
    const kb = openSealedKey(keys.publicKey, sk, sb[0] ?? Buffer.alloc(0));
    expect(ka.equals(kb)).toBe(false);

    // The documented layout, read without the engine: a blob is nonce ||
    // XChaCha20-Poly1305(session key, chunk, ad = chunk id) (random data:
    // stored raw); the trailer an envelope under the metadata key.
    await client.loadIndex();
    const first = ra.list.subarray(0, 32);
    const at = client.locate(first.toString('hex'));
    if (!at) throw new Error('chunk 0 is not indexed');
    const pack = fs.readFileSync(packFile(dir, at.pack));
    const blob = pack.subarray(at.offset, at.offset + at.storedLength);
    expect(aeadOpen(ka, blob, first)?.equals(a.subarray(0, CS))).toBe(true);
    expect(aeadOpen(kb, blob, first)).toBeNull();
    const tlen = pack.readUInt32LE(pack.length - 8);
    const trailer = pack.subarray(pack.length - 8 - tlen, pack.length - 8);
    expect(aeadOpen(keys.metaKey, trailer.subarray(8), trailer.subarray(0, 8))?.readUInt32LE(0)).toBeGreaterThan(0);
    expect(aeadOpen(ka, trailer.subarray(8), trailer.subarray(0, 8))).toBeNull();

    const owner = openFormat3(dir, keys, 'owner');
    await owner.loadIndex();
    for (const [r, data, name] of [[ra, a, 'a.out'], [rb, b, 'b.out']] as const) {
      const target = path.join(dir, name);
      await owner.restore({ list: r.list, chunkSize: CS, deviceSize: data.length, target, skipIdentical: false });
      expect(fs.readFileSync(target).equals(data)).toBe(true);
    }
    // A later call dedups against the chunks of earlier ones, whatever key sealed them.
    const again = await client.backup({ source: path.join(dir, 'a.img'), chunkSize: CS, level: 1 });
    expect(again.chunksNew).toBe(0);
  });

  it('refuses a public key of low order before reading or writing anything', async () => {
    const dir = scratchDir();
    const keys = { ...format3Keys(), publicKey: Buffer.alloc(32) };
    const repo = openFormat3(dir, keys, 'client');
    const e = await repo.backup({ source: writeFile(dir, 'a.img', randomBytes(2 * CS)), chunkSize: CS, level: 1 }).catch((x: unknown) => x);
    expect(isNativeEngineError(e) && [e.code, e.message]).toEqual(['REPO_CORRUPT', expect.stringContaining('not a usable X25519 key')]);
    expect(fs.existsSync(path.join(dir, 'repo', 'packs'))).toBe(false);
  });
});
