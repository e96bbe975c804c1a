// File restore through the service: mounts.* and files.* with the real
// engine and repository, and the mount itself replaced by a directory the
// test fills (serving a point over NBD and mounting it needs the nbd module:
// the VM tests 200 and 301 do that). What is checked here is the service's
// part: confinement to the mount, symlinks never followed, copies that
// never overwrite and belong to the user who asked, and release of mounts a
// killed service left.
import { randomBytes } from 'node:crypto';
import { chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Mount } from '../../../../electron/common/contract';
import { copyFiles } from '../../../../electron/core/service/file-browser';
import type { MountBackend } from '../../../../electron/core/service/mount-manager';
import { Service } from '../../../../electron/core/service/service';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';
import { tempDir } from '../../../support/temp-dirs';

let s: ServiceClient;
let mount: Mount;
const released: string[] = [];
const unmounted: string[] = [];

/** Lays out what a mounted ext4 of the point would show. */
const dirBackend: MountBackend = {
  async mount(_repo, o) {
    const fsRoot = path.join(o.baseDir, 'nbd0p1');
    mkdirSync(path.join(fsRoot, 'home/alice/Documents'), { recursive: true });
    writeFileSync(path.join(fsRoot, 'home/alice/Documents/Report.txt'), 'quarterly numbers');
    writeFileSync(path.join(fsRoot, 'home/alice/notes.md'), '# notes');
    symlinkSync('/etc', path.join(fsRoot, 'home/alice/etc-link'));
    symlinkSync('../../../etc/shadow', path.join(fsRoot, 'home/alice/shadow-link'));
    return {
      device: '/dev/nbd0',
      filesystems: [{ device: '/dev/nbd0p1', fsType: 'ext4', mountpoint: fsRoot }, { device: '/dev/nbd0p2', fsType: 'swap' }],
      finished: new Promise(() => undefined),
      unmount: async () => void unmounted.push('/dev/nbd0'),
    };
  },
  release: async (device) => void released.push(device),
};

beforeEach(async () => {
  released.length = 0;
  unmounted.length = 0;
  s = await openServiceClient({ mountBackend: dirBackend });
  const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
  const img = path.join(s.dirs.root, 'disk.img');
  writeFileSync(img, randomBytes(1 << 20));
  const job = await s.client.call('jobs.create', {
    job: { name: 'j', sources: [img], repositoryId: repo.id, schedule: { kind: 'manual' }, retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 3, enabled: true },
  });
  const t = await s.waitTask((await s.client.call('jobs.run', { id: job.id })).taskId);
  mount = await s.client.call('mounts.mount', { repositoryId: repo.id, pointId: t.result?.['pointId'] as string, source: img });
});
afterEach(() => s.close());

const root = () => mount.filesystems[0]?.mountpoint ?? '';

describe('file restore', () => {
  it('mounts under the runtime directory, which only root may enter', async () => {
    expect(root().startsWith(path.join(s.dirs.dirs.runtime, 'restore', mount.id))).toBe(true);
    expect(lstatSync(path.join(s.dirs.dirs.runtime, 'restore')).mode & 0o777).toBe(0o700);
    expect(await s.client.call('mounts.list', {})).toEqual([mount]);
  });

  it('lists directories first, symlinks as symlinks, and refuses paths outside the mount', async () => {
    const entries = await s.client.call('files.list', { mountId: mount.id, path: path.join(root(), 'home/alice') });
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['Documents', 'dir'],
      ['etc-link', 'symlink'],
      ['notes.md', 'file'],
      ['shadow-link', 'symlink'],
    ]);
    for (const outside of ['/etc', path.join(root(), 'home/alice/etc-link'), path.join(root(), 'home/alice/shadow-link'), s.dirs.root])
      await expect(s.client.call('files.list', { mountId: mount.id, path: outside })).rejects.toMatchObject({ code: expect.stringMatching(/INVALID_ARGUMENT|NOT_FOUND/) });
    await expect(s.client.call('files.list', { mountId: 'm-none', path: root() })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('searches names case-insensitively, up to the limit', async () => {
    const found = await s.client.call('files.search', { mountId: mount.id, query: 'REPORT', limit: 10 });
    expect(found.map((f) => f.path)).toEqual([path.join(root(), 'home/alice/Documents/Report.txt')]);
    expect(await s.client.call('files.search', { mountId: mount.id, query: 'e', limit: 2 })).toHaveLength(2);
  });

  it('copies files and folders out without overwriting, links as links', async () => {
    const dest = path.join(s.dirs.root, 'restored');
    mkdirSync(dest);
    writeFileSync(path.join(dest, 'notes.md'), 'mine, newer');
    const t = await s.waitTask(
      (await s.client.call('files.copy', { mountId: mount.id, paths: [path.join(root(), 'home/alice/notes.md'), path.join(root(), 'home/alice/Documents'), path.join(root(), 'home/alice/shadow-link')], destination: dest })).taskId,
    );
    expect(t.error).toBeUndefined();
    expect(readFileSync(path.join(dest, 'notes.md'), 'utf8')).toBe('mine, newer');
    expect(readFileSync(path.join(dest, 'notes (restored).md'), 'utf8')).toBe('# notes');
    expect(readFileSync(path.join(dest, 'Documents/Report.txt'), 'utf8')).toBe('quarterly numbers');
    expect(readlinkSync(path.join(dest, 'shadow-link'))).toBe('../../../etc/shadow');
  });

  it('makes the copies as the user who asked, so they are theirs', async () => {
    const dest = tempDir('snapkeep-copy-');
    try {
      chownSync(dest.dir, 65534, 65534);
      await copyFiles([path.join(root(), 'home/alice/Documents')], [root()], dest.dir, { as: { uid: 65534, gid: 65534, groups: [65534] } });
      for (const p of ['Documents', 'Documents/Report.txt']) expect(lstatSync(path.join(dest.dir, p))).toMatchObject({ uid: 65534, gid: 65534 });
    } finally {
      dest.remove();
    }
  });

  it('unmounts, and releases at the next start what a killed service left mounted', async () => {
    await s.client.call('mounts.unmount', { id: mount.id });
    expect(unmounted).toEqual(['/dev/nbd0']);
    expect(await s.client.call('mounts.list', {})).toEqual([]);
    await expect(s.client.call('files.list', { mountId: mount.id, path: root() })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // A mount made and never unmounted (the service is then dropped without close, as by SIGKILL).
    const repo = (await s.client.call('repos.list', {}))[0];
    const point = (await s.client.call('points.list', { repositoryId: repo?.id ?? '' }))[0];
    await s.client.call('mounts.mount', { repositoryId: repo?.id ?? '', pointId: point?.id ?? '', source: point?.devices[0]?.source ?? '' });
    // SIGKILL also leaves the instance lock behind with a dead pid, which the
    // next start takes over; the first service lives on in this process, so
    // its lock is dropped by hand.
    rmSync(path.join(s.dirs.dirs.state, 'service.lock'));
    const again = await Service.open({ kind: 'helper', dirs: s.dirs.dirs, recover: true, mountBackend: dirBackend });
    try {
      expect(released).toEqual(['/dev/nbd0']);
    } finally {
      await again.close();
    }
  });
});
