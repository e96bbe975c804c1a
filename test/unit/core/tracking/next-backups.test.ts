// Which jobs back up a tracked device and what their next run reads: a job
// may name the device by a /dev/disk/by-id link, and a job with several
// sources is judged by the mark of the source that is this device.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import type { CbtMark } from '../../../../electron/core/runner/cbt-state';
import { nextBackups } from '../../../../electron/core/tracking/next-backups';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'next-backups-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// A stand-in /dev: two device nodes (regular files do for realpath) and by-id links.
const sda = path.join(dir, 'sda');
const sdb = path.join(dir, 'sdb');
fs.writeFileSync(sda, '');
fs.writeFileSync(sdb, '');
fs.mkdirSync(path.join(dir, 'by-id'));
const sdaById = path.join(dir, 'by-id', 'ata-DISK_A');
const sdbById = path.join(dir, 'by-id', 'ata-DISK_B');
fs.symlinkSync('../sda', sdaById);
fs.symlinkSync('../sdb', sdbById);

const mark = (generation: string): CbtMark => ({ generation, number: 3, blockSize: 4096, pointId: 'p1' });

describe('nextBackups', () => {
  it('finds a job that names the device by a by-id link', async () => {
    const jobs = [{ id: 'j1', name: 'laptop', sources: [sdaById] }];
    const marks: Record<string, CbtMark> = { [`j1 ${sdaById}`]: mark('g-a') };
    const r = await nextBackups({ device: sda, generation: 'g-a' }, jobs, (j, s) => marks[`${j} ${s}`]);
    expect(r).toEqual([{ jobId: 'j1', jobName: 'laptop', reads: 'changes' }]);
  });

  it('judges each device by its own source mark in a job with two sources', async () => {
    const jobs = [{ id: 'j1', name: 'both', sources: [sda, sdb] }];
    // sdb's last backup is of its current generation; sda's map started over since.
    const marks: Record<string, CbtMark> = { [`j1 ${sda}`]: mark('g-a-old'), [`j1 ${sdb}`]: mark('g-b') };
    const get = (j: string, s: string): CbtMark | undefined => marks[`${j} ${s}`];
    expect(await nextBackups({ device: sdb, generation: 'g-b' }, jobs, get)).toEqual([{ jobId: 'j1', jobName: 'both', reads: 'changes' }]);
    expect(await nextBackups({ device: sda, generation: 'g-a' }, jobs, get)).toEqual([{ jobId: 'j1', jobName: 'both', reads: 'whole-device' }]);
  });

  it('leaves out jobs of other devices and reads everything without a mark or a generation', async () => {
    const jobs = [
      { id: 'j1', name: 'other', sources: [sdbById] },
      { id: 'j2', name: 'first run', sources: [sda] },
      { id: 'j3', name: 'by config name', sources: ['/dev/disk/by-id/as-configured'] },
    ];
    const r = await nextBackups({ device: sda, configuredAs: '/dev/disk/by-id/as-configured' }, jobs, () => mark('g'));
    expect(r).toEqual([
      { jobId: 'j2', jobName: 'first run', reads: 'whole-device' },
      { jobId: 'j3', jobName: 'by config name', reads: 'whole-device' },
    ]);
  });

  it('a source that no longer resolves only matches by its exact name', async () => {
    const gone = path.join(dir, 'by-id', 'gone');
    const jobs = [{ id: 'j1', name: 'gone', sources: [gone] }];
    expect(await nextBackups({ device: sda, generation: 'g' }, jobs, () => mark('g'))).toEqual([]);
  });
});
