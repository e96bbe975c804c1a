// A closed repository holds no file open, so its disk can be unmounted
// (found when the live-backup VM test could not unmount the repository's
// disk after restores); prune does not keep the packs it deleted open.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { makeImage, mutate, scratch } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** This process's descriptors that point into `dir` (deleted files included). */
function openIn(dir: string): string[] {
  return fs.readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // the descriptor readdir itself used, closed by now
    }
  });
}

it('close() and prune let go of the pack files', async () => {
  const dir = scratch('close');
  tmp.push(dir);
  const repoPath = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 4 << 20, 5);
  const repo = await engine.init({ path: repoPath });
  const points = [];
  for (let i = 0; i < 3; i++) {
    mutate(image, 0.5, 60 + i, 65536);
    points.push(await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 }));
  }
  for (const p of points) await repo.restore({ pointId: p.id, source: image, target: path.join(dir, `r${p.id}.img`), skipIdentical: false });
  await repo.verify({ data: true });
  expect(openIn(repoPath).length).toBeGreaterThan(0);

  // A day later: prune leaves younger packs alone (its safety margins).
  const later = new Date(Date.now() + 25 * 3600_000);
  const r = await repo.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false, now: later });
  expect(r.removedPacks).toBeGreaterThan(0);
  expect(openIn(repoPath).filter((l) => l.endsWith('(deleted)'))).toEqual([]);

  await repo.restore({ pointId: points[2]!.id, source: image, target: path.join(dir, 'last.img'), skipIdentical: false });
  expect(openIn(repoPath).length).toBeGreaterThan(0);
  await repo.close();
  expect(openIn(repoPath)).toEqual([]);
});
