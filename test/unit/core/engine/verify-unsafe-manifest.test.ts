// verify refuses, like prune and every other operation, a repository with
// something other than a regular file where a manifest belongs (here a
// directory, which the repository scan lets through as a directory):
// REPO_UNSAFE naming the path, not a "damaged restore point" line in a
// report that says the rest is fine.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { makeImage, mutate, scratch } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

it('refuses with REPO_UNSAFE when a directory stands where a manifest belongs', async () => {
  const dir = scratch('verify-unsafe');
  tmp.push(dir);
  const repoPath = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 1 << 20, 7);
  const repo = await engine.init({ path: repoPath });
  try {
    const first = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    mutate(image, 1, 8, 65536);
    await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    expect((await repo.verify({ data: false })).ok).toBe(true);

    const manifest = path.join(repoPath, 'points', first.id);
    fs.rmSync(manifest);
    fs.mkdirSync(manifest);
    const e = await repo.verify({ data: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ code: 'REPO_UNSAFE', details: { path: manifest } });
  } finally {
    await repo.close();
  }
});
