// The restore refusal "target holds the repository": restoring over the disk
// under the device-mapper volume whose file system holds the repository
// would destroy the backup being read. The host has no device-mapper (and
// cannot load it), so sysfs is mocked here: a fixture tree in which the
// repository's file system (its real st_dev) is dm-0, built on partition 1
// of a disk whose device node the test creates. The VM test 303 does the
// same with a real dm-linear device.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { DeviceDiscovery } from '../../../../electron/core/devices/discovery';
import { majorMinor } from '../../../../electron/core/devices/sysfs';
import { refuseBusyDevice } from '../../../../electron/core/service/restore-target';
import { tempDir } from '../../../support/temp-dirs';

const tmp = tempDir('snapkeep-holds-repo-');
afterAll(tmp.remove);

function file(p: string, text: string): void {
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text + '\n');
}

const repo = path.join(tmp.dir, 'repo');
mkdirSync(repo);
const repoDevno = majorMinor(statSync(repo).dev);

/** sysfs as the kernel lays it out: /sys/devices/..., class/block and dev/block links. */
const sys = path.join(tmp.dir, 'sys');
function device(name: string, dir: string, props: Record<string, string>): void {
  for (const [k, v] of Object.entries(props)) file(path.join(dir, k), v);
  mkdirSync(path.join(sys, 'class/block'), { recursive: true });
  symlinkSync(dir, path.join(sys, 'class/block', name));
  mkdirSync(path.join(sys, 'dev/block'), { recursive: true });
  symlinkSync(dir, path.join(sys, 'dev/block', props['dev'] ?? ''));
}
// Block majors 240-254 are for local use: no real device answers to these numbers.
const disk = path.join(sys, 'devices/virtual/block/sdx');
device('sdx', disk, { dev: '240:0', size: '2097152', removable: '0', ro: '0', 'queue/logical_block_size': '512' });
device('sdx1', path.join(disk, 'sdx1'), { dev: '240:1', size: '2095104', partition: '1', ro: '0' });
device('sdy', path.join(sys, 'devices/virtual/block/sdy'), { dev: '240:16', size: '2097152', removable: '0', ro: '0', 'queue/logical_block_size': '512' });
const dm = path.join(sys, 'devices/virtual/block/dm-0');
device('dm-0', dm, { dev: repoDevno, size: '2095104', ro: '0', 'dm/name': 'backup-vol', 'queue/logical_block_size': '512' });
mkdirSync(path.join(dm, 'slaves'));
symlinkSync(path.join(disk, 'sdx1'), path.join(dm, 'slaves', 'sdx1'));
mkdirSync(path.join(disk, 'sdx1', 'holders'));
symlinkSync(dm, path.join(disk, 'sdx1', 'holders', 'dm-0'));

const devDir = path.join(tmp.dir, 'dev');
mkdirSync(devDir);
for (const [name, minor] of [
  ['sdx', 0],
  ['sdx1', 1],
  ['sdy', 16],
] as const)
  execFileSync('mknod', [path.join(devDir, name), 'b', '240', String(minor)]);
const mountinfo = path.join(tmp.dir, 'mountinfo');
writeFileSync(mountinfo, ''); // the repository's mount is on dm-0, not on the target
const discovery = new DeviceDiscovery({
  roots: { sys, mountinfo, udevData: path.join(tmp.dir, 'udev'), dev: devDir },
  probe: 'none',
  module: async () => ({ loaded: false, problem: 'not needed here' }),
});
const check = { discovery, repositoryPath: repo, liveSources: [], sysRoot: sys };

it('refuses to restore over the disk under the dm device that holds the repository (sysfs mocked: no device-mapper on the host)', async () => {
  const target = path.join(devDir, 'sdx');
  const e = await refuseBusyDevice(target, check).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(AppError);
  expect(e).toMatchObject({ code: 'DEVICE_BUSY', details: { path: target, repositoryPath: repo } });
  expect((e as AppError).message).toBe(`${target} holds the repository being restored from`);
});

it('refuses the partition the repository sits on as in use by its dm device (sysfs mocked)', async () => {
  await expect(refuseBusyDevice(path.join(devDir, 'sdx1'), check)).rejects.toMatchObject({ code: 'DEVICE_BUSY', details: { holders: ['dm-0'] } });
});

it('lets a disk that has nothing to do with the repository through (sysfs mocked)', async () => {
  await expect(refuseBusyDevice(path.join(devDir, 'sdy'), check)).resolves.toBeUndefined();
});
