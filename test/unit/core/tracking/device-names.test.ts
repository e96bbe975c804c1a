// Who a device is for its kept map: a disk by its WWN or serial (a
// partition by its number and start too), a dm device by its UUID, else
// by name and size (weak); every identity fits the module's 64 bytes and
// has no spaces. Paths: a /dev/disk/by-* link that points at the device.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, expect, it } from 'vitest';

import { deviceIdentity, identityWord, stablePath } from '../../../../electron/core/tracking/device-names';
import { tempDir } from '../../../support/temp-dirs';

let t: ReturnType<typeof tempDir>;
let sys: string;
let dev: string;
beforeEach(() => {
  t = tempDir('snapkeep-names-');
  sys = path.join(t.dir, 'sys');
  dev = path.join(t.dir, 'dev');
});
afterEach(() => t.remove());

/** A fake /sys/class/block entry (a directory with attribute files). */
function block(name: string, attrs: Record<string, string>, parent?: string): void {
  const dir = parent ? path.join(sys, 'devices', parent, name) : path.join(sys, 'devices', name);
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(attrs)) {
    mkdirSync(path.dirname(path.join(dir, k)), { recursive: true });
    writeFileSync(path.join(dir, k), `${v}\n`);
  }
  mkdirSync(path.join(sys, 'class/block'), { recursive: true });
  symlinkSync(dir, path.join(sys, 'class/block', name));
}

it('names disks by WWN, partitions by their disk, number and start, dm by UUID, others weakly', async () => {
  block('sda', { 'device/wwid': 'naa.5000c500a1b2c3d4', size: '1000' });
  block('sda2', { partition: '2', start: '2048', size: '500' }, 'sda');
  block('vdb', { serial: '', size: '524288' });
  block('dm-0', { 'dm/uuid': 'CRYPT-LUKS2-0123456789abcdef0123456789abcdef-root', size: '99' });
  expect(await deviceIdentity(sys, 'sda')).toEqual({ identity: 'disk:naa.5000c500a1b2c3d4', strong: true });
  expect(await deviceIdentity(sys, 'sda2')).toEqual({ identity: 'disk:naa.5000c500a1b2c3d4:p2@2048', strong: true });
  expect(await deviceIdentity(sys, 'vdb')).toEqual({ identity: 'dev:vdb:524288', strong: false });
  const dm = await deviceIdentity(sys, 'dm-0');
  expect(dm.strong).toBe(true);
  expect(dm.identity.startsWith('dm:')).toBe(true);
  expect(Buffer.byteLength(dm.identity)).toBeLessThanOrEqual(64);
});

it('identities are printable, without spaces, at most 64 bytes, and distinct for distinct long values', () => {
  expect(identityWord('disk', 'WD Blue 1TB\t#1')).toBe('disk:WD_Blue_1TB_#1');
  const a = identityWord('disk', 'x'.repeat(100));
  const b = identityWord('disk', `${'x'.repeat(99)}y`);
  for (const w of [a, b]) {
    expect(Buffer.byteLength(w)).toBeLessThanOrEqual(64);
    expect(w).toMatch(/^[\x21-\x7e]+$/);
  }
  expect(a).not.toBe(b);
});

it('prefers a by-partuuid or wwn- link that points at the device, else the kernel name', async () => {
  mkdirSync(path.join(dev, 'disk/by-id'), { recursive: true });
  mkdirSync(path.join(dev, 'disk/by-partuuid'), { recursive: true });
  for (const n of ['sda', 'sda1', 'sdb']) writeFileSync(path.join(dev, n), '');
  symlinkSync('../../sda', path.join(dev, 'disk/by-id/ata-WDC_WD10'));
  symlinkSync('../../sda', path.join(dev, 'disk/by-id/wwn-0x5000c500a1b2c3d4'));
  symlinkSync('../../sda1', path.join(dev, 'disk/by-partuuid/1234-01'));
  expect(await stablePath(dev, 'sda')).toBe(path.join(dev, 'disk/by-id/wwn-0x5000c500a1b2c3d4'));
  expect(await stablePath(dev, 'sda1')).toBe(path.join(dev, 'disk/by-partuuid/1234-01'));
  expect(await stablePath(dev, 'sdb')).toBe(path.join(dev, 'sdb'));
});
