// The failures a user meets, each with its code and nothing damaged:
// wrong passphrase, missing repository, full and read-only targets, a full
// repository disk, a mounted or too small block device, a source that
// shrank under the tracker.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { makeImage, scratch, sha256 } from './fixtures';

const tmp: string[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) {
    try {
      cleanups.pop()?.();
    } catch {
      /* best effort */
    }
  }
});
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function dir(name: string): string {
  const d = scratch(name);
  tmp.push(d);
  return d;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AppError);
  return (e as AppError).code;
}

function tmpfs(at: string, options: string): void {
  fs.mkdirSync(at, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at]);
  cleanups.push(() => execFileSync('umount', ['-l', at]));
}

function loop(file: string): string {
  const dev = execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
  cleanups.push(() => execFileSync('losetup', ['-d', dev]));
  return dev;
}

describe('repository access', () => {
  it('WRONG_PASSPHRASE for a wrong passphrase, PASSPHRASE_REQUIRED without one', async () => {
    const d = dir('pw');
    const repo = await engine.init({ path: path.join(d, 'repo'), passphrase: 'right' });
    await repo.close();
    expect(await codeOf(engine.open({ path: path.join(d, 'repo'), passphrase: 'wrong' }))).toBe('WRONG_PASSPHRASE');
    expect(await codeOf(engine.open({ path: path.join(d, 'repo') }))).toBe('PASSPHRASE_REQUIRED');
    const again = await engine.open({ path: path.join(d, 'repo'), passphrase: 'right' });
    expect((await again.info()).encrypted).toBe(true);
  });

  it('REPO_NOT_FOUND for a missing path or a directory that is no repository; REPO_EXISTS on a second init', async () => {
    const d = dir('missing');
    expect(await codeOf(engine.open({ path: path.join(d, 'nothing-here') }))).toBe('REPO_NOT_FOUND');
    expect(await codeOf(engine.open({ path: d }))).toBe('REPO_NOT_FOUND');
    await engine.init({ path: path.join(d, 'r') });
    expect(await codeOf(engine.init({ path: path.join(d, 'r') }))).toBe('REPO_EXISTS');
  });
});

describe('restore targets', () => {
  it('DISK_FULL when the target file system fills up; READ_ONLY on a read-only one', async () => {
    const d = dir('targets');
    const image = path.join(d, 'disk.img');
    makeImage(image, 12 << 20, 11);
    const repo = await engine.init({ path: path.join(d, 'repo') });
    const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    tmpfs(path.join(d, 'small'), 'size=2m');
    const full = await repo.restore({ pointId: p.id, source: image, target: path.join(d, 'small', 'out.img'), skipIdentical: false }).catch((e: unknown) => e);
    expect((full as AppError).code).toBe('DISK_FULL');
    expect((full as AppError).details).toMatchObject({ errnoName: 'ENOSPC' });
    tmpfs(path.join(d, 'ro'), 'ro,size=64m');
    expect(await codeOf(repo.restore({ pointId: p.id, source: image, target: path.join(d, 'ro', 'out.img'), skipIdentical: false }))).toBe('READ_ONLY');
    // Nothing in the repository suffered.
    expect((await repo.verify({ data: true })).ok).toBe(true);
  });

  it('TARGET_TOO_SMALL for a smaller block device, TARGET_MOUNTED for a mounted one', async () => {
    const d = dir('blk');
    const image = path.join(d, 'disk.img');
    makeImage(image, 8 << 20, 12);
    const repo = await engine.init({ path: path.join(d, 'repo') });
    const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    const small = path.join(d, 'small.img');
    fs.writeFileSync(small, Buffer.alloc(4 << 20));
    const smallDev = loop(small);
    const tooSmall = await repo.restore({ pointId: p.id, source: image, target: smallDev, skipIdentical: false }).catch((e: unknown) => e);
    expect((tooSmall as AppError).code).toBe('TARGET_TOO_SMALL');
    expect((tooSmall as AppError).message).toContain(smallDev);
    expect(sha256(small)).toBe(sha256Zero(4 << 20, d)); // untouched

    const big = path.join(d, 'big.img');
    fs.writeFileSync(big, Buffer.alloc(16 << 20));
    const bigDev = loop(big);
    execFileSync('mkfs.ext4', ['-q', '-F', bigDev]);
    const mnt = path.join(d, 'mnt');
    fs.mkdirSync(mnt);
    execFileSync('mount', [bigDev, mnt]);
    cleanups.push(() => execFileSync('umount', [mnt]));
    expect(await codeOf(repo.restore({ pointId: p.id, source: image, target: bigDev, skipIdentical: false }))).toBe('TARGET_MOUNTED');
    // The image file behind the mounted loop device is refused too.
    expect(await codeOf(repo.restore({ pointId: p.id, source: image, target: big, skipIdentical: false }))).toBe('TARGET_MOUNTED');
  });
});

