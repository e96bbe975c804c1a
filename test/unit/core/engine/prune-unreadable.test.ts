// Prune stops, and deletes nothing, when any restore point's manifest cannot
// be read: skipping it would make its chunks look unreferenced, and the
// garbage collection would take them from a point that is only damaged in
// its manifest (or unreadable for a moment on a flaky NAS).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { makeImage, mutate, scratch } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function snapshotOf(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && !e.parentPath.endsWith('locks'))
    .map((e) => `${path.relative(dir, path.join(e.parentPath, e.name))}:${fs.statSync(path.join(e.parentPath, e.name)).size}`)
    .sort();
}

it.each([
  ['a bit flipped in it', 'REPO_CORRUPT', (f: string) => {
    const b = fs.readFileSync(f);
    b[b.length - 20] = (b[b.length - 20] ?? 0) ^ 1;
    fs.writeFileSync(f, b);
  }],
  ['cut short', 'REPO_CORRUPT', (f: string) => fs.truncateSync(f, 10)],
  // RepoDir refuses anything but a regular file where a manifest belongs.
  ['replaced by a directory', 'REPO_UNSAFE', (f: string) => {
    fs.rmSync(f);
    fs.mkdirSync(f);
  }],
])('stops naming the point when a manifest is %s (%s), and deletes nothing', async (_what, code, damage) => {
  const dir = scratch('prune-unreadable');
  tmp.push(dir);
  const repoPath = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 3 << 20, 4);
  const repo = await engine.init({ path: repoPath });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    mutate(image, 1, 50 + i, 65536);
    ids.push((await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id);
  }
  // The oldest point is the one only its manifest keeps alive: a prune
  // that skipped it would collect its chunks.
  damage(path.join(repoPath, 'points', ids[0] ?? ''));
  const before = snapshotOf(repoPath);
  const later = new Date(Date.now() + 48 * 3600_000);
  const e = (await repo.prune({ retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false, now: later }).catch((x: unknown) => x)) as AppError;
  expect(e).toBeInstanceOf(AppError);
  expect(e.code).toBe(code);
  expect(e.details?.['pointId']).toBe(ids[0]);
  expect(e.message).toContain(ids[0]);
  expect(snapshotOf(repoPath)).toEqual(before);
});
