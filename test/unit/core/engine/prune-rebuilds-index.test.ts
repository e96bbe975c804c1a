// Prune repairs a damaged index file before it decides anything: the index
// is rebuilt from the pack trailers, so the points whose chunks only that
// file named stay whole, and prune goes on instead of stopping. (In
// hostile-damage.test.ts a backup runs first and stores those chunks
// again, which would hide a prune that never rebuilt.)
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { makeImage, scratch } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

it('rebuilds a damaged index from the pack trailers and goes on; the point restores exactly', async () => {
  const dir = scratch('prune-rebuild');
  tmp.push(dir);
  const repoPath = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 2 << 20, 9);
  let repo = await engine.init({ path: repoPath });
  const point = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
  await repo.close();

  const [name] = fs.readdirSync(path.join(repoPath, 'index')).filter((n) => !n.startsWith('.'));
  const file = path.join(repoPath, 'index', name ?? '');
  const b = fs.readFileSync(file);
  b[b.length >> 1] = (b[b.length >> 1] ?? 0) ^ 0x10;
  fs.writeFileSync(file, b);

  // No index cache: as on a computer that never read the intact file.
  repo = await engine.open({ path: repoPath, cacheDir: null });
  try {
    const report = await repo.prune({ retention: { keepLast: 10, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false });
    expect(report.keptPoints).toEqual([point.id]);
    expect((await repo.verify({ data: true })).ok).toBe(true);
    const out = path.join(dir, 'out.img');
    await repo.restore({ pointId: point.id, source: image, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha256(image));
  } finally {
    await repo.close();
  }
});
