// Hostile repository, damaged and replayed files: packs, index files,
// chunk-list segments and manifests truncated or with a flipped bit, and an
// old manifest put back after prune deleted it. Every operation ends in a
// clear outcome (success, or REPO_CORRUPT naming what is damaged); nothing
// crashes, nothing hangs, and a damaged index is rebuilt by prune from the
// pack trailers so restore works again.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import type { Repository } from '../../../../electron/core/engine/repository';
import { type Op, OPS, type Victim, cleanup, listFilesOf, makeImage, makeVictim, outcome, pointList, runOp, sha256, withTimeout } from './hostile-support';

const tmp: string[] = [];
afterAll(() => cleanup(tmp));

type Damage = 'truncated' | 'bit-flipped';

function damage(file: string, how: Damage, at: 'middle' | 'end' = 'middle'): void {
  const size = fs.statSync(file).size;
  if (how === 'truncated') {
    fs.truncateSync(file, Math.floor(size / 2));
    return;
  }
  const fd = fs.openSync(file, 'r+');
  const off = at === 'end' ? size - 20 : Math.floor(size / 2);
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, off);
  b[0] = (b[0] ?? 0) ^ 0x10;
  fs.writeSync(fd, b, 0, 1, off);
  fs.closeSync(fd);
}

async function neededPack(v: Victim): Promise<string> {
  const list = await pointList(v.repo, v.pointIds[1] ?? '');
  for (let at = 0; at < list.length; at += 32) {
    const id = list.subarray(at, at + 32);
    const loc = id.some((b) => b !== 0) ? v.repo.native.locate(id.toString('hex')) : null;
    if (loc) return loc.pack;
  }
  throw new Error('no stored chunk');
}

function newestSegment(v: Victim): string {
  return listFilesOf(v.repo.path, v.repo.native, v.pointIds[1] ?? '').segments[0] ?? '';
}

interface Case {
  name: string;
  /** Damages the victim; returns the words the refusals must contain. */
  hit: (v: Victim, how: Damage) => Promise<RegExp> | RegExp;
  /** Outcome per operation: REPO_CORRUPT or ok. */
  expect: Partial<Record<Op, 'REPO_CORRUPT' | 'ok'>>;
}

const cases: Case[] = [
  {
    name: 'the pack of the newest point',
    hit: async (v, how) => {
      const pack = await neededPack(v);
      damage(path.join(v.repo.path, 'packs', pack.slice(0, 2), pack), how, 'end');
      return new RegExp(pack);
    },
    // A truncated pack fails its reads, a flipped trailer byte its MAC; verify names it either way.
    expect: { list: 'ok', verify: 'REPO_CORRUPT', backup: 'ok' },
  },
  {
    name: 'the index file',
    hit: (v, how) => {
      const f = fs.readdirSync(path.join(v.repo.path, 'index')).sort()[0] ?? '';
      damage(path.join(v.repo.path, 'index', f), how);
      return /is damaged|is in no pack|not in any pack/;
    },
    // Prune rebuilds the index from the pack trailers; the backup before it
    // stores again what the damaged index no longer names.
    expect: { list: 'ok', verify: 'REPO_CORRUPT', restore: 'REPO_CORRUPT', backup: 'ok', prune: 'ok' },
  },
  {
    name: 'the chunk-list segment of the newest point',
    hit: (v, how) => {
      const seg = newestSegment(v);
      damage(path.join(v.repo.path, seg), how);
      return new RegExp(`segment ${path.basename(seg)}.* is damaged`);
    },
    // Prune keeps only the point the backup step just made: the damaged one is forgotten.
    expect: { list: 'ok', verify: 'REPO_CORRUPT', restore: 'REPO_CORRUPT', backup: 'ok', prune: 'ok' },
  },
  {
    name: 'the manifest of the newest point',
    hit: (v, how) => {
      damage(path.join(v.repo.path, 'points', v.pointIds[1] ?? ''), how);
      return new RegExp(`${v.pointIds[1] ?? ''}`);
    },
    expect: { list: 'ok', verify: 'REPO_CORRUPT', restore: 'REPO_CORRUPT', backup: 'ok', prune: 'REPO_CORRUPT' },
  },
];

