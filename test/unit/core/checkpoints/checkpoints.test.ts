// The app's side of checkpoints (electron/core/checkpoints) with the boot
// tool and the boot menu mocked (the module cannot load on the host; VM test
// 132 and full-boot test 005 run the real tool and GRUB): which devices a
// checkpoint holds, what the tool is asked, the order of the steps around
// it, and that rollback and end refuse what they must.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { parseRollbackEntries, rollbackEntryId } from '../../../../electron/core/checkpoints/boot-menu';
import { parseCheckpointList, type CreateRequest } from '../../../../electron/core/checkpoints/boot-tool';
import { Checkpoints } from '../../../../electron/core/checkpoints/checkpoints';
import { GiB, mockMachine, type MockMachine } from '../../../support/checkpoint-machine';

const ID = '0c5e1b2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d';

let scratch: string;
let mm: MockMachine;

/** The app's side on the mocked machine (a new one shares its tool, menu and store). */
function machine(): Checkpoints {
  return new Checkpoints(mm.options);
}

beforeEach(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'snapkeep-ckpt-'));
  mm = mockMachine(scratch, { updateInitramfs: ['/bin/sh', '-c', `echo rebuilt >> ${path.join(scratch, 'initramfs.log')}`] });
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

describe('Checkpoints (boot tool and menu mocked)', () => {
  it('plans the devices the system boots from, in boot order, with a store that leaves room', async () => {
    const m = machine();
    rmSync(path.join(scratch, 'ckpt'), { recursive: true });
    const p = await m.plan();
    expect(existsSync(path.join(scratch, 'ckpt')), 'a plan makes nothing').toBe(false);
    expect(p.problem).toBeUndefined();
    expect(p.devices.map((d) => [d.device, d.mountpoints])).toEqual([
      [path.join(scratch, 'dev/vda2'), ['/']],
      [path.join(scratch, 'dev/vda1'), ['/boot/efi']],
    ]);
    expect(p.devices[0]?.sizeBytes).toBe(GiB);
    expect(p.maxStoreBytes).toBe(18 * GiB);
    expect(p.suggestedStoreBytes).toBe(4.5 * GiB);
    expect(p.bootMenu).toBe(true);
  });

  it('says why not: no module, a device held by another checkpoint, no room', async () => {
    mm.problem = 'the kernel module is not loaded';
    expect((await machine().plan()).problem).toBe('the kernel module is not loaded');
    mm.problem = null;
    mm.held = [{ store: '/dev/vda2', devices: [path.join(scratch, 'dev/vda2')], id: ID, state: 'active', name: 'old one', attached: true }];
    expect((await machine().plan()).problem).toBe(`${path.join(scratch, 'dev/vda2')} is in checkpoint "old one" (active): end it first`);
    await expect(machine().create('new', GiB)).rejects.toThrow(/is in checkpoint "old one"/);
    mm.held = [];
    mkdirSync(path.join(scratch, 'sys/devices/vda/vda2/dm'));
    expect((await machine().plan()).problem).toBe(`/ is on LVM or LUKS (device-mapper) (${path.join(scratch, 'dev/vda2')}): checkpoints hold only plain disks and partitions so far`);
    rmSync(path.join(scratch, 'sys/devices/vda/vda2/dm'), { recursive: true });
    mm.free = 2 * GiB + 10 * 2 ** 20;
    expect((await machine().plan()).problem).toMatch(/^only 2058 MiB are free in .*: a checkpoint needs 2112 MiB$/);
    mm.free = 20 * GiB;
    await expect(machine().create('too big', 19 * GiB)).rejects.toThrow(/leaves under 2 GiB free/);
    await expect(machine().create('too small', 2 ** 20)).rejects.toThrow(/at least 64 MiB/);
    expect(mm.calls).toEqual([]);
  });

  it('says which checkpoint holds a device (heldBy), and only when that is the problem', async () => {
    const vda2 = path.join(scratch, 'dev/vda2');
    expect((await machine().plan()).heldBy).toBeUndefined();
    mm.held = [{ store: '/dev/vda2', devices: [vda2], id: ID, state: 'invalid', name: 'old one', attached: false }];
    const p = await machine().plan();
    expect(p.problem).toBe(`${vda2} is in checkpoint "old one" (invalid): end it first`);
    expect(p.heldBy).toEqual({ id: ID, name: 'old one' });
    // Unreadable: no id, named as the list names it (its store file).
    mm.held = [{ store: '/dev/vda2', file: '/var/lib/snapkeep/checkpoints/x.ckpt', devices: [vda2], error: 'no valid checkpoint header' }];
    expect((await machine().plan()).heldBy).toEqual({ name: 'x.ckpt' });
    // No module: that is the problem, whatever the list holds.
    mm.held = [{ store: '/dev/vda2', devices: [vda2], id: ID, state: 'active', name: 'old one', attached: false }];
    mm.problem = 'the kernel module is not loaded';
    const noModule = await machine().plan();
    mm.problem = null;
    expect(noModule.problem).toBe('the kernel module is not loaded');
    expect(noModule.heldBy).toBeUndefined();
    // A checkpoint of another disk holds nothing of this system.
    mm.held = [{ store: '/dev/vdz', devices: ['/dev/vdz'], id: ID, state: 'active', name: 'elsewhere', attached: true }];
    expect(await machine().plan()).not.toHaveProperty('heldBy');
  });

  it('takes one: the tool gets the devices with identities and a store on the root, then the boot image and menu are rebuilt', async () => {
    const said: string[] = [];
    const { id, warnings } = await machine().create('before upgrade', GiB, (m) => said.push(m), new Date('2026-12-06T06:00:00.123Z'));
    expect(id).toBe(ID);
    expect(warnings).toEqual([]);
    const req = JSON.parse((mm.calls[0] ?? '').slice('create '.length)) as CreateRequest;
    expect(req).toEqual({
      name: 'before upgrade',
      file: path.join(scratch, 'ckpt/20261206T060000Z.ckpt'),
      storeDevice: path.join(scratch, 'dev/vda2'),
      pages: GiB / 4096,
      devices: [
        { device: path.join(scratch, 'dev/vda2'), identity: 'disk:QM00001:p2@2048' },
        { device: path.join(scratch, 'dev/vda1'), identity: 'disk:QM00001:p1@2048' },
      ],
    });
    expect(mm.calls.slice(1)).toEqual(['update-grub']);
    expect(statSync(path.join(scratch, 'initramfs.log')).size).toBeGreaterThan(0);
    expect(said.join('\n')).toMatch(/update-initramfs -u.*\n.*update-grub/);
    const [c] = await machine().list();
    expect(c).toMatchObject({ id: ID, name: 'before upgrade', state: 'active', attached: true, bootEntry: 'Roll back to checkpoint before upgrade', rollbackAtNextBoot: false });
    expect(c?.store).toEqual({ device: path.join(scratch, 'dev/vda2'), file: path.join(scratch, 'ckpt/20261206T060000Z.ckpt'), usedBytes: 3 * 4096, sizeBytes: GiB });
  });

  it('a failed update-initramfs is a warning that says the checkpoint holds until the next reboot only', async () => {
    const { warnings } = await new Checkpoints(mockMachine(scratch, { updateInitramfs: ['/bin/false'] }).options).create('x', GiB);
    expect(warnings).toEqual([expect.stringMatching(/^update-initramfs failed .*: the checkpoint holds until the next reboot only; run update-initramfs -u -k all before rebooting$/)]);
  });

  // It said "update-initramfs failed (Command failed: systemctl start ...)"
  // when the rebuild only ran long (two kernels under emulation), and that
  // the checkpoint holds until the next reboot only, while the unit went on.
  it('an update-initramfs past its time limit is said as such, not as a failure; the unit the helper starts goes on', async () => {
    const slow = mockMachine(scratch, { updateInitramfs: ['/bin/sleep', '5'] });
    const { warnings } = await new Checkpoints({ ...slow.options, updateInitramfsLimitMs: 200 }).create('x', GiB);
    expect(warnings).toEqual([
      'the boot image is not rebuilt yet: /bin/sleep did not finish within 200 ms and was stopped. Until it is, the checkpoint would not hold across a reboot (run update-initramfs -u -k all before rebooting if in doubt)',
    ]);
    // The installed helper starts a unit: stopping systemctl leaves it running, which is said.
    const bin = path.join(scratch, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'systemctl'), '#!/bin/sh\nsleep 5\n', { mode: 0o755 });
    const pathBefore = process.env['PATH'];
    process.env['PATH'] = `${bin}:${pathBefore ?? ''}`;
    try {
      const unit = mockMachine(scratch, { updateInitramfs: ['systemctl', 'start', 'snapkeep-initramfs.service'] });
      const r = await new Checkpoints({ ...unit.options, updateInitramfsLimitMs: 200 }).create('y', GiB);
      expect(r.warnings).toEqual([
        'the boot image is not rebuilt yet: snapkeep-initramfs.service has not finished after 200 ms and goes on in the background; before rebooting, wait until "systemctl is-active snapkeep-initramfs.service" no longer says activating. Until it is, the checkpoint would not hold across a reboot (run update-initramfs -u -k all before rebooting if in doubt)',
      ]);
    } finally {
      process.env['PATH'] = pathBefore;
    }
  });

  it('rolls back at the next boot only an active checkpoint with a boot entry, and cancels', async () => {
    const m = machine();
    await m.create('before upgrade', GiB);
    mm.calls = [];
    const c = await m.rollback(ID, false);
    expect(mm.calls).toEqual([`grub-reboot ${rollbackEntryId(ID)}`]);
    expect(c.rollbackAtNextBoot).toBe(true);
    expect((await m.rollback(ID, true)).rollbackAtNextBoot).toBe(false);
    expect(mm.calls).toEqual([`grub-reboot ${rollbackEntryId(ID)}`, 'grub-reboot none']);
    const first = mm.held[0];
    if (first) first.state = 'invalid';
    await expect(m.rollback(ID, false)).rejects.toThrow(/is invalid: only an active checkpoint can be rolled back/);
    mm.menuProblem = 'this computer does not boot with GRUB';
    await expect(machine().rollback(ID, false)).rejects.toThrow(/is invalid/);
    mm.menuProblem = null;
    if (first) Object.assign(first, { state: 'active', attached: false });
    await expect(m.rollback(ID, false)).rejects.toThrow(/is not held in this boot .* cannot be rolled back exactly/);
    if (first) first.attached = true;
    mm.menuProblem = 'this computer does not boot with GRUB';
    await expect(machine().rollback(ID, false)).rejects.toThrow('this computer does not boot with GRUB');
  });

  it('ends one: commit first, then the store and lines go, the next-boot choice is cleared, image and menu rebuilt', async () => {
    const m = machine();
    await m.create('before upgrade', GiB);
    await m.rollback(ID, false);
    mm.calls = [];
    expect((await m.end({ id: ID })).warnings).toEqual([]);
    expect(mm.calls).toEqual([`commit ${ID}`, `remove ${ID}`, 'grub-reboot none', 'update-grub']);
    expect(await m.list()).toEqual([]);
    await expect(m.end({ id: ID })).rejects.toThrow(/no checkpoint/);
  });

  it('ends an active one not held in this boot (module not loaded) by removing it with force; refuses one whose rollback was cut short', async () => {
    const m = machine();
    await m.create('before upgrade', GiB);
    const first = mm.held[0];
    if (first) first.attached = false;
    mm.calls = [];
    expect((await m.end({ id: ID })).warnings).toEqual([]);
    expect(mm.calls).toEqual([`remove ${ID} --force`, 'update-grub']);
    expect(await m.list()).toEqual([]);

    const { id: second } = await m.create('before upgrade', GiB);
    expect(second).toBe('1c5e1b2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d');
    const again = mm.held[0];
    if (again) Object.assign(again, { attached: false, state: 'rolling-back' });
    mm.calls = [];
    await expect(m.end({ id: second })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/rollback .* cut short/), details: { reason: 'rollback-unfinished' } });
    expect(mm.calls).toEqual([]);
    expect(mm.held).toHaveLength(1);
  });

  it('an unreadable one is removed by its store file, without a commit', async () => {
    mm.held = [{ store: '/dev/vda2', file: '/var/lib/snapkeep/checkpoints/x.ckpt', devices: ['/dev/vda2'], error: 'no valid checkpoint header' }];
    const m = machine();
    const [c] = await m.list();
    expect(c).toMatchObject({ state: 'unreadable', problem: 'no valid checkpoint header', name: 'x.ckpt', attached: false });
    expect(c?.id).toBeUndefined();
    await m.end({ storeFile: '/var/lib/snapkeep/checkpoints/x.ckpt' });
    expect(mm.calls).toEqual(['remove /var/lib/snapkeep/checkpoints/x.ckpt', 'update-grub']);
  });
});

