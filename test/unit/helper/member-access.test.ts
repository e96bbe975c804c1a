// The review's attacks by a member of the helper's group, for real: the
// helper runs as root (startHelper on a socket in a temporary directory);
// the member is uid 65534 with the helper's group among its supplementary
// groups, in a child process (setpriv) talking over the socket. A folder
// only root may enter stands in for /etc (the VM test 303 uses the real
// /etc). polkit is mocked here (no polkitd on the host; the VM test asks
// the real one): the mock says no unless a test grants, and records what
// was asked. Mounting is mocked too (no nbd module on the host): the mount
// is a folder the test fills.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { AppError, type Repository } from '../../../electron/common/contract';
import type { Authorizer } from '../../../electron/core/access/polkit';
import type { MountBackend } from '../../../electron/core/service/mount-manager';
import { startHelper, type RunningHelper } from '../../../electron/helper/serve';
import { connectAs, type MemberClient } from '../../support/member-client';
import { requestAs } from '../../support/raw-socket';
import { tempServiceDirs } from '../../support/temp-dirs';

const GROUP = 'users';
const MEMBER = { uid: 65534, gid: 65534, groups: [65534, 100] };
const tmp = tempServiceDirs();
const home = path.join(tmp.root, 'home'); // the member's
const etc = path.join(tmp.root, 'etc-like'); // root's, 0700 like /etc/sudoers.d
const shadow = path.join(etc, 'shadow');
const bootConf = path.join(etc, 'snapkeep', 'boot.conf'); // stands in for /etc/snapkeep/boot.conf

const asked: Array<{ action: string; uid: number; details: Record<string, string> }> = [];
let grant = false;
const mockPolkit: Authorizer = {
  authorize: async (action, caller, what, details = {}) => {
    asked.push({ action, uid: caller.uid, details });
    if (!grant) throw new AppError('PERMISSION_DENIED', `${what} needs an administrator's authorization (mock polkit said no)`, { action, reason: 'authorization' });
  },
};