describe('hostile repository: damaged files', () => {
  for (const how of ['truncated', 'bit-flipped'] as Damage[])
    it.each(cases)(`${how}: $name`, async (c) => {
      const v = await makeVictim('hostile-damage');
      tmp.push(v.base);
      await v.repo.close();
      const words = await c.hit(v, how);
      for (const op of OPS) {
        // As on a computer that has no index cache of this repository yet
        // (this one's would still hold the index file as it was).
        const r = await outcome(withTimeout(runOp(v, op, undefined, { cacheDir: null }), 20_000, op));
        const want = c.expect[op];
        if (want !== undefined) expect(r.code, `${op}: ${r.message}`).toBe(want);
        else expect(['ok', 'REPO_CORRUPT'], `${op}: ${r.message}`).toContain(r.code);
        if (r.code === 'REPO_CORRUPT') expect(r.message, op).toMatch(words);
      }
      if (c.name === 'the index file') {
        // After prune's rebuild the newest point restores again, unchanged.
        const repo = await engine.open({ path: v.repo.path, cacheDir: null });
        const pts = await repo.listPoints();
        const last = pts[pts.length - 1];
        const out = path.join(v.base, 'after-rebuild.img');
        await repo.restore({ pointId: last?.id ?? '', source: v.image, target: out, skipIdentical: false });
        expect(sha256(out)).toBe(sha256(v.image));
        await repo.close();
      }
    });
});

describe('hostile repository: a replayed manifest', () => {
  it('an old manifest put back after prune is named by restore, verify and prune', async () => {
    const base = (await makeVictim('hostile-replay')).base;
    tmp.push(base);
    const image = path.join(base, 'replay.img');
    makeImage(image, 2 << 20, 11);
    const repo = (await engine.init({ path: path.join(base, 'repo2') })) as Repository;
    const a = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    const saved = fs.readFileSync(path.join(repo.path, 'points', a.id));
    const files = listFilesOf(repo.path, repo.native, a.id);
    const savedSegments = [...(files.root !== undefined ? [files.root] : []), ...files.segments].map((rel) => {
      const f = path.join(repo.path, rel);
      return { f, data: fs.readFileSync(f) };
    });
    makeImage(image, 2 << 20, 12); // all new content: a's chunks die with it
    const b = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    // A day later: prune's age margins let it collect a's data.
    await repo.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false, now: new Date(Date.now() + 25 * 3600_000) });
    fs.writeFileSync(path.join(repo.path, 'points', a.id), saved); // the replay
    await repo.close();

    const again = (await engine.open({ path: repo.path })) as Repository;
    // It authenticates, so it lists like any point: the repository alone cannot tell.
    expect((await again.listPoints()).map((p) => p.id)).toEqual([a.id, b.id]);
    const restoreA = () => outcome(again.restore({ pointId: a.id, source: image, target: path.join(base, 'a.img'), skipIdentical: false }));
    // Its chunk list went with the prune ...
    let restored = await restoreA();
    expect(restored.code).toBe('REPO_CORRUPT');
    expect(restored.message).toMatch(new RegExp(`restore point ${a.id}`));
    expect(restored.message).toMatch(/is missing/);
    // ... and when the list is replayed too, its chunks are still gone.
    for (const { f, data } of savedSegments) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, data);
    }
    restored = await restoreA();
    expect(restored.code).toBe('REPO_CORRUPT');
    expect(restored.message).toMatch(/not in any pack/);
    const report = await again.verify({ data: false });
    expect(report.damagedPoints).toEqual([a.id]);
    const pruned = await outcome(again.prune({ retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false }));
    expect(pruned.code).toBe('REPO_CORRUPT');
    expect(pruned.message).toContain(`restore points ${a.id} reference chunks that are in no pack`);
    // The genuine newest point is unaffected.
    await again.restore({ pointId: b.id, source: image, target: path.join(base, 'b.img'), skipIdentical: false });
    expect(sha256(path.join(base, 'b.img'))).toBe(sha256(image));
    await again.close();
  });
});