describe('the boot tool and grub.cfg as read', () => {
  it('parses checkpoint list lines, names with spaces, unreadable stores, and ignores junk', () => {
    const text = [
      `store=/dev/vda2\tfile=/s/a.ckpt\tdevices=/dev/vda2,/dev/vda1\tid=${ID}\tstate=rolled-back\treason=none\tcreated=1796000000\tentries=12\tused=40\tpages=262144\tattached=no\tname=before the upgrade`,
      'store=/dev/vdb\tfile=\tdevices=/dev/vdc\terror=no valid checkpoint header',
      'garbage line',
      `store=/dev/vdd\tfile=/s/b\tdevices=/dev/vdd\tid=${ID}\tstate=active\tcreated=-5\tentries=99999999999999999999\tattached=yes\tname=x`,
    ].join('\n');
    expect(parseCheckpointList(text)).toEqual([
      { store: '/dev/vda2', file: '/s/a.ckpt', devices: ['/dev/vda2', '/dev/vda1'], id: ID, state: 'rolled-back', reason: 'none', created: 1796000000, entries: 12, usedPages: 40, pages: 262144, attached: false, name: 'before the upgrade' },
      { store: '/dev/vdb', devices: ['/dev/vdc'], error: 'no valid checkpoint header' },
      { store: '/dev/vdd', file: '/s/b', devices: ['/dev/vdd'], id: ID, state: 'active', attached: true, name: 'x' },
    ]);
  });

  it('finds the rollback entries of a grub.cfg by their ids', () => {
    const cfg = [
      "menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-x' {",
      '}',
      `menuentry 'Roll back to checkpoint before upgrade (2026-12-06 06:00)' --class debian --id 'snapkeep-rollback-${ID}' {`,
      `\tlinux /vmlinuz-6.1.0-57-amd64 root=UUID=x ro snapkeep_rollback=${ID}`,
      '}',
    ].join('\n');
    expect([...parseRollbackEntries(cfg)]).toEqual([[ID, 'Roll back to checkpoint before upgrade (2026-12-06 06:00)']]);
  });
});
