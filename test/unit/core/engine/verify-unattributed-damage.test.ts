// Damage that belongs to no restore point is still damage: a damaged pack
// whose chunks no point needs any more (its point was forgotten, and prune
// keeps the pack for its safety margin) makes verify's report not ok, with
// no point named.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { makeImage, scratch } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function packsOf(repoPath: string): string[] {
  return fs
    .readdirSync(path.join(repoPath, 'packs'), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => path.join(e.parentPath, e.name));
}

it('is not ok when a pack no point needs is damaged, and names no point', async () => {
  const dir = scratch('verify-unattributed');
  tmp.push(dir);
  const repoPath = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 1 << 20, 11);
  const repo = await engine.init({ path: repoPath });
  try {
    const a = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    const report = await repo.prune({ forget: [a.id], dryRun: false });
    expect(report.removedPoints).toEqual([a.id]);
    const packs = packsOf(repoPath);
    expect(packs.length).toBeGreaterThan(0); // young: kept for the margin
    expect((await repo.verify({ data: true })).ok).toBe(true);

    const pack = packs[0] ?? '';
    const b = fs.readFileSync(pack);
    b[64] = (b[64] ?? 0) ^ 0x40;
    fs.writeFileSync(pack, b);
    const damaged = await repo.verify({ data: true });
    expect(damaged.problems.length).toBeGreaterThan(0);
    expect(damaged.damagedPoints).toEqual([]);
    expect(damaged.ok).toBe(false);
  } finally {
    await repo.close();
  }
});
