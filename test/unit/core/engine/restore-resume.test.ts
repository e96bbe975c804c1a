// A restore killed (kill -9) at random moments resumes where it stopped:
// each run after a kill starts from what the one before made durable, the
// last one ends byte-identical to the point, and what it says it resumed
// plus what it wrote is the whole device. Progress of another restore (other
// point, other target) or a damaged progress file is never used. The
// restore runs in a child process (the built engine, as npm test builds
// it) so the kill is a real one.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../electron/core/engine/api';
import { resumeFile, targetIdentity } from '../../../../electron/core/engine/restore-resume';
import { makeImage, mutate, rng, scratch, sha256 } from './fixtures';

const ENGINE = path.resolve(__dirname, '../../../../out/js/electron/core/engine/index.js');
const MiB = 1 << 20;
const SIZE = 48 * MiB;
const EVERY = 2 * MiB;

let dir: string;
let repoPath: string;
let img: string;
let resumeDir: string;
let pointA: string;
let pointB: string;
let shaA: string;
let repo: RepositoryHandle;

beforeAll(async () => {
  dir = scratch('snapkeep-resume-');
  repoPath = path.join(dir, 'repo');
  img = path.join(dir, 'disk.img');
  resumeDir = path.join(dir, 'state', 'restores');
  makeImage(img, SIZE, 7);
  shaA = sha256(img);
  const h = await engine.init({ path: repoPath, chunkSize: 256 * 1024 });
  pointA = (await h.backup({ sources: [{ source: img, readFrom: img }], jobId: 'j', compressionLevel: 1 })).id;
  mutate(img, 0.2, 8);
  pointB = (await h.backup({ sources: [{ source: img, readFrom: img }], jobId: 'j', compressionLevel: 1 })).id;
  await h.close();
  repo = await engine.open({ path: repoPath });
});
afterAll(async () => {
  await repo.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The restore of `pointId` to `target` in a child process; prints its progress as JSON lines. */
function child(pointId: string, target: string): ChildProcess {
  const script = `
    const { engine } = require(${JSON.stringify(ENGINE)});
    (async () => {
      const h = await engine.open({ path: ${JSON.stringify(repoPath)} });
      const r = await h.restore({
        pointId: ${JSON.stringify(pointId)}, source: ${JSON.stringify(img)}, target: ${JSON.stringify(target)},
        skipIdentical: false, resumeDir: ${JSON.stringify(resumeDir)}, resumeEveryBytes: ${EVERY},
        onProgress: (p) => process.stdout.write(JSON.stringify({ done: p.bytesDone }) + '\\n'),
      });
      process.stdout.write(JSON.stringify({ result: r }) + '\\n');
      await h.close();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs the restore and kills it once it has done `killAt` bytes; resolves whether the kill landed. */
function runAndKill(pointId: string, target: string, killAt: number): Promise<{ killed: boolean; lastDone: number }> {
  const c = child(pointId, target);
  let lastDone = 0;
  let buf = '';
  let err = '';
  c.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as { done?: number };
      buf = buf.slice(nl + 1);
      if (line.done !== undefined) lastDone = line.done;
      if (lastDone >= killAt) c.kill('SIGKILL');
    }
  });
  c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    c.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed: true, lastDone });
      else if (code === 0) resolve({ killed: false, lastDone });
      else reject(new Error(`the restore failed: ${err}`));
    }),
  );
}

/**
 * A restore of `target` killed past `killAt` with its progress record on
 * disk. On a busy disk the first checkpoint's syncs can outlast the kill
 * (or the whole restore): then it is simply run again, from zero.
 */
async function interruptedWithRecord(pointId: string, target: string, killAt: number): Promise<{ lastDone: number }> {
  for (let attempt = 0; attempt < 6; attempt++) {
    const res = await runAndKill(pointId, target, killAt);
    if (res.killed && fs.existsSync(resumeFile(resumeDir, await targetIdentity(target)))) return res;
  }
  throw new Error(`no restore of ${target} was killed with its progress on disk in 6 attempts`);
}

describe('resumable restore', () => {
  it('killed at five random moments, each run goes on from the last, and the result is byte-identical', async () => {
    const target = path.join(dir, 'target.img');
    const r = rng(99);
    let kills = 0;
    let resumedSeen = 0;
    let previous = 0;
    for (let i = 0; i < 5; i++) {
      // Somewhere in the part not yet restored.
      const killAt = previous + Math.floor(r() * Math.max(EVERY, SIZE - previous) * 0.5) + EVERY;
      const res = await runAndKill(pointA, target, Math.min(killAt, SIZE - EVERY));
      if (!res.killed) break;
      kills++;
      // Progress counts resumed bytes too: a run never goes back below what
      // was durable before the kill before it.
      expect(res.lastDone).toBeGreaterThanOrEqual(previous);
      previous = Math.max(0, res.lastDone - EVERY * 4);
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    // On a busy disk every kill can land before its run's first checkpoint
    // is durable: then one more run is cut off once it has one.
    if (!fs.existsSync(resumeFile(resumeDir, await targetIdentity(target)))) await interruptedWithRecord(pointA, target, Math.min(previous + EVERY * 2, SIZE - EVERY));
    const files = fs.readdirSync(resumeDir).filter((n) => n.endsWith('.resume'));
    expect(files).toHaveLength(1);

    const done = await repo.restore({ pointId: pointA, source: img, target, skipIdentical: false, resumeDir, resumeEveryBytes: EVERY });
    resumedSeen = done.bytesResumed ?? 0;
    expect(resumedSeen).toBeGreaterThan(0);
    expect(resumedSeen + done.bytesWritten + done.bytesSkipped).toBe(SIZE);
    expect(done.resumeIgnored).toBeUndefined();
    expect(sha256(target)).toBe(shaA);
    // Finished: nothing is left to resume.
    expect(fs.readdirSync(resumeDir).filter((n) => n.endsWith('.resume'))).toEqual([]);
  });

  it('never uses the progress of another point, of another target, or a damaged record', async () => {
    const target = path.join(dir, 'other.img');
    await interruptedWithRecord(pointA, target, SIZE / 2);
    const record = fs.readdirSync(resumeDir).find((n) => n.endsWith('.resume'));
    expect(record).toBeDefined();

    // Another target (a copy of the half-restored file is another inode).
    const copy = path.join(dir, 'copy.img');
    fs.copyFileSync(target, copy);
    const onCopy = await repo.restore({ pointId: pointA, source: img, target: copy, skipIdentical: false, resumeDir });
    expect(onCopy.bytesResumed).toBeUndefined();
    expect(sha256(copy)).toBe(shaA);

    // A damaged record (one byte of its marks flipped) on the same target.
    const file = path.join(resumeDir, record ?? '');
    const saved = fs.readFileSync(file);
    const bad = Buffer.from(saved);
    bad[bad.length - 40] = (bad[bad.length - 40] ?? 0) ^ 0x01;
    fs.writeFileSync(file, bad);
    const onDamaged = await repo.restore({ pointId: pointA, source: img, target, skipIdentical: false, resumeDir });
    expect(onDamaged.resumeIgnored).toMatch(/damaged/);
    expect(onDamaged.bytesResumed).toBeUndefined();
    expect(sha256(target)).toBe(shaA);

    // The same target, another point: the record of point A is not B's.
    await interruptedWithRecord(pointA, target, SIZE / 2);
    const onB = await repo.restore({ pointId: pointB, source: img, target, skipIdentical: false, resumeDir });
    expect(onB.resumeIgnored).toMatch(/another restore/);
    expect(sha256(target)).toBe(sha256(img));
  });

  it('says before the restore what it will resume: the same bytes the restore then skips, nothing for a fresh or missing target', async () => {
    const target = path.join(dir, 'probe.img');
    // A missing image file: nothing to resume, and asking does not create it.
    expect(await repo.resumable({ pointId: pointA, source: img, target, resumeDir })).toEqual({ bytes: 0, totalBytes: SIZE });
    expect(fs.existsSync(target)).toBe(false);

    // A kill that lands after the last chunk (the child runs ahead of the
    // progress lines read here on a busy host) leaves a record of every
    // byte: not the partial state under test, so cut off another run.
    let before = { bytes: 0, totalBytes: 0 } as Awaited<ReturnType<typeof repo.resumable>>;
    for (let attempt = 0; attempt < 6; attempt++) {
      await interruptedWithRecord(pointA, target, SIZE / 2);
      before = await repo.resumable({ pointId: pointA, source: img, target, resumeDir });
      if (before.bytes < SIZE) break;
      fs.rmSync(resumeFile(resumeDir, await targetIdentity(target)), { force: true });
    }
    expect(before.ignored).toBeUndefined();
    expect(before.bytes).toBeGreaterThan(0);
    expect(before.bytes).toBeLessThan(SIZE);
    expect(before.totalBytes).toBe(SIZE);
    // Another point to the same target would not use it, and says why.
    const forB = await repo.resumable({ pointId: pointB, source: img, target, resumeDir });
    expect(forB).toMatchObject({ bytes: 0, ignored: expect.stringMatching(/another restore/) });
    // Asking changed nothing: the restore resumes exactly what was announced.
    const done = await repo.restore({ pointId: pointA, source: img, target, skipIdentical: false, resumeDir });
    expect(done.bytesResumed).toBe(before.bytes);
    expect(sha256(target)).toBe(shaA);
    expect(await repo.resumable({ pointId: pointA, source: img, target, resumeDir })).toEqual({ bytes: 0, totalBytes: SIZE });
  });

  it('does not trust a record whose target no longer holds what it names (written since, or another disk with the same identity)', async () => {
    const target = path.join(dir, 'rewritten.img');
    const killed = await interruptedWithRecord(pointA, target, SIZE / 2);
    expect((await repo.resumable({ pointId: pointA, source: img, target, resumeDir })).bytes).toBeGreaterThan(0);
    // The same file (same inode, so the same identity) written over where the restore had been.
    const fd = fs.openSync(target, 'r+');
    fs.writeSync(fd, Buffer.alloc(killed.lastDone, 0x5a), 0, killed.lastDone, 0);
    fs.closeSync(fd);
    // Said before the start as the restore will then do it.
    expect(await repo.resumable({ pointId: pointA, source: img, target, resumeDir })).toMatchObject({
      bytes: 0,
      ignored: expect.stringMatching(/does not hold what the progress record says/),
    });
    const r = await repo.restore({ pointId: pointA, source: img, target, skipIdentical: false, resumeDir });
    expect(r.resumeIgnored).toMatch(/does not hold what the progress record says/);
    expect(r.bytesResumed).toBeUndefined();
    expect(sha256(target)).toBe(shaA);
  });
});
