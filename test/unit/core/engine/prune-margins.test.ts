// Prune's second line of defence: nothing young is deleted or rewritten,
// even under a valid exclusive lock, because a backup whose lock was judged
// stale by mistake may still be writing. Unindexed packs, unreferenced
// segments and temp files (ours and the native writer's `.<name>.tmp-<hex>`)
// wait a day; indexed packs that no point needs wait two hours. Ages are
// file mtimes measured against prune's `now`.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { makeImage, mutate, scratch, sha256 } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const HOUR = 3600_000;
const KEEP_ALL = { keepLast: 100, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
const at = (hours: number) => new Date(Date.now() + hours * HOUR);

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

it('keeps what a killed backup left (unindexed packs, unreferenced segments, temp files) for a day, then sweeps it', async () => {
  const dir = scratch('prune-margin');
  tmp.push(dir);
  const repoPath = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 6 << 20, 7);
  const repo = await engine.init({ path: repoPath });
  const first = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
  const firstSha = sha256(image);
  const indexBefore = new Set(fs.readdirSync(path.join(repoPath, 'index')));
  const packsBefore = new Set(files(path.join(repoPath, 'packs')));
  mutate(image, 0.5, 8, 65536);
  // A second backup that "died" before its manifest and index were durable:
  // its packs are unindexed, its segments unreferenced.
  const second = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
  fs.rmSync(path.join(repoPath, 'points', second.id));
  for (const f of fs.readdirSync(path.join(repoPath, 'index'))) if (!indexBefore.has(f)) fs.rmSync(path.join(repoPath, 'index', f));
  const orphanPacks = files(path.join(repoPath, 'packs')).filter((f) => !packsBefore.has(f));
  expect(orphanPacks.length).toBeGreaterThan(0);
  // Temp files of killed writers: a pack being filled, the native and the TS atomic writers.
  fs.writeFileSync(path.join(repoPath, 'tmp', 'a'.repeat(64) + '.pack'), Buffer.alloc(4096, 1));
  fs.writeFileSync(path.join(repoPath, 'index', '.' + 'b'.repeat(64) + '.tmp-0123456789ab'), Buffer.alloc(1000, 2));
  fs.writeFileSync(path.join(repoPath, 'points', '.snapkeep-tmp-x-1-abcd'), 'x');
  const everything = files(repoPath).filter((f) => !f.startsWith('locks/'));

  for (const hours of [0, 3, 23]) {
    const r = await repo.prune({ retention: KEEP_ALL, dryRun: false, now: at(hours) });
    expect(r.removedPacks).toBe(0);
    expect(r.freedBytes).toBe(0);
    expect(r.heldBackBytes).toBeGreaterThan(4096 + 1000);
    expect(Date.parse(r.heldBackUntil ?? '')).toBeGreaterThan(Date.now() + 23 * HOUR);
    expect(files(repoPath).filter((f) => !f.startsWith('locks/'))).toEqual(everything);
  }

  const dry = await repo.prune({ retention: KEEP_ALL, dryRun: true, now: at(25) });
  const r = await repo.prune({ retention: KEEP_ALL, dryRun: false, now: at(25) });
  expect(r.removedPacks).toBe(orphanPacks.length);
  expect(r.heldBackBytes).toBe(0);
  expect(dry.freedBytes).toBe(r.freedBytes);
  const left = files(repoPath);
  for (const p of orphanPacks) expect(left).not.toContain(path.join('packs', p));
  expect(left.filter((f) => f.startsWith('tmp/') || path.basename(f).startsWith('.'))).toEqual([]);
  expect((await repo.verify({ data: true })).ok).toBe(true);
  await repo.restore({ pointId: first.id, source: image, target: path.join(dir, 'out.img'), skipIdentical: false });
  expect(sha256(path.join(dir, 'out.img'))).toBe(firstSha);
});

it('leaves indexed packs that no point needs for two hours before dropping them', async () => {
  const dir = scratch('prune-margin');
  tmp.push(dir);
  const repoPath = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 4 << 20, 9);
  const repo = await engine.init({ path: repoPath });
  const first = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
  const firstPacks = new Set(files(path.join(repoPath, 'packs')));
  mutate(image, 1, 10, 65536);
  const second = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
  const keepLast1 = { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };

  const now = await repo.prune({ retention: keepLast1, dryRun: false, now: at(1) });
  expect(now.removedPoints).toEqual([first.id]);
  expect(now.removedPacks).toBe(0);
  expect(now.heldBackBytes).toBeGreaterThan(0);
  const stillThere = files(path.join(repoPath, 'packs'));
  for (const p of firstPacks) expect(stillThere).toContain(p);

  const later = await repo.prune({ retention: keepLast1, dryRun: false, now: at(3) });
  expect(later.removedPacks).toBeGreaterThan(0);
  expect(later.freedBytes).toBeGreaterThan(0);
  expect((await repo.listPoints()).map((p) => p.id)).toEqual([second.id]);
  expect((await repo.verify({ data: true })).ok).toBe(true);
});
