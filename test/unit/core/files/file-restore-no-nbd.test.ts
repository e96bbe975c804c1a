// File restore on a host without the nbd module (this CI machine has none:
// the real case). The restore point's disk is exported as a file through
// FUSE (nbdfuse) and its file systems are opened the best way there is:
// ext4 and xfs through a read-only loop mount (root), ext4 through fuse2fs
// and FAT through mtools in user space (the host kernel has no vfat). Real
// engine, real service, real tools; list, search, copy a folder out, and
// nothing left mounted or attached afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Mount } from '../../../../electron/common/contract';
import { fileRestoreBackend } from '../../../../electron/core/files/backend';
import { openServiceClient, type ServiceClient } from '../../../support/service-client';
import { BEACH, OLD, ext4Image, fatImage, makeTree, partitionedDisk, xfsImage } from './images';

let dir: string;
const images: Record<string, string> = {};

beforeAll(() => {
  expect(process.getuid?.(), 'the xfs image is filled through a loop mount: run as root').toBe(0);
  dir = mkdtempSync(path.join(tmpdir(), 'sk-files-'));
  const tree = makeTree(dir);
  images['ext4'] = ext4Image(dir, tree);
  images['xfs'] = xfsImage(dir, tree);
  images['fat'] = fatImage(dir);
  images['disk'] = partitionedDisk(dir, tree);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Backs `image` up into a fresh service with the given file readers, mounts the point. */
async function opened(image: string, prefer: 'kernel' | 'user-space'): Promise<{ s: ServiceClient; mount: Mount }> {
  const s = await openServiceClient({ mountBackend: fileRestoreBackend({ nbd: false, prefer }) });
  const repo = await s.client.call('repos.init', { name: 'r', path: path.join(s.dirs.root, 'repo') });
  const job = await s.client.call('jobs.create', {
    job: {
      name: 'files',
      sources: [image],
      repositoryId: repo.id,
      schedule: { kind: 'manual' },
      retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
      compressionLevel: 1,
      enabled: true,
    },
  });
  const { taskId } = await s.client.call('jobs.run', { id: job.id });
  expect((await s.waitTask(taskId)).state).toBe('succeeded');
  const [point] = await s.client.call('points.list', { repositoryId: repo.id });
  const mount = await s.client.call('mounts.mount', { repositoryId: repo.id, pointId: point!.id, source: image });
  return { s, mount };
}

/** FUSE mounts and loop devices still there for a point's folder or exported disk. */
function leftovers(mount: Mount): string[] {
  const base = path.dirname(path.dirname(mount.device));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(base));
  const loops = execFileSync('losetup', ['-j', mount.device], { encoding: 'utf8' }).trim();
  return [...mounts, ...(loops ? [loops] : [])];
}

async function copyOut(s: ServiceClient, mount: Mount, paths: string[]): Promise<string> {
  const dest = mkdtempSync(path.join(dir, 'out-'));
  const { taskId } = await s.client.call('files.copy', { mountId: mount.id, paths, destination: dest });
  const t = await s.waitTask(taskId);
  expect(t.error).toBeUndefined();
  expect(t.state).toBe('succeeded');
  return dest;
}

const CASES = [
  { name: 'ext4 through a read-only loop mount', image: 'ext4', prefer: 'kernel', reader: 'kernel', fsType: 'ext4' },
  { name: 'ext4 in user space (fuse2fs)', image: 'ext4', prefer: 'user-space', reader: 'fuse2fs', fsType: 'ext4' },
  { name: 'xfs through a read-only loop mount', image: 'xfs', prefer: 'kernel', reader: 'kernel', fsType: 'xfs' },
] as const;

describe('file restore without the nbd module', () => {
  for (const c of CASES) {
    it(`${c.name}: lists, searches, copies a folder with its files, and leaves nothing mounted`, async () => {
      const { s, mount } = await opened(images[c.image]!, c.prefer);
      try {
        expect(mount.access).toBe('export');
        const [fsys] = mount.filesystems;
        expect(fsys).toMatchObject({ fsType: c.fsType, reader: c.reader, label: 'photos' });
        const root = fsys!.mountpoint!;
        const top = await s.client.call('files.list', { mountId: mount.id, path: root });
        expect(top.map((e) => `${e.type}:${e.name}`)).toEqual(expect.arrayContaining(['dir:albums', 'dir:bin', 'symlink:shadow']));
        const found = await s.client.call('files.search', { mountId: mount.id, query: 'BEACH', limit: 10 });
        expect(found.map((e) => e.path)).toEqual([`${root}/albums/2024/beach.txt`]);
        // a link in the backup is never followed: listing it names the link, not /etc/shadow
        const [link] = await s.client.call('files.list', { mountId: mount.id, path: `${root}/shadow` }).catch(() => [undefined]);
        if (link) expect(link.type).toBe('symlink');

        const dest = await copyOut(s, mount, [`${root}/albums`, `${root}/bin/tool`]);
        const beach = path.join(dest, 'albums/2024/beach.txt');
        expect(readFileSync(beach, 'utf8')).toBe(BEACH);
        expect(statSync(beach).mtime.getTime()).toBe(OLD.getTime());
        expect(readFileSync(path.join(dest, 'albums/cover.txt'), 'utf8')).toBe('cover\n');
        // a folder keeps its time (set after its contents), a file its user.* xattrs
        expect(statSync(path.join(dest, 'albums/2024')).mtime.getTime()).toBe(OLD.getTime());
        expect(execFileSync('getfattr', ['--only-values', '-n', 'user.rating', beach], { encoding: 'utf8' })).toBe('five stars');
        // setuid is never restored
        expect(statSync(path.join(dest, 'tool')).mode & 0o7777).toBe(0o755);
      } finally {
        await s.client.call('mounts.unmount', { id: mount.id }).catch(() => undefined);
        expect(leftovers(mount)).toEqual([]);
        expect(existsSync(mount.device)).toBe(false);
        await s.close();
      }
    });
  }

  it('FAT in user space (mtools; this kernel has no vfat): lists, searches, copies with long names and times', async () => {
    expect(readFileSync('/proc/filesystems', 'utf8')).not.toMatch(/\bvfat\b/);
    const { s, mount } = await opened(images['fat']!, 'kernel');
    try {
      const [fsys] = mount.filesystems;
      // root, and still user space: the kernel cannot read FAT here
      expect(fsys).toMatchObject({ fsType: 'vfat', reader: 'mtools' });
      const root = fsys!.mountpoint!;
      const albums = await s.client.call('files.list', { mountId: mount.id, path: `${root}/albums` });
      expect(albums.map((e) => `${e.type}:${e.name}`).sort()).toEqual(['dir:2024', 'file:Cover Photo.txt']);
      const found = await s.client.call('files.search', { mountId: mount.id, query: 'cover', limit: 10 });
      expect(found).toMatchObject([{ path: `${root}/albums/Cover Photo.txt`, sizeBytes: 6, type: 'file' }]);
      const dest = await copyOut(s, mount, [`${root}/albums`]);
      expect(readFileSync(path.join(dest, 'albums/2024/beach.txt'), 'utf8')).toBe(BEACH);
      expect(readFileSync(path.join(dest, 'albums/Cover Photo.txt'), 'utf8')).toBe('cover\n');
      expect(statSync(path.join(dest, 'albums/2024/beach.txt')).mtime.getTime()).toBe(OLD.getTime());
      // refused outside the point, even through the user-space reader
      await expect(s.client.call('files.list', { mountId: mount.id, path: '/etc' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      await s.client.call('mounts.unmount', { id: mount.id }).catch(() => undefined);
      expect(leftovers(mount)).toEqual([]);
      await s.close();
    }
  });

  it('a partitioned disk: each partition at its offset, ext4 and FAT side by side', async () => {
    const { s, mount } = await opened(images['disk']!, 'user-space');
    try {
      expect(mount.filesystems.map((f) => [f.fsType, f.reader])).toEqual([
        ['ext4', 'fuse2fs'],
        ['vfat', 'mtools'],
      ]);
      const [p1, p2] = mount.filesystems.map((f) => f.mountpoint!);
      const found = await s.client.call('files.search', { mountId: mount.id, query: 'beach', limit: 10 });
      expect(found.map((e) => e.path).sort()).toEqual([`${p1}/albums/2024/beach.txt`, `${p2}/albums/2024/beach.txt`]);
      const dest = await copyOut(s, mount, [`${p2}/albums/Cover Photo.txt`, `${p1}/albums/cover.txt`]);
      expect(readdirSync(dest).sort()).toEqual(['Cover Photo.txt', 'cover.txt']);
    } finally {
      await s.client.call('mounts.unmount', { id: mount.id }).catch(() => undefined);
      expect(leftovers(mount)).toEqual([]);
      await s.close();
    }
  });
});

