// The pack reader with a fetcher (a remote repository's read cache,
// docs/remote-repositories.md): packs missing from the directory are asked
// for through `fetchPack`, the worker waits for the promise, packs the
// cache deletes stay readable through descriptors already open, a pack the
// cache drops before it is opened is fetched again (never reported missing
// while the store has it), and a rejection fails the operation with its code.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { isNativeEngineError, openNativeRepo } from '../../engine';
import { packFile, packsOf, scratchDir, writeFile } from './test-support';

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