function sha256Zero(size: number, d: string): string {
  const f = path.join(d, `zero-${size}`);
  fs.writeFileSync(f, Buffer.alloc(size));
  return sha256(f);
}

describe('backup failures', () => {
  it('DISK_FULL when the repository disk fills up, and the repository stays valid', async () => {
    const d = dir('repofull');
    const image = path.join(d, 'disk.img');
    makeImage(image, 4 << 20, 13);
    const mnt = path.join(d, 'repo-fs');
    tmpfs(mnt, 'size=6m');
    const repo = await engine.init({ path: path.join(mnt, 'repo') });
    const first = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    const sha = sha256(image);
    const big = path.join(d, 'big.img');
    execFileSync('head', ['-c', String(12 << 20), '/dev/urandom'], { stdio: ['ignore', fs.openSync(big, 'w'), 'ignore'] });
    expect(await codeOf(repo.backup({ sources: [{ source: big, readFrom: big }], compressionLevel: 1 }))).toBe('DISK_FULL');
    expect((await repo.listPoints()).map((p) => p.id)).toEqual([first.id]);
    const report = await repo.verify({ data: true });
    expect(report.ok).toBe(true);
    const out = path.join(d, 'out.img');
    await repo.restore({ pointId: first.id, source: image, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha);
    // After space is freed, the next backup succeeds.
    await repo.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false });
    fs.truncateSync(big, 1 << 20);
    await repo.backup({ sources: [{ source: big, readFrom: big }], compressionLevel: 1 });
  });

  it('SOURCE_CHANGED when a tracked source is smaller than its parent, DEVICE_NOT_FOUND when it is gone', async () => {
    const d = dir('shrink');
    const image = path.join(d, 'disk.img');
    makeImage(image, 8 << 20, 14);
    const repo = await engine.init({ path: path.join(d, 'repo') });
    const cbt = { generation: 'g', number: 1, blockSize: 65536 };
    await repo.backup({ sources: [{ source: image, readFrom: image, cbt }], compressionLevel: 1 });
    fs.truncateSync(image, 6 << 20);
    const e = await repo
      .backup({
        sources: [{ source: image, readFrom: image, cbt: { ...cbt, number: 2 }, changes: { generation: 'g', sinceNumber: 1, ranges: [[0, 65536]] } }],
        compressionLevel: 1,
      })
      .catch((x: unknown) => x);
    expect((e as AppError).code).toBe('SOURCE_CHANGED');
    expect((e as AppError).message).toContain(image);
    expect(await codeOf(repo.backup({ sources: [{ source: path.join(d, 'gone'), readFrom: path.join(d, 'gone') }], compressionLevel: 1 }))).toBe('DEVICE_NOT_FOUND');
    expect((await repo.listPoints()).length).toBe(1);
    expect((await repo.verify({ data: true })).ok).toBe(true);
  });
});

describe('read-only repository', () => {
  it('restores and verifies from read-only media; a backup into it fails with READ_ONLY', async () => {
    const d = dir('rorepo');
    const image = path.join(d, 'disk.img');
    makeImage(image, 4 << 20, 15);
    const mnt = path.join(d, 'media');
    tmpfs(mnt, 'size=32m');
    const repo = await engine.init({ path: path.join(mnt, 'repo') });
    const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    await repo.close();
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const ro = await engine.open({ path: path.join(mnt, 'repo') });
    const out = path.join(d, 'out.img');
    await ro.restore({ pointId: p.id, source: image, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha256(image));
    expect((await ro.verify({ data: true })).ok).toBe(true);
    expect(await codeOf(ro.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 }))).toBe('READ_ONLY');
  });
});

describe('cancel', () => {
  it('an aborted backup or restore rejects with CANCELLED and leaves the repository as it was', async () => {
    const d = dir('cancel');
    const image = path.join(d, 'disk.img');
    execFileSync('head', ['-c', String(48 << 20), '/dev/urandom'], { stdio: ['ignore', fs.openSync(image, 'w'), 'ignore'] });
    const repo = await engine.init({ path: path.join(d, 'repo') });
    const ac = new AbortController();
    const phases: string[] = [];
    const p = repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 19, signal: ac.signal, onProgress: (x) => phases.push(x.phase) });
    setTimeout(() => ac.abort(), 100);
    expect(await codeOf(p)).toBe('CANCELLED');
    expect(await repo.listPoints()).toEqual([]);
    expect((await repo.verify({ data: true })).ok).toBe(true);
    const done = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    const ac2 = new AbortController();
    ac2.abort();
    expect(await codeOf(repo.restore({ pointId: done.id, source: image, target: path.join(d, 'out.img'), skipIdentical: false, signal: ac2.signal }))).toBe('CANCELLED');
    expect(fs.readdirSync(path.join(d, 'repo', 'locks'))).toEqual([]);
  });
});
