// kill -9 at random moments of a backup and of a prune, run as the CLI in a
// child process, at least 10 times each. After every kill: verify (with
// data) passes, every point still listed restores byte-identical to the
// image as it was, no point that retention keeps is lost, and the next
// backup succeeds. Needs the built CLI (npm run build), as npm test does.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { makeImage, mutate, rng, scratch, sha256 } from './fixtures';
import { finished } from '../../../support/child-output';

const CLI = path.resolve(__dirname, '../../../../out/js/electron/cli/snapkeep.js');
const KILLS = 10;
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
}

/** Runs to completion; throws on failure. */
async function ok(args: string[]): Promise<string> {
  const r = await finished(cli(args));
  if (r.code !== 0) throw new Error(`snapkeep ${args.join(' ')} exited ${r.code}: ${r.err}${r.out}`);
  return r.out;
}

/**
 * Runs the command and kills it with SIGKILL at `fraction` of its expected
 * working time, counted from the moment its repository lock appears (so
 * the kill lands in the operation, not in Node's start-up). Returns
 * whether it was killed and how long the lock was held when it was not.
 */
async function killDuring(args: string[], repo: string, fraction: number, expectedMs: number): Promise<{ killed: boolean; heldMs: number }> {
  const locks = path.join(repo, 'locks');
  const before = new Set(fs.readdirSync(locks));
  const child = cli(args);
  const done = finished(child);
  let exited = false;
  void done.then(() => (exited = true));
  let seenAt = 0;
  while (!exited && !seenAt) {
    if (fs.readdirSync(locks).some((n) => !before.has(n) && !n.startsWith('.'))) seenAt = Date.now();
    else await new Promise((r) => setTimeout(r, 1));
  }
  const t = setTimeout(() => child.kill('SIGKILL'), Math.max(0, fraction * expectedMs));
  const r = await done;
  clearTimeout(t);
  if (r.signal === 'SIGKILL') return { killed: true, heldMs: 0 };
  if (r.code !== 0) throw new Error(`snapkeep ${args.join(' ')} failed before the kill: ${r.err}`);
  return { killed: false, heldMs: seenAt ? Date.now() - seenAt : 0 };
}

/** Every listed point restores to the sha recorded when it was taken. */
async function checkAll(repoPath: string, shaOf: Map<string, string>, dir: string, mustHave: string[]): Promise<string[]> {
  const repo = await engine.open({ path: repoPath });
  const report = await repo.verify({ data: true });
  expect(report.problems).toEqual([]);
  const ids = (await repo.listPoints()).map((p) => p.id);
  for (const id of mustHave) expect(ids).toContain(id);
  // Restoring every point is what proves nothing was lost; the newest
  // few are enough per round, the others were checked in earlier rounds.
  for (const id of ids.slice(-3)) {
    const out = path.join(dir, 'check.img');
    const p = (await repo.listPoints()).find((x) => x.id === id);
    await repo.restore({ pointId: id, source: p?.devices[0]?.source ?? '', target: out, skipIdentical: false });
    expect(sha256(out)).toBe(shaOf.get(id));
    fs.rmSync(out);
  }
  await repo.close();
  return ids;
}

describe('kill -9', () => {
  let dir: string;
  let image: string;
  let repoPath: string;
  beforeAll(async () => {
    dir = scratch('crash');
    tmp.push(dir);
    image = path.join(dir, 'disk.img');
    repoPath = path.join(dir, 'repo');
    makeImage(image, 12 << 20, 21);
    await ok(['init', repoPath, '--no-encryption']);
  });

  it(`during backup, ${KILLS} times: the repository stays valid and the next backup succeeds`, async () => {
    const r = rng(5);
    const shaOf = new Map<string, string>();
    const first = JSON.parse(await ok(['backup', repoPath, image, '--json', '--job', 'crash'])) as { id: string };
    shaOf.set(first.id, sha256(image));
    let kills = 0;
    let expected = 300;
    for (let attempt = 0; kills < KILLS && attempt < 40; attempt++) {
      const before = (await engine.open({ path: repoPath }).then((h) => h.listPoints())).map((p) => p.id);
      mutate(image, 0.1, 5000 + attempt, 65536);
      const res = await killDuring(['backup', repoPath, image, '--level', '6', '--job', 'crash'], repoPath, r(), expected);
      const sha = sha256(image);
      const repo = await engine.open({ path: repoPath });
      for (const p of await repo.listPoints()) if (!shaOf.has(p.id)) shaOf.set(p.id, sha);
      await repo.close();
      if (!res.killed) {
        expected = res.heldMs;
        continue;
      }
      kills++;
      await checkAll(repoPath, shaOf, dir, before);
      const next = JSON.parse(await ok(['backup', repoPath, image, '--json', '--job', 'crash'])) as { id: string };
      shaOf.set(next.id, sha);
    }
    expect(kills).toBeGreaterThanOrEqual(KILLS);
  }, 240_000);

  it(`during prune, ${KILLS} times: kept points survive and restore, the next backup succeeds`, async () => {
    const r = rng(77);
    const shaOf = new Map<string, string>();
    // A repository of its own, so every point's image is known here.
    repoPath = path.join(dir, 'repo-prune');
    await ok(['init', repoPath, '--no-encryption']);
    let kills = 0;
    let expected = 200;
    for (let attempt = 0; kills < KILLS && attempt < 40; attempt++) {
      for (let i = 0; i < 2; i++) {
        mutate(image, 0.3, 9000 + attempt * 10 + i, 65536);
        const p = JSON.parse(await ok(['backup', repoPath, image, '--json', '--job', 'crash'])) as { id: string };
        shaOf.set(p.id, sha256(image));
      }
      const repo = await engine.open({ path: repoPath });
      const ids = (await repo.listPoints()).map((p) => p.id);
      await repo.close();
      for (const id of ids) if (!shaOf.has(id)) throw new Error(`point ${id} has no recorded image`);
      const keep = ids.slice(-2);
      const res = await killDuring(['prune', repoPath, '--keep-last', '2'], repoPath, r(), expected);
      if (!res.killed) {
        expected = res.heldMs;
        continue;
      }
      kills++;
      await checkAll(repoPath, shaOf, dir, keep);
    }
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    await ok(['backup', repoPath, image, '--job', 'crash']);
    await ok(['prune', repoPath, '--keep-last', '1']);
    const repo = await engine.open({ path: repoPath });
    expect((await repo.verify({ data: true })).ok).toBe(true);
    expect((await repo.listPoints()).length).toBe(1);
  }, 240_000);
});
