// Prune forgets what retention does not keep, frees the space of chunks
// only they used (repacking sparse packs), leaves the kept points intact,
// and waits for no one: a running backup's shared lock makes it fail with
// REPO_LOCKED rather than delete packs from under it. The dry run reports
// what the real run then does, freed bytes included. (The packs are a day
// old by the `now` given: prune leaves younger ones alone, see
// prune-margins.test.ts.)
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { acquireLock } from '../../../../electron/core/engine/locks';
import { makeImage, mutate, scratch, sha256 } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function du(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  return n;
}

it('keeps the policy, frees space, and the kept points restore', async () => {
  const dir = scratch('prune');
  tmp.push(dir);
  const image = path.join(dir, 'disk.img');
  makeImage(image, 8 << 20, 31);
  const repo = await engine.init({ path: path.join(dir, 'repo') });
  const sha = new Map<string, string>();
  for (let i = 0; i < 5; i++) {
    mutate(image, 0.4, 40 + i, 65536);
    const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    sha.set(p.id, sha256(image));
  }
  const before = du(path.join(dir, 'repo'));
  const ids = (await repo.listPoints()).map((p) => p.id);
  const now = new Date(Date.now() + 25 * 3600_000);
  const dry = await repo.prune({ retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: true, now });
  expect(dry.removedPoints).toEqual(ids.slice(0, 3));
  expect(dry.freedBytes).toBeGreaterThan(0);
  expect((await repo.listPoints()).length).toBe(5);

  const shared = await acquireLock(path.join(dir, 'repo'), 'shared', 'backup');
  const locked = await repo.prune({ retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false, now }).catch((e: unknown) => e);
  expect((locked as AppError).code).toBe('REPO_LOCKED');
  await shared.release();

  const r = await repo.prune({ retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false, now });
  expect(r.removedPoints).toEqual(ids.slice(0, 3));
  expect(r.keptPoints).toEqual(ids.slice(3));
  expect(r.freedBytes).toBeGreaterThan(0);
  const after = du(path.join(dir, 'repo'));
  expect(after).toBeLessThan(before * 0.8);
  // What it said it freed is what left the disk (manifests and the index
  // rewrite aside, a few KiB); the preview said the same, within the
  // framing of the repacked packs.
  expect(Math.abs(before - after - r.freedBytes)).toBeLessThan(64 * 1024);
  expect(Math.abs(dry.freedBytes - r.freedBytes)).toBeLessThan(64 * 1024);
  expect(dry.removedPacks).toBe(r.removedPacks);
  expect((await repo.verify({ data: true })).ok).toBe(true);
  for (const id of ids.slice(3)) {
    const out = path.join(dir, 'out.img');
    await repo.restore({ pointId: id, source: image, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha.get(id));
  }
  // skip-identical restore onto the matching image writes nothing.
  const out = path.join(dir, 'out.img');
  const again = await repo.restore({ pointId: ids[4] ?? '', source: image, target: out, skipIdentical: true });
  expect(again.bytesWritten).toBe(0);
  expect(again.bytesSkipped).toBe(8 << 20);
});
