// The snapshot and tracker bindings (native/kmod.ts over src/kmod/ctl.cc),
// on the host, where the module is not loaded: arguments are checked on the
// JS side first, then every call reaches the control device and fails with
// ENOENT from open(). In the test VM (test/vm/tests/1xx-kmod-*) the same
// bindings drive the real module.
import { existsSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { devicePath, kmod } from '../../index';

const loaded = existsSync('/dev/snapkeep');
const ID = '12345678-1234-1234-1234-123456789abc';

async function codeOf(p: Promise<unknown>): Promise<{ code: string; syscall?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; syscall?: string };
  }
  throw new Error('resolved');
}

describe('kmod bindings', () => {
  it('refuse malformed arguments before any ioctl', async () => {
    expect(() => kmod.take('not-a-uuid')).toThrow(TypeError);
    expect(() => kmod.attach('relative/path')).toThrow(TypeError);
    expect(() => kmod.create([])).toThrow(TypeError);
    expect(() => kmod.appendStorage(ID, '/dev/null', [{ start: -1, count: 8 }])).toThrow(TypeError);
    expect(() => kmod.markDirty('/dev/null', [{ start: 0.5, count: 8 }])).toThrow(TypeError);
    expect(() => kmod.readCbtMap('/dev/null', -1)).toThrow(TypeError);
    await expect(kmod.waitEvent(ID, 2 ** 33)).rejects.toThrow(TypeError);
  });

  it.skipIf(loaded)('fail with ENOENT from open() without the module', async () => {
    for (const call of [() => kmod.list(), () => kmod.listTrackers(), () => kmod.destroy(ID), () => kmod.waitEvent(ID, 0)]) {
      const err = await codeOf(call());
      expect(err.code).toBe('ENOENT');
      expect(err.syscall).toBe('open');
    }
  });

  it('name a non-block device ENOTBLK (checked before the control device is opened)', async () => {
    expect((await codeOf(kmod.attach('/dev/null'))).code).toBe('ENOTBLK');
  });

  it('map device numbers to /dev paths through sysfs, null when absent', () => {
    expect(devicePath({ major: 4095, minor: 1048575 })).toBeNull();
  });
});
