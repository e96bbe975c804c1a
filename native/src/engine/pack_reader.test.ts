// The pack reader with a fetcher (a remote repository's read cache,
// docs/remote-repositories.md): packs missing from the directory are asked
// for through `fetchPack`, the worker waits for the promise, packs the
// cache deletes stay readable through descriptors already open, a pack the
// cache drops before it is opened is fetched again (never reported missing
// while the store has it), and a rejection fails the operation with its code.
// And pack versions (docs/append-only-design.md §2.3): version 1 in formats
// 1-2, version 2 with a sealed session key in format 3, each refused in the
// other's repository; blobs of format 3 need the owner's secret key, found
// by the header's key pair id.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { boxKeypair, isNativeEngineError, type NativeRepo, openNativeRepo, openSealedKey } from '../../engine';
import { type Format3Keys, format3Keys, newRepo, openFormat3, packFile, packsOf, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;

async function setup() {
  const dir = scratchDir();
  const repoDir = path.join(dir, 'repo');
  fs.mkdirSync(repoDir, { recursive: true });
  const idKey = randomBytes(32);
  const encKey = randomBytes(32);
  const writer = openNativeRepo({ path: repoDir, idKey, encKey, version: 2 });
  const data = randomBytes(40 * CS);
  const src = writeFile(dir, 'a.img', data);
  // Small packs: the 40 chunks land in several.
  const r = await writer.backup({ source: src, chunkSize: CS, level: 1, packSize: 256 * 1024 });
  // The "server": every pack moved out of the directory.
  const store = path.join(dir, 'store');
  fs.mkdirSync(store);
  const packs = packsOf(dir);
  for (const id of packs) fs.renameSync(packFile(dir, id), path.join(store, id));
  return { dir, repoDir, idKey, encKey, data, list: r.list, packs, store };
}

describe('pack reader with a fetcher', () => {
  it('fetches missing packs while a restore and a verify run, through a cache of one pack', async () => {
    const s = await setup();
    expect(s.packs.length).toBeGreaterThan(3);
    const asked: string[] = [];
    let held: string | undefined;
    const repo = openNativeRepo({
      path: s.repoDir,
      idKey: s.idKey,
      encKey: s.encKey,
      version: 2,
      fetchPack: async (id) => {
        asked.push(id);
        await new Promise((r) => setTimeout(r, 2));
        // A cache of one: the pack fetched before is deleted, open or not.
        if (held !== undefined && held !== id) fs.rmSync(packFile(s.dir, held), { force: true });
        // Atomically, as the working copy saves (a worker may be reading the old one).
        fs.mkdirSync(path.dirname(packFile(s.dir, id)), { recursive: true });
        const tmp = `${packFile(s.dir, id)}.${asked.length}`;
        fs.copyFileSync(path.join(s.store, id), tmp);
        fs.renameSync(tmp, packFile(s.dir, id));
        held = id;
        return true;
      },
    });
    await repo.loadIndex();
    const target = path.join(s.dir, 'out.img');
    await repo.restore({ list: s.list, chunkSize: CS, deviceSize: s.data.length, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(s.data)).toBe(true);
    expect(new Set(asked)).toEqual(new Set(s.packs));
    repo.closeFiles();
    // The cache of one still holds the restore's last pack: the verify
    // would ask for it only when a worker happened to fetch another pack
    // before reading it (seen: 9 of 10 packs asked, in the ASan run). An
    // empty cache makes every pack a fetch, whatever the workers' order.
    if (held !== undefined) fs.rmSync(packFile(s.dir, held), { force: true });
    held = undefined;
    asked.length = 0;
    const v = await repo.verify({ data: true });
    expect(v.problems).toEqual([]);
    expect(new Set(asked)).toEqual(new Set(s.packs));
  });

  it('fails the operation with the fetch\'s own error, and names a pack the fetch could not bring', async () => {
    const s = await setup();
    const failing = openNativeRepo({
      path: s.repoDir,
      idKey: s.idKey,
      encKey: s.encKey,
      version: 2,
      fetchPack: () => Promise.reject(Object.assign(new Error('the server could not be reached'), { code: 'REMOTE_UNAVAILABLE' })),
    });
    await failing.loadIndex();
    const target = path.join(s.dir, 'out.img');
    const e = await failing.restore({ list: s.list, chunkSize: CS, deviceSize: s.data.length, target, skipIdentical: false }).catch((x: unknown) => x);
    expect(isNativeEngineError(e) && e.code).toBe('REMOTE_UNAVAILABLE');
    expect(isNativeEngineError(e) && e.message).toContain('could not be reached');

    const empty = openNativeRepo({ path: s.repoDir, idKey: s.idKey, encKey: s.encKey, version: 2, fetchPack: async () => false });
    await empty.loadIndex();
    const missing = await empty.restore({ list: s.list, chunkSize: CS, deviceSize: s.data.length, target, skipIdentical: false }).catch((x: unknown) => x);
    expect(isNativeEngineError(missing) && missing.code).toBe('REPO_CORRUPT');
    expect(isNativeEngineError(missing) && missing.message).toMatch(/pack [0-9a-f]{32} is missing/);
    const v = await empty.verify({ data: false });
    expect(v.problems.map((p) => p.kind)).toEqual(s.packs.map(() => 'missing-pack'));
  });

  // A pack the cache drops before the worker opens it is not a missing pack.
  // The engine once gave up after four tries and reported it missing
  // (REPO_CORRUPT): a restore of a healthy repository failed as damaged.
  it('fetches a pack again as often as the cache drops it before it is opened, and never calls it missing', async () => {
    const s = await setup();
    const place = (id: string) => {
      fs.mkdirSync(path.dirname(packFile(s.dir, id)), { recursive: true });
      // Atomically: two workers may want the same pack.
      fs.copyFileSync(path.join(s.store, id), `${packFile(s.dir, id)}.tmp`);
      fs.renameSync(`${packFile(s.dir, id)}.tmp`, packFile(s.dir, id));
    };
    // Dropped five times right after it was brought (as another operation's
    // fetch would make room), kept the sixth.
    const tries = new Map<string, number>();
    const dropping = openNativeRepo({
      path: s.repoDir, idKey: s.idKey, encKey: s.encKey, version: 2,
      fetchPack: async (id) => {
        const n = (tries.get(id) ?? 0) + 1;
        tries.set(id, n);
        if (n > 5) place(id);
        return true;
      },
    });
    await dropping.loadIndex();
    const target = path.join(s.dir, 'out.img');
    await dropping.restore({ list: s.list, chunkSize: CS, deviceSize: s.data.length, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(s.data)).toBe(true);
    // Two workers may want the same pack: some are asked for more often.
    expect([...tries.values()].every((n) => n >= 6)).toBe(true);
    dropping.closeFiles();
    for (const id of s.packs) fs.rmSync(packFile(s.dir, id), { force: true });

    // Always dropped: the operation fails, saying why, and not as damage.
    const never = openNativeRepo({ path: s.repoDir, idKey: s.idKey, encKey: s.encKey, version: 2, fetchPack: async () => true });
    await never.loadIndex();
    const e = await never.restore({ list: s.list, chunkSize: CS, deviceSize: s.data.length, target, skipIdentical: false }).catch((x: unknown) => x);
    expect(isNativeEngineError(e) && e.code).toBe('IO_ERROR');
    expect(isNativeEngineError(e) && e.message).toMatch(/pack [0-9a-f]{32} was fetched 6 times and each time the read cache dropped it/);
  });

  // The cache of the first test, with the race forced: a pack brought while
  // another fetch is in flight is dropped again before it can be opened.
  // Only fetches one at a time keep theirs, which the engine falls back to.
  it('falls back to fetching alone when fetches running together keep dropping each other\'s packs', async () => {
    const s = await setup();
    let inFlight = 0;
    let alone = 0;
    const repo = openNativeRepo({
      path: s.repoDir, idKey: s.idKey, encKey: s.encKey, version: 2,
      fetchPack: async (id) => {
        inFlight++;
        await new Promise((r) => setTimeout(r, 5));
        const together = inFlight > 1;
        inFlight--;
        if (together) return true;
        alone++;
        fs.mkdirSync(path.dirname(packFile(s.dir, id)), { recursive: true });
        fs.copyFileSync(path.join(s.store, id), `${packFile(s.dir, id)}.tmp`);
        fs.renameSync(`${packFile(s.dir, id)}.tmp`, packFile(s.dir, id));
        return true;
      },
    });
    await repo.loadIndex();
    const target = path.join(s.dir, 'out.img');
    await repo.restore({ list: s.list, chunkSize: CS, deviceSize: s.data.length, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(s.data)).toBe(true);
    expect(alone).toBeGreaterThanOrEqual(s.packs.length);
  });
});

/** The error a promise rejects with (or undefined when it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (x: unknown) => x,
  );
}

function header(dir: string, pack: string, bytes: number): Buffer {
  const fd = fs.openSync(packFile(dir, pack), 'r');
  const b = Buffer.alloc(bytes);
  fs.readSync(fd, b, 0, bytes, 0);
  fs.closeSync(fd);
  return b;
}

function overwrite(dir: string, pack: string, at: number, bytes: Buffer): void {
  const fd = fs.openSync(packFile(dir, pack), 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, at);
  fs.closeSync(fd);
}

async function restoreTo(repo: NativeRepo, list: Buffer, size: number, target: string): Promise<Buffer> {
  await repo.restore({ list, chunkSize: CS, deviceSize: size, target, skipIdentical: false });
  return fs.readFileSync(target);
}

describe('pack versions', () => {
  it('writes version-1 packs (8-byte header) in format 2 and version-2 packs (96 bytes, one seal per call) in format 3', async () => {
    const dir2 = scratchDir();
    const v1 = newRepo(dir2, true, { version: 2 });
    const data = randomBytes(8 * CS);
    const r1 = await v1.backup({ source: writeFile(dir2, 'a.img', data), chunkSize: CS, level: 1, packSize: 4 * CS, threads: 1 });
    for (const p of r1.packs) expect(header(dir2, p, 8).equals(Buffer.from('SKPACK\x01\x00', 'latin1'))).toBe(true);
    await v1.loadIndex();
    expect(v1.locate(r1.list.subarray(0, 32).toString('hex'))?.offset).toBe(8);

    const dir3 = scratchDir();
    const keys = format3Keys();
    const v2 = openFormat3(dir3, keys, 'owner');
    const r2 = await v2.backup({ source: writeFile(dir3, 'a.img', data), chunkSize: CS, level: 1, packSize: 4 * CS, threads: 1 });
    expect(r2.packs.length).toBeGreaterThan(1);
    const heads = r2.packs.map((p) => header(dir3, p, 96));
    for (const h of heads) {
      expect(h.subarray(0, 8).equals(Buffer.from('SKPACK\x02\x01', 'latin1'))).toBe(true);
      // One session per call: every pack of it carries the same key pair id and seal.
      expect(h.subarray(8).equals(heads[0]?.subarray(8) ?? Buffer.alloc(0))).toBe(true);
    }
    await v2.loadIndex();
    expect(v2.locate(r2.list.subarray(0, 32).toString('hex'))?.offset).toBe(96);
    expect((await restoreTo(v2, r2.list, data.length, path.join(dir3, 'out.img'))).equals(data)).toBe(true);
    expect((await v2.verify({ data: true })).problems).toEqual([]);
  });

  it('refuses a version-2 pack in format 2 and a version-1 pack in format 3 as REPO_CORRUPT naming the pack', async () => {
    const dir2 = scratchDir();
    const v1 = newRepo(dir2, true, { version: 2 });
    const r1 = await v1.backup({ source: writeFile(dir2, 'a.img', randomBytes(4 * CS)), chunkSize: CS, level: 1 });
    const p1 = r1.packs[0] ?? '';
    overwrite(dir2, p1, 6, Buffer.from([2, 1]));
    await v1.loadIndex();
    const s1 = await v1.verify({ data: false });
    expect(s1.problems).toEqual([expect.objectContaining({ kind: 'bad-index', pack: p1, message: expect.stringContaining('is a version 2 pack in a repository whose packs are version 1') })]);
    expect((await v1.rebuildIndex([p1])).badPacks).toEqual([p1]);

    const dir3 = scratchDir();
    const keys = format3Keys();
    const v2 = openFormat3(dir3, keys, 'owner');
    const r2 = await v2.backup({ source: writeFile(dir3, 'a.img', randomBytes(4 * CS)), chunkSize: CS, level: 1 });
    const p2 = r2.packs[0] ?? '';
    overwrite(dir3, p2, 6, Buffer.from([1, 0]));
    await v2.loadIndex();
    const s2 = await v2.verify({ data: false });
    expect(s2.problems).toEqual([expect.objectContaining({ kind: 'bad-index', pack: p2, message: expect.stringContaining('is a version 1 pack in a repository whose packs are version 2') })]);
    const e = await failure(v2.restore({ list: r2.list, chunkSize: CS, deviceSize: 4 * CS, target: path.join(dir3, 'out.img'), skipIdentical: false }));
    expect(isNativeEngineError(e) && [e.code, e.pack]).toEqual(['REPO_CORRUPT', p2]);
  });

  it('without secret keys: backs up, rebuilds and checks structure, but reading blobs is OWNER_KEY_REQUIRED before anything is written', async () => {
    const dir = scratchDir();
    const keys = format3Keys();
    const client = openFormat3(dir, keys, 'client');
    const data = randomBytes(8 * CS);
    const r = await client.backup({ source: writeFile(dir, 'a.img', data), chunkSize: CS, level: 1, packSize: 4 * CS });
    await client.loadIndex();
    expect((await client.verify({ data: false })).problems).toEqual([]);
    expect((await client.rebuildIndex(r.packs)).badPacks).toEqual([]);

    const owned = (e: unknown) => isNativeEngineError(e) && e.code === 'OWNER_KEY_REQUIRED' && /can be read only with the owner's key/.test(e.message);
    const target = path.join(dir, 'out.img');
    expect(owned(await failure(client.restore({ list: r.list, chunkSize: CS, deviceSize: data.length, target, skipIdentical: false })))).toBe(true);
    expect(fs.existsSync(target)).toBe(false);
    expect(owned(await failure(client.readRange({ list: r.list, chunkSize: CS, deviceSize: data.length, offset: 0, length: CS })))).toBe(true);
    expect(owned(await failure(client.verify({ data: true })))).toBe(true);
    await client.loadIndex();
    const mark = client.createMark();
    await mark.add([r.list.subarray(0, 32)]);
    const packsBefore = packsOf(dir).sort();
    const indexBefore = fs.readdirSync(path.join(dir, 'repo', 'index')).sort();
    expect(owned(await failure(client.compact({ mark, rewrite: r.packs, packSize: 4 * CS })))).toBe(true);
    expect(packsOf(dir).sort()).toEqual(packsBefore);
    expect(fs.readdirSync(path.join(dir, 'repo', 'index')).sort()).toEqual(indexBefore);
    expect(fs.readdirSync(path.join(dir, 'repo', 'tmp'))).toEqual([]);

    // What the client wrote, the owner reads.
    const owner = openFormat3(dir, keys, 'owner');
    await owner.loadIndex();
    expect((await restoreTo(owner, r.list, data.length, target)).equals(data)).toBe(true);
  });

  it('a header copied from another pack, a damaged seal or key pair id: REPO_CORRUPT naming the pack', async () => {
    const dir = scratchDir();
    const keys = format3Keys();
    const owner = openFormat3(dir, keys, 'owner');
    const a = randomBytes(4 * CS);
    const b = randomBytes(4 * CS);
    const ra = await owner.backup({ source: writeFile(dir, 'a.img', a), chunkSize: CS, level: 1 });
    const rb = await owner.backup({ source: writeFile(dir, 'b.img', b), chunkSize: CS, level: 1 });
    const pa = ra.packs[0] ?? '';
    const pb = rb.packs[0] ?? '';
    const original = header(dir, pb, 96);
    const attempt = async () => {
      // A fresh reader: the header is read once per open pack.
      const fresh = openFormat3(dir, keys, 'owner');
      await fresh.loadIndex();
      return failure(restoreTo(fresh, rb.list, b.length, path.join(dir, 'out.img')));
    };
    expect(await attempt()).toBeUndefined();

    // Another session's header: its seal opens, to the wrong key.
    overwrite(dir, pb, 0, header(dir, pa, 96));
    const copied = await attempt();
    expect(isNativeEngineError(copied) && [copied.code, copied.pack]).toEqual(['REPO_CORRUPT', pb]);
    expect(isNativeEngineError(copied) && copied.message).toContain('fails authentication');

    const sealed = Buffer.from(original);
    sealed[50] = (sealed[50] ?? 0) ^ 1;
    overwrite(dir, pb, 0, sealed);
    const unopened = await attempt();
    expect(isNativeEngineError(unopened) && [unopened.code, unopened.pack]).toEqual(['REPO_CORRUPT', pb]);
    expect(isNativeEngineError(unopened) && unopened.message).toContain('does not open with the owner\'s key');

    const pairId = Buffer.from(original);
    pairId[9] = (pairId[9] ?? 0) ^ 1;
    overwrite(dir, pb, 0, pairId);
    const unknown = await attempt();
    expect(isNativeEngineError(unknown) && [unknown.code, unknown.pack]).toEqual(['REPO_CORRUPT', pb]);
    expect(isNativeEngineError(unknown) && unknown.message).toContain('none of the owner\'s keys belongs to');

    const kind = Buffer.from(original);
    kind[7] = 9;
    overwrite(dir, pb, 0, kind);
    const kindErr = await attempt();
    expect(isNativeEngineError(kindErr) && [kindErr.code, kindErr.pack]).toEqual(['REPO_CORRUPT', pb]);
    expect(isNativeEngineError(kindErr) && kindErr.message).toContain('unknown key kind 9');

    overwrite(dir, pb, 0, original);
    expect(await attempt()).toBeUndefined();
  });

  it('opens packs sealed to a retired key pair with its secret key, found by the key pair id', async () => {
    const dir = scratchDir();
    const before: Format3Keys = format3Keys();
    const a = randomBytes(4 * CS);
    const ra = await openFormat3(dir, before, 'owner').backup({ source: writeFile(dir, 'a.img', a), chunkSize: CS, level: 1 });
    // A new key pair; the old secret key kept as retired, after the current one.
    const next = boxKeypair();
    const after: Format3Keys = { ...before, publicKey: next.publicKey, secretKeys: [next.secretKey, ...before.secretKeys] };
    const owner = openFormat3(dir, after, 'owner');
    const b = randomBytes(4 * CS);
    const rb = await owner.backup({ source: writeFile(dir, 'b.img', b), chunkSize: CS, level: 1 });
    const ha = header(dir, ra.packs[0] ?? '', 96);
    const hb = header(dir, rb.packs[0] ?? '', 96);
    expect(ha.subarray(8, 16).equals(hb.subarray(8, 16))).toBe(false);
    // Each seal is the other pair's to open.
    expect(openSealedKey(before.publicKey, before.secretKeys[0] ?? Buffer.alloc(0), ha.subarray(16)).length).toBe(32);
    expect(openSealedKey(next.publicKey, next.secretKey, hb.subarray(16)).length).toBe(32);
    await owner.loadIndex();
    expect((await restoreTo(owner, ra.list, a.length, path.join(dir, 'a.out'))).equals(a)).toBe(true);
    expect((await restoreTo(owner, rb.list, b.length, path.join(dir, 'b.out'))).equals(b)).toBe(true);
    expect((await owner.verify({ data: true })).problems).toEqual([]);

    // Without the retired key, the old packs are not the current key's to try.
    const forgot = openFormat3(dir, { ...after, secretKeys: [next.secretKey] }, 'owner');
    await forgot.loadIndex();
    const e = await failure(restoreTo(forgot, ra.list, a.length, path.join(dir, 'a2.out')));
    expect(isNativeEngineError(e) && [e.code, e.pack]).toEqual(['REPO_CORRUPT', ra.packs[0]]);
    expect((await restoreTo(forgot, rb.list, b.length, path.join(dir, 'b2.out'))).equals(b)).toBe(true);
  });

  it('refuses contradictory format-3 options with a TypeError', () => {
    const dir = scratchDir();
    const k = format3Keys();
    const repoPath = path.join(dir, 'repo');
    const open = (o: Record<string, unknown>) => () => openNativeRepo({ path: repoPath, idKey: k.idKey, ...o });
    const f3 = { metaKey: k.metaKey, publicKey: k.publicKey, version: 3 };
    expect(open(f3)).not.toThrow();
    expect(open({ ...f3, secretKeys: k.secretKeys })).not.toThrow();
    expect(open({ ...f3, secretKeys: [] })).not.toThrow();
    expect(open({ ...f3, encKey: randomBytes(32) })).toThrow(TypeError);
    expect(open({ publicKey: k.publicKey, version: 3 })).toThrow(/needs metaKey/);
    expect(open({ ...f3, version: 2 })).toThrow(/publicKey is for format 3/);
    expect(open({ metaKey: k.metaKey, version: 2 })).toThrow(/go with publicKey/);
    expect(open({ secretKeys: k.secretKeys, encKey: randomBytes(32), version: 2 })).toThrow(/go with publicKey/);
    expect(open({ version: 3, encKey: randomBytes(32) })).toThrow(/format 3 needs metaKey and publicKey/);
    expect(open({ ...f3, metaKey: randomBytes(31) })).toThrow(/metaKey must be a Buffer of 32 bytes/);
    expect(open({ ...f3, publicKey: randomBytes(33) })).toThrow(/publicKey must be a Buffer of 32 bytes/);
    expect(open({ ...f3, secretKeys: [randomBytes(16)] })).toThrow(/secretKeys\[i\] must be a Buffer of 32 bytes/);
    expect(open({ ...f3, secretKeys: k.secretKeys[0] })).toThrow(/secretKeys must be an array/);
    // The current pair's secret first: a retired one there contradicts publicKey.
    expect(open({ ...f3, secretKeys: [boxKeypair().secretKey, ...k.secretKeys] })).toThrow(/secretKeys\[0\] must be the secret key of publicKey/);
    expect(open({ ...f3, version: 4 })).toThrow(/version must be 1, 2 or 3/);
  });
});
