// verify's scan of the repository goes down into the buckets of packs/ and
// lists/: a link planted there under a name nothing references (so no
// operation would ever open it) is still found and refused with
// REPO_UNSAFE, naming it. Nothing outside the repository is touched.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { makeImage, scratch } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

it.each(['packs', 'lists'])('refuses a link planted inside a bucket of %s/ under an unreferenced name', async (top) => {
  const dir = scratch('verify-buckets');
  tmp.push(dir);
  const repoPath = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 1 << 20, 5);
  const canary = path.join(dir, 'canary');
  fs.writeFileSync(canary, 'outside the repository');
  const repo = await engine.init({ path: repoPath });
  try {
    await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    const bucket = fs.readdirSync(path.join(repoPath, top)).find((n) => /^[0-9a-f]{2}$/.test(n));
    expect(bucket).toBeDefined();
    const link = path.join(repoPath, top, bucket ?? '', `${bucket ?? ''}${'0'.repeat(62)}`);
    fs.symlinkSync(canary, link);
    const e = await repo.verify({ data: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ code: 'REPO_UNSAFE', details: { path: link } });
    expect(fs.readFileSync(canary, 'utf8')).toBe('outside the repository');
  } finally {
    await repo.close();
  }
});
