// A format 1 repository has no removal records: prune may delete packs only
// after the consolidated index that no longer names them is written. When
// that write fails because the destination is full, prune must stop with
// DISK_FULL and delete nothing: packs deleted while the old index files
// still name them would make the next backup dedup against chunks that are
// gone. Real file system: a small tmpfs, the committed format 1 fixture.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { baseImage } from '../../../fixtures/repo-v1/images.mjs';
import { rng, scratch } from './fixtures';

const FIXTURE = path.resolve(__dirname, '../../../fixtures/repo-v1/plain');
const SOURCE = '/fixture/plain.img';
const tmp: string[] = [];
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) execFileSync('umount', [m]);
  tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

const free = (dir: string) => {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
};

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

it('stops with DISK_FULL before deleting any pack when the new index does not fit, and the next backup still restores', async () => {
  const dir = scratch('prune-v1-full');
  tmp.push(dir);
  const dest = path.join(dir, 'dest');
  fs.mkdirSync(dest);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dest]);
  mounts.push(dest);
  const repoPath = path.join(dest, 'repo');
  fs.cpSync(FIXTURE, repoPath, { recursive: true });
  const repo = await engine.open({ path: repoPath });
  try {
    const fixturePoints = (await repo.listPoints()).map((p) => p.id);
    expect(fixturePoints).toHaveLength(2);
    // A point of other data, then the fixture's points forgotten: their packs
    // are unreferenced, kept for now by prune's margin (they were just copied).
    const other = path.join(dir, 'other.img');
    const r = rng(77);
    const b = Buffer.alloc(2 << 20);
    for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((r() * 0x100000000) >>> 0, i);
    fs.writeFileSync(other, b);
    await repo.backup({ sources: [{ source: '/other.img', readFrom: other }], compressionLevel: 1 });
    await repo.prune({ forget: fixturePoints, dryRun: false });

    // Full to the last few KiB: the lock file fits, the consolidated index does not.
    const filler = path.join(dest, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free(dest) - 8 * 1024)));
    const before = files(path.join(repoPath, 'packs'));
    const e = await repo.prune({ dryRun: false, now: new Date(Date.now() + 25 * 3600_000) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('DISK_FULL');
    expect(files(path.join(repoPath, 'packs'))).toEqual(before);

    // With room again, a backup of the fixture's image dedups against the
    // kept packs; it must restore exactly.
    fs.rmSync(filler);
    const image = path.join(dir, 'plain.img');
    fs.writeFileSync(image, baseImage(11));
    const p = await repo.backup({ sources: [{ source: SOURCE, readFrom: image }], compressionLevel: 1 });
    const out = path.join(dir, 'restored.img');
    await repo.restore({ pointId: p.id, source: SOURCE, target: out, skipIdentical: false });
    expect(fs.readFileSync(out).equals(fs.readFileSync(image))).toBe(true);
    expect((await repo.verify({ data: true })).ok).toBe(true);
  } finally {
    await repo.close();
  }
}, 120_000);
