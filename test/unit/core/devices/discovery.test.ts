// Device discovery from sysfs and the mount table: a fixture tree with a
// disk and its partitions, a dm device and an unused loop device, and the
// host's own /sys (whatever is there must come out valid and consistent).
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { Device } from '../../../../electron/common/contract';
import { DeviceDiscovery } from '../../../../electron/core/devices/discovery';
import { parseMountinfo } from '../../../../electron/core/devices/mountinfo';
import { blockAncestry } from '../../../../electron/core/devices/sysfs';
import { tempDir } from '../../../support/temp-dirs';

const tmp = tempDir('snapkeep-sysfs-');
afterAll(tmp.remove);

function file(p: string, text: string): void {
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text + '\n');
}

/** /sys/devices/... with class/block symlinks, as the kernel lays it out. */
function fixture(): { sys: string; mountinfo: string; udev: string } {
  const sys = path.join(tmp.dir, 'sys');
  const dev = (name: string, dir: string, props: Record<string, string>) => {
    for (const [k, v] of Object.entries(props)) file(path.join(dir, k), v);
    mkdirSync(path.join(sys, 'class/block'), { recursive: true });
    symlinkSync(dir, path.join(sys, 'class/block', name));
    mkdirSync(path.join(sys, 'dev/block'), { recursive: true });
    symlinkSync(dir, path.join(sys, 'dev/block', props['dev'] ?? ''));
  };
  const sda = path.join(sys, 'devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda');
  dev('sda', sda, { dev: '8:0', size: '2097152', removable: '0', ro: '0', 'queue/logical_block_size': '512', 'device/model': 'Samsung SSD 870 ' });
  dev('sda1', path.join(sda, 'sda1'), { dev: '8:1', size: '1048576', partition: '1', ro: '0' });
  dev('sda2', path.join(sda, 'sda2'), { dev: '8:2', size: '1046528', partition: '2', ro: '0' });
  const dm = path.join(sys, 'devices/virtual/block/dm-0');
  dev('dm-0', dm, { dev: '254:0', size: '1040384', ro: '0', 'dm/name': 'vg-home', 'queue/logical_block_size': '512' });
  mkdirSync(path.join(dm, 'slaves'), { recursive: true });
  symlinkSync(path.join(sda, 'sda2'), path.join(dm, 'slaves', 'sda2'));
  dev('loop3', path.join(sys, 'devices/virtual/block/loop3'), { dev: '7:3', size: '0', ro: '0' });
  dev('sr0', path.join(sys, 'devices/virtual/block/sr0'), { dev: '11:0', size: '2048', ro: '1' });
  dev('snapkeep-img0', path.join(sys, 'devices/virtual/block/snapkeep-img0'), { dev: '250:0', size: '1048576', ro: '0' });
  const mountinfo = path.join(tmp.dir, 'mountinfo');
  writeFileSync(
    mountinfo,
    [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '30 22 254:0 / /home/my\\040files rw,relatime shared:2 - xfs /dev/mapper/vg-home rw',
      '31 22 254:0 /sub /srv rw,relatime shared:2 - xfs /dev/mapper/vg-home rw',
      '40 22 0:23 / /run rw - tmpfs tmpfs rw',
    ].join('\n'),
  );
  const udev = path.join(tmp.dir, 'udev');
  file(path.join(udev, 'b8:1'), 'E:ID_FS_TYPE=ext4\nE:ID_FS_UUID=1111-aaaa\nE:ID_FS_LABEL=root\nE:ID_SERIAL_SHORT=S5XYZ');
  file(path.join(udev, 'b8:0'), 'E:ID_PART_TABLE_TYPE=gpt\nE:ID_SERIAL_SHORT=S5XYZ');
  return { sys, mountinfo, udev };
}

describe('device discovery', () => {
  const f = fixture();
  const roots = { sys: f.sys, mountinfo: f.mountinfo, udevData: f.udev, dev: '/dev' };

  it('lists disks with their partitions, dm under its mapper name, hides empty loops, optical drives and snapshot images', async () => {
    const d = new DeviceDiscovery({ roots, probe: 'udev-only', module: async () => ({ loaded: true }) });
    const list = await d.list();
    expect(list.map((x) => x.name)).toEqual(['dm-0', 'sda', 'sda1', 'sda2']);
    for (const x of list) expect(Device.safeParse(x).success).toBe(true);
    const [dm, sda, sda1, sda2] = list;
    expect(sda).toMatchObject({ kind: 'disk', path: '/dev/sda', sizeBytes: 1 << 30, model: 'Samsung SSD 870', serial: 'S5XYZ', partTableType: 'gpt', mountpoints: [] });
    expect(sda1).toMatchObject({ kind: 'partition', parent: 'sda', fsType: 'ext4', fsUuid: '1111-aaaa', fsLabel: 'root', mountpoints: ['/'], snapshot: { possible: true } });
    expect(sda2).toMatchObject({ kind: 'partition', parent: 'sda', mountpoints: [] });
    expect(dm).toMatchObject({ kind: 'dm', path: '/dev/mapper/vg-home', mountpoints: ['/home/my files', '/srv'], fsType: 'xfs' });
  });

  it('says why a snapshot is not possible', async () => {
    const d = new DeviceDiscovery({ roots, probe: 'udev-only', module: async () => ({ loaded: false, problem: 'the snapkeep kernel module is not loaded' }) });
    const byName = new Map((await d.list()).map((x) => [x.name, x]));
    expect(byName.get('sda1')?.snapshot).toEqual({ possible: false, reason: 'the snapkeep kernel module is not loaded' });
    expect(byName.get('sda2')?.snapshot.reason).toBe('the snapkeep kernel module is not loaded (unmounted, so it can still be backed up directly)');
  });

  it('follows partitions and dm slaves to find what a device is built on', async () => {
    expect([...(await blockAncestry(f.sys, 'dm-0'))].sort()).toEqual(['dm-0', 'sda', 'sda2']);
    expect([...(await blockAncestry(f.sys, 'sda1'))].sort()).toEqual(['sda', 'sda1']);
  });

  it('parses mountinfo escapes and bind-mounted subtrees', () => {
    const m = parseMountinfo('31 22 254:0 /a\\134b /mnt/x\\011y rw - xfs /dev/dm-0 rw\n');
    expect(m).toEqual([{ devno: '254:0', root: '/a\\b', mountpoint: '/mnt/x\ty', options: ['rw'], fsType: 'xfs', source: '/dev/dm-0' }]);
  });

  it('reads the host: every device valid, the root file system mounted on one of them', async () => {
    const d = new DeviceDiscovery({ module: async () => ({ loaded: false, problem: 'not loaded' }) });
    const list = await d.list();
    expect(list.length).toBeGreaterThan(0);
    for (const x of list) expect(Device.safeParse(x).error).toBeUndefined();
    expect(list.some((x) => x.mountpoints.includes('/'))).toBe(true);
    const rootDev = list.find((x) => x.mountpoints.includes('/'));
    const again = await d.inspect(rootDev?.path ?? '');
    expect(again.name).toBe(rootDev?.name);
    await expect(d.inspect('/dev/null')).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    await expect(d.inspect('/dev/does-not-exist')).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
  });
});
