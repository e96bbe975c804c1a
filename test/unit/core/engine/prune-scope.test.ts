// Retention is per job (docs/helper.md): a job's scheduled retention
// applies its rules to its own points only; job B's points and points made
// with the CLI (no job) are not touched. Without a job the policy applies
// to each group on its own (an explicit, repository-wide prune). Pinned
// points are kept and do not count; `forget` removes named points.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../electron/core/engine/api';
import { makeImage, mutate, scratch } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const keepLast = (n: number) => ({ keepLast: n, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 });
let dir: string;
let image: string;
let repo: RepositoryHandle;
const made: Record<string, string[]> = { A: [], B: [], cli: [] };

async function backup(who: 'A' | 'B' | 'cli', seed: number): Promise<void> {
  mutate(image, 0.1, seed, 65536);
  const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1, ...(who !== 'cli' && { jobId: who, jobName: `job ${who}` }) });
  made[who]?.push(p.id);
}

beforeAll(async () => {
  dir = scratch('prune-scope');
  tmp.push(dir);
  image = path.join(dir, 'disk.img');
  makeImage(image, 2 << 20, 3);
  repo = await engine.init({ path: path.join(dir, 'repo') });
  for (let i = 0; i < 3; i++) {
    await backup('A', 10 + i);
    await backup('B', 20 + i);
    await backup('cli', 30 + i);
  }
});

const listed = async () => new Set((await repo.listPoints()).map((p) => p.id));

it("applies job A's retention to job A's points only: job B's and the CLI's points stay", async () => {
  const r = await repo.prune({ retention: keepLast(1), jobId: 'A', dryRun: false });
  expect(new Set(r.removedPoints)).toEqual(new Set(made['A']?.slice(0, 2)));
  const left = await listed();
  for (const id of [...(made['B'] ?? []), ...(made['cli'] ?? [])]) expect(left.has(id)).toBe(true);
  expect(left.has(made['A']?.[2] ?? '')).toBe(true);
  expect((await repo.verify({ data: true })).ok).toBe(true);
});

it('keeps pinned points without counting them, and forgets named points (pins win)', async () => {
  const b = made['B'] ?? [];
  const r = await repo.prune({ retention: keepLast(1), jobId: 'B', pinned: [b[2] ?? '', b[0] ?? ''], dryRun: false });
  // b[2] is pinned, so keepLast 1 keeps b[1] as well; b[0] is pinned too.
  expect(r.removedPoints).toEqual([]);
  const f = await repo.prune({ forget: [b[1] ?? '', b[2] ?? ''], pinned: [b[2] ?? ''], dryRun: false });
  expect(f.removedPoints).toEqual([b[1]]);
  const left = await listed();
  expect(left.has(b[0] ?? '')).toBe(true);
  expect(left.has(b[2] ?? '')).toBe(true);
  const missing = (await repo.prune({ forget: ['20990101T000000000Z-abcdef'], dryRun: true }).catch((e: unknown) => e)) as AppError;
  expect(missing.code).toBe('NOT_FOUND');
});

it('without a job, applies the policy to every group on its own', async () => {
  const r = await repo.prune({ retention: keepLast(1), dryRun: false });
  const left = await listed();
  expect(left.size).toBe(3);
  expect(left.has(made['cli']?.[2] ?? '')).toBe(true);
  expect(left.has(made['A']?.[2] ?? '')).toBe(true);
  expect(r.removedPoints).toContain(made['cli']?.[0]);
});
