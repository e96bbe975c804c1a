// Difference storage on the host's real file system: preallocated files,
// their extents as sector ranges on the right block device, growth up to the
// maximum, and refusal of a place that is itself being snapshotted.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { majorMinor, nameOfDevno } from '../../../../electron/core/devices/sysfs';
import { DiffStorage, stepBytes } from '../../../../electron/core/snapshot/diff-storage';
import { tempDir } from '../../../support/temp-dirs';

const MiB = 1 << 20;
let tmp: ReturnType<typeof tempDir>;
let hostDev: string;
beforeEach(async () => {
  tmp = tempDir('snapkeep-diff-');
  hostDev = (await nameOfDevno('/sys', majorMinor(statSync(tmp.dir).dev))) ?? 'unknown';
});
afterEach(() => tmp.remove());

describe('DiffStorage', () => {
  it('allocates in steps up to the maximum, as sector ranges on the device under the directory', async () => {
    const files: string[] = [];
    const { storage, first } = await DiffStorage.create({
      directory: path.join(tmp.dir, 'diff'),
      maxBytes: 40 * MiB,
      allowOnSnapshotted: false,
      snapshotDevices: ['loop-not-here'],
      runId: 'run-1',
      onFile: async (f) => void files.push(f),
    });
    expect(stepBytes(40 * MiB)).toBe(16 * MiB);
    expect(first.device).toBe(`/dev/${hostDev}`);
    expect(first.ranges.reduce((n, r) => n + r.count, 0) * 512).toBe(16 * MiB);
    expect(first.file).toBe(path.join(tmp.dir, 'diff', 'snapkeep-diff-run-1-0'));
    const second = await storage.grow(1);
    const third = await storage.grow(1);
    expect([second?.bytes, third?.bytes]).toEqual([16 * MiB, 8 * MiB]);
    expect(await storage.grow(1)).toBeNull();
    expect(storage.allocatedBytes).toBe(40 * MiB);
    expect(files).toEqual(storage.files);
    await storage.remove();
    for (const f of files) expect(() => statSync(f)).toThrow();
  });

  it('keeps its files while a snapshot holds it (the module may still write into their blocks)', async () => {
    const { storage, first } = await DiffStorage.create({
      directory: path.join(tmp.dir, 'diff'),
      maxBytes: 16 * MiB,
      allowOnSnapshotted: false,
      snapshotDevices: ['loop-not-here'],
      runId: 'run-held',
    });
    storage.hold();
    await expect(storage.remove()).rejects.toMatchObject({ code: 'DEVICE_BUSY' });
    expect(statSync(first.file).size).toBe(16 * MiB);
    storage.release();
    await storage.remove();
    expect(() => statSync(first.file)).toThrow();
  });

  it('refuses a directory on a device that is being snapshotted unless the job allows it', async () => {
    const opts = { directory: tmp.dir, maxBytes: 16 * MiB, snapshotDevices: [hostDev], runId: 'r' };
    await expect(DiffStorage.create({ ...opts, allowOnSnapshotted: false })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining(`is on ${hostDev}, which is being snapshotted`),
    });
    const ok = await DiffStorage.create({ ...opts, allowOnSnapshotted: true });
    expect(ok.first.device).toBe(`/dev/${hostDev}`);
    await ok.storage.remove();
  });

  it('refuses memory file systems, which have no blocks to hand to the module', async () => {
    await expect(
      DiffStorage.create({ directory: '/dev/shm/snapkeep-test-diff', maxBytes: 16 * MiB, allowOnSnapshotted: false, snapshotDevices: [], runId: 'r' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('not on a block device') });
  });

  it('fails with DISK_FULL before allocating when the file system lacks the space (a small ext4 on a loop device)', async () => {
    const img = path.join(tmp.dir, 'small.img');
    const mnt = path.join(tmp.dir, 'mnt');
    execFileSync('truncate', ['-s', '32M', img]);
    execFileSync('mkfs.ext4', ['-q', '-F', img]);
    mkdirSync(mnt);
    execFileSync('mount', ['-o', 'loop', img, mnt]);
    try {
      const { storage, first } = await DiffStorage.create({ directory: mnt, maxBytes: 64 * MiB, allowOnSnapshotted: false, snapshotDevices: [], runId: 'r' });
      expect(first.device).toMatch(/^\/dev\/loop\d+$/);
      await expect(storage.grow(1)).rejects.toMatchObject({ code: 'DISK_FULL', message: expect.stringContaining(`not enough free space for snapshot storage in ${mnt}`) });
      expect(storage.files).toHaveLength(1);
      await storage.remove();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
