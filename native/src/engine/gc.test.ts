import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { expect, it } from 'vitest';

import { newRepo, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;

it('plans, compacts live blobs into new packs, and rebuilds the index from pack trailers', async () => {
  const dir = scratchDir();
  const repo = newRepo(dir, true);
  const a = writeFile(dir, 'a.img', randomBytes(16 * CS));
  const b = writeFile(dir, 'b.img', randomBytes(16 * CS));
  // small packs: several per backup
  const ra = await repo.backup({ source: a, chunkSize: CS, level: 1, packSize: 4 * CS });
  const rb = await repo.backup({ source: b, chunkSize: CS, level: 1, packSize: 4 * CS });
  expect(ra.packs.length).toBeGreaterThanOrEqual(4);
  // Keep b and the first half of a.
  const live = [rb.list, ra.list.subarray(0, 8 * 32)];
  const plan = repo.gcPlan(live);
  const drop = plan.filter((p) => p.liveChunks === 0).map((p) => p.id);
  const rewrite = plan.filter((p) => p.liveChunks > 0 && p.liveChunks < p.chunks).map((p) => p.id);
  expect(drop.length).toBeGreaterThan(0);
  const res = await repo.compact({ live, rewrite, drop, packSize: 4 * CS });
  for (const f of fs.readdirSync(path.join(dir, 'repo', 'index'))) if (f !== res.indexFile) fs.rmSync(path.join(dir, 'repo', 'index', f));
  for (const id of [...drop, ...rewrite]) fs.rmSync(path.join(dir, 'repo', 'packs', id.slice(0, 2), id));
  const load = await repo.loadIndex();
  expect(load.badFiles).toEqual([]);
  for (const l of live) expect(repo.missingChunks(l).length).toBe(0);
  expect(repo.missingChunks(ra.list.subarray(8 * 32)).length).toBe(8 * 32);
  expect((await repo.verify({ data: true })).problems).toEqual([]);
  const back = await repo.readRange({ list: ra.list, chunkSize: CS, deviceSize: 16 * CS, offset: 0, length: 8 * CS });
  expect(back.equals(fs.readFileSync(a).subarray(0, 8 * CS))).toBe(true);

  // Lose every index file: the trailers rebuild it.
  for (const f of fs.readdirSync(path.join(dir, 'repo', 'index'))) fs.rmSync(path.join(dir, 'repo', 'index', f));
  await repo.loadIndex();
  expect(repo.missingChunks(rb.list).length).toBe(16 * 32);
  const packs = fs.readdirSync(path.join(dir, 'repo', 'packs')).flatMap((d) => fs.readdirSync(path.join(dir, 'repo', 'packs', d)));
  const rebuilt = await repo.rebuildIndex(packs);
  expect(rebuilt.badPacks).toEqual([]);
  await repo.loadIndex();
  for (const l of live) expect(repo.missingChunks(l).length).toBe(0);
});