/** A point's file systems, as a folder (mocked mount). */
const folderMount: MountBackend = {
  async mount(_repo, o) {
    const fsRoot = path.join(o.baseDir, 'nbd0p1');
    mkdirSync(path.join(fsRoot, 'usr/bin'), { recursive: true });
    writeFileSync(path.join(fsRoot, 'usr/bin/tool'), 'ELF-ish');
    chmodSync(path.join(fsRoot, 'usr/bin/tool'), 0o4755);
    execFileSync('setfattr', ['-n', 'user.origin', '-v', 'backup', path.join(fsRoot, 'usr/bin/tool')]);
    execFileSync('setfattr', ['-n', 'trusted.origin', '-v', 'root-only', path.join(fsRoot, 'usr/bin/tool')]);
    utimesSync(path.join(fsRoot, 'usr/bin'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    writeFileSync(path.join(fsRoot, 'ld.so.preload'), '/home/m/evil.so\n');
    return { device: '/dev/nbd0', filesystems: [{ device: '/dev/nbd0p1', fsType: 'ext4', mountpoint: fsRoot }], finished: new Promise(() => undefined), unmount: async () => undefined };
  },
  release: async () => undefined,
};

let helper: RunningHelper;
let m: MemberClient;
let repo: Repository;
let pointId: string;
const image = path.join(home, 'p.img');
const CONTENT = Buffer.concat([Buffer.from('m ALL=(ALL) NOPASSWD: ALL\n'), Buffer.alloc(64 * 1024 - 26, 7)]);

const code = (p: Promise<unknown>) => p.then(() => 'succeeded', (e: AppError) => e.code);
const asMember = (cmd: string, ...args: string[]) =>
  execFileSync('setpriv', [`--reuid=${MEMBER.uid}`, `--regid=${MEMBER.gid}`, '--clear-groups', cmd, ...args]);
const job = (name: string, sources: string[], extra: object = {}) => ({
  job: { name, sources, repositoryId: repo.id, schedule: { kind: 'manual' as const }, retention: { keepLast: 9, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 3, enabled: true, ...extra },
});

beforeAll(async () => {
  chmodSync(tmp.root, 0o755);
  mkdirSync(home, { mode: 0o755 });
  chownSync(home, MEMBER.uid, MEMBER.gid);
  mkdirSync(etc, { mode: 0o700 });
  writeFileSync(shadow, 'root:$6$SECRETHASH:19000:0:99999:7:::\n', { mode: 0o600 });
  helper = await startHelper({
    dirs: tmp.dirs,
    socketPath: path.join(tmp.root, 'helper.sock'),
    socketMode: 0o666,
    group: GROUP,
    service: { authorizer: mockPolkit, mountBackend: folderMount, tracking: { config: bootConf, storeDir: path.join(etc, 'maps') } },
  });
  m = await connectAs(path.join(tmp.root, 'helper.sock'), MEMBER);
  writeFileSync(image, CONTENT);
  chownSync(image, MEMBER.uid, MEMBER.gid);
  repo = await m.client.call('repos.init', { name: 'mine', path: path.join(home, 'repo') });
  const j = await m.client.call('jobs.create', job('own image', [image]));
  const t = await m.waitTask((await m.client.call('jobs.run', { id: j.id })).taskId);
  expect(t.error).toBeUndefined();
  pointId = t.result?.['pointId'] as string;
});
afterAll(async () => {
  await m?.close();
  await helper?.stop();
  tmp.remove();
});
beforeEach(() => {
  grant = false;
  asked.length = 0;
});

describe('a member of the helper group is not root', () => {
  it('creates repositories as itself: the folder is the member’s', () => {
    expect(statSync(repo.path).uid).toBe(MEMBER.uid);
  });

  it('records who created a job', async () => {
    const jobs = await m.client.call('jobs.list', {});
    expect(jobs.map((j) => j.ownerUid)).toEqual([MEMBER.uid]);
  });

  it('cannot back up a file only root may read (as /etc/shadow)', async () => {
    const e = await m.client.call('jobs.create', job('shadow', [shadow])).catch((x: AppError) => x);
    expect(e).toMatchObject({ code: 'PERMISSION_DENIED', message: `you may not read ${shadow}` });
  });

  it('cannot restore over a file in a folder only root may write (as /etc/sudoers.d/x); nothing is created', async () => {
    const target = path.join(etc, 'x');
    const e = await m.client
      .call('restore.start', { repositoryId: repo.id, pointId, source: image, target, skipIdentical: false, confirm: target })
      .catch((x: AppError) => x);
    expect(e).toMatchObject({ code: 'PERMISSION_DENIED', message: `you may not write ${target}` });
    expect(existsSync(target)).toBe(false);
  });

  it('cannot restore over a file it may not write, even in its own folder', async () => {
    const rootsFile = path.join(home, 'roots-file');
    writeFileSync(rootsFile, 'root wrote this', { mode: 0o644 });
    expect(await code(m.client.call('restore.start', { repositoryId: repo.id, pointId, source: image, target: rootsFile, skipIdentical: false, confirm: rootsFile }))).toBe('PERMISSION_DENIED');
    expect(readFileSync(rootsFile, 'utf8')).toBe('root wrote this');
  });

  it('restores into a new file of its own: created by the member, 0600, the point’s bytes', async () => {
    const target = path.join(home, 'restored.img');
    const t = await m.waitTask((await m.client.call('restore.start', { repositoryId: repo.id, pointId, source: image, target, skipIdentical: false, confirm: target })).taskId);
    expect(t.error).toBeUndefined();
    const st = lstatSync(target);
    expect([st.uid, st.mode & 0o7777]).toEqual([MEMBER.uid, 0o600]);
    expect(readFileSync(target).equals(CONTENT)).toBe(true);
  });

  it('does not restore through a symlink planted at the target', async () => {
    const link = path.join(home, 'link-to-root-file');
    const victim = path.join(tmp.root, 'victim');
    writeFileSync(victim, 'untouched', { mode: 0o666 });
    asMember('ln', '-s', victim, link);
    const e = await m.client.call('restore.start', { repositoryId: repo.id, pointId, source: image, target: link, skipIdentical: false, confirm: link }).catch((x: AppError) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', message: `${link} is a symbolic link: name the file it points to` });
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
  });

  it('a job whose image file is swapped for a link to a root-only file fails at run time and stores nothing of it', async () => {
    const swapped = path.join(home, 'swap.img');
    writeFileSync(swapped, 'harmless');
    chownSync(swapped, MEMBER.uid, MEMBER.gid);
    const j = await m.client.call('jobs.create', job('swap', [swapped]));
    asMember('ln', '-sf', shadow, swapped);
    const before = (await m.client.call('points.list', { repositoryId: repo.id })).length;
    const t = await m.waitTask((await m.client.call('jobs.run', { id: j.id })).taskId);
    expect(t.state).toBe('failed');
    expect(t.error).toMatchObject({ code: 'PERMISSION_DENIED', message: `you may not read ${swapped}` });
    expect((await m.client.call('points.list', { repositoryId: repo.id })).length).toBe(before);
  });

  it('keeps snapshot data in a folder of its choosing only with authorization (polkit mocked), and never in one others can change', async () => {
    const storage = (directory: string) => job('live', [image], { snapshotStorage: { directory, maxBytes: 1 << 24, allowOnSnapshotted: false } });
    const e = await m.client.call('jobs.create', storage(etc)).catch((x: AppError) => x);
    expect(e).toMatchObject({ code: 'PERMISSION_DENIED', details: { action: 'org.snapkeep.storage-directory' } });
    expect(asked).toEqual([{ action: 'org.snapkeep.storage-directory', uid: MEMBER.uid, details: { directory: etc } }]);
    // Its own folder: the member could swap the files the module writes to.
    expect(await m.client.call('jobs.create', storage(home)).catch((x: AppError) => x.message)).toMatch(/must be a folder only root can change, and .* is owned by uid 65534/);
    grant = true;
    const ok = await m.client.call('jobs.create', storage(etc));
    expect(ok.snapshotStorage?.directory).toBe(etc);
  });

  it('cannot register or read a repository only root may read', async () => {
    const rootRepo = await helper.service.repos.init('root', path.join(etc, 'repo'));
    expect(await code(m.client.call('repos.add', { name: 'theirs', path: path.join(etc, 'repo2') }))).toBe('PERMISSION_DENIED');
    expect(await code(m.client.call('points.list', { repositoryId: rootRepo.id }))).toBe('PERMISSION_DENIED');
    const target = path.join(home, 'from-root.img');
    expect(await code(m.client.call('restore.start', { repositoryId: rootRepo.id, pointId, source: image, target, skipIdentical: false, confirm: target }))).toBe('PERMISSION_DENIED');
    expect(await code(m.client.call('jobs.create', { job: { ...job('into root repo', [image]).job, repositoryId: rootRepo.id } }))).toBe('PERMISSION_DENIED');
  });

  it('restores over a block device only with authorization (polkit mocked)', async () => {
    const backing = path.join(tmp.root, 'disk.raw');
    writeFileSync(backing, Buffer.alloc(CONTENT.length, 0xee));
    const loop = execFileSync('losetup', ['-f', '--show', backing]).toString().trim();
    try {
      const start = () => m.client.call('restore.start', { repositoryId: repo.id, pointId, source: image, target: loop, skipIdentical: false, confirm: loop });
      expect(await start().catch((x: AppError) => x)).toMatchObject({ code: 'PERMISSION_DENIED', details: { action: 'org.snapkeep.restore-device' } });
      expect(asked).toEqual([{ action: 'org.snapkeep.restore-device', uid: MEMBER.uid, details: { device: loop } }]);
      expect(readFileSync(backing).every((b) => b === 0xee)).toBe(true);
      grant = true;
      const t = await m.waitTask((await start()).taskId);
      expect(t.error).toBeUndefined();
      expect(readFileSync(loop).equals(CONTENT)).toBe(true);
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });

  it('changes which disks are tracked from boot only with authorization (polkit mocked); nothing reaches the boot config without a module', async () => {
    const keep = () => m.client.call('tracking.keep', { device: '/dev/loop0', keep: true });
    expect(await keep().catch((x: AppError) => x)).toMatchObject({ code: 'PERMISSION_DENIED', details: { action: 'org.snapkeep.keep-change-map' } });
    expect(asked).toEqual([{ action: 'org.snapkeep.keep-change-map', uid: MEMBER.uid, details: { device: '/dev/loop0' } }]);
    grant = true;
    // Allowed, it still needs the module (not loadable on the host): the task says so, and writes nothing.
    const t = await m.waitTask((await keep()).taskId);
    expect(t.error?.code).toBe('MODULE_NOT_LOADED');
    expect(existsSync(bootConf)).toBe(false);
  });

  it('mounts a restore point only with authorization (polkit mocked), and only it browses that mount', async () => {
    const params = { repositoryId: repo.id, pointId, source: image };
    expect(await m.client.call('mounts.mount', params).catch((x: AppError) => x)).toMatchObject({ code: 'PERMISSION_DENIED', details: { action: 'org.snapkeep.mount-point' } });
    const byRoot = await helper.service.mount(repo.id, pointId, image);
    expect(await code(m.client.call('files.list', { mountId: byRoot.id, path: byRoot.filesystems[0]?.mountpoint ?? '/' }))).toBe('PERMISSION_DENIED');
    await helper.service.mounts.unmount(byRoot.id);
  });

  it('copies out of a point only where it may write, as itself, without setuid bits, never through a planted link', async () => {
    grant = true;
    const mnt = await m.client.call('mounts.mount', { repositoryId: repo.id, pointId, source: image });
    const root = mnt.filesystems[0]?.mountpoint ?? '';
    const preload = path.join(root, 'ld.so.preload');
    try {
      // Into a folder only root may write (as /etc): refused, nothing there.
      const t1 = await m.waitTask((await m.client.call('files.copy', { mountId: mnt.id, paths: [preload], destination: etc })).taskId);
      expect(t1.error).toMatchObject({ code: 'PERMISSION_DENIED' });
      expect(existsSync(path.join(etc, 'ld.so.preload'))).toBe(false);
      // Into its own folder, where a link with the file's name points at a root file.
      const dest = path.join(home, 'out');
      asMember('mkdir', dest);
      const victim = path.join(tmp.root, 'victim2');
      writeFileSync(victim, 'untouched', { mode: 0o666 });
      asMember('ln', '-s', victim, path.join(dest, 'tool'));
      const t2 = await m.waitTask((await m.client.call('files.copy', { mountId: mnt.id, paths: [path.join(root, 'usr/bin/tool')], destination: dest })).taskId);
      expect(t2.error).toBeUndefined();
      expect(readFileSync(victim, 'utf8')).toBe('untouched');
      expect(readlinkSync(path.join(dest, 'tool'))).toBe(victim);
      const copy = lstatSync(path.join(dest, 'tool (restored)'));
      expect([copy.uid, copy.gid, copy.mode & 0o7777]).toEqual([MEMBER.uid, MEMBER.gid, 0o755]);
      // user.* attributes come along, trusted.* (like security.*) never.
      const attrs = execFileSync('getfattr', ['-d', '-m', '-', path.join(dest, 'tool (restored)')]).toString();
      expect(attrs).toContain('user.origin="backup"');
      expect(attrs).not.toContain('trusted.origin');
      // A folder gets its times after its contents are in.
      const t3 = await m.waitTask((await m.client.call('files.copy', { mountId: mnt.id, paths: [path.join(root, 'usr/bin')], destination: dest })).taskId);
      expect(t3.error).toBeUndefined();
      expect(lstatSync(path.join(dest, 'bin')).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    } finally {
      await m.client.call('mounts.unmount', { id: mnt.id });
    }
  });

  it('stays out of the helper when not in the group', async () => {
    const replies = await requestAs(path.join(tmp.root, 'helper.sock'), { uid: 65534, gid: 65534, groups: [65534] }, { jsonrpc: '2.0', id: 1, method: 'jobs.list', params: {} });
    expect(replies).toMatchObject([{ id: null, error: { data: { code: 'PERMISSION_DENIED' } } }]);
  });
});
