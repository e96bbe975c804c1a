// Runs on the host, where the kernel module cannot be loaded: the binding
// must then fail with ENOENT and say so. Inside the test VM (module loaded)
// the same test checks the version answer instead.
import { existsSync, readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { headerAbi, isNativeSysError, kmod, moduleVersion } from '../index';

function headerDefine(name: string): number {
  const text = readFileSync('kmod/include/uapi/snapkeep.h', 'utf8');
  const m = new RegExp(`#define\\s+${name}\\s+(\\d+)`).exec(text);
  if (!m?.[1]) throw new Error(`${name} not found in the uapi header`);
  return Number(m[1]);
}

describe('kmod_ctl binding', () => {
  it('was compiled against the uapi header in kmod/include/uapi', () => {
    expect(headerAbi()).toEqual({ major: headerDefine('SNAPKEEP_ABI_MAJOR'), minor: headerDefine('SNAPKEEP_ABI_MINOR') });
  });

  it('reports the module version, or ENOENT "module not loaded" without the module', () => {
    if (existsSync('/dev/snapkeep')) {
      const v = moduleVersion();
      expect(v.abiMajor).toBe(headerDefine('SNAPKEEP_ABI_MAJOR'));
      return;
    }
    let caught: unknown;
    try {
      moduleVersion();
    } catch (e) {
      caught = e;
    }
    expect(isNativeSysError(caught)).toBe(true);
    const err = caught as { code: string; errno: number; syscall: string; message: string };
    expect(err.code).toBe('ENOENT');
    expect(err.errno).toBe(2);
    expect(err.syscall).toBe('open');
    expect(err.message).toContain('module not loaded');
  });

  it('checks checkpoint arguments before any ioctl (ABI 1.5)', async () => {
    const store = { device: '/dev/null', ranges: [{ start: 0, count: 8 }] };
    const dev = { device: '/dev/null', identity: 'x' };
    expect(() => kmod.checkpointCreate([], store, 'n')).toThrow(RangeError);
    expect(() => kmod.checkpointCreate(Array(17).fill(dev), store, 'n')).toThrow(RangeError);
    expect(() => kmod.checkpointCreate([{ ...dev, identity: 'a'.repeat(65) }], store, 'n')).toThrow(RangeError);
    expect(() => kmod.checkpointCreate([{ ...dev, identity: '' }], store, 'n')).toThrow(RangeError);
    expect(() => kmod.checkpointCreate([{ ...dev, device: 'vda' }], store, 'n')).toThrow(TypeError);
    expect(() => kmod.checkpointCreate([dev], { device: 'vdb', ranges: [] }, 'n')).toThrow(TypeError);
    expect(() => kmod.checkpointCreate([dev], { ...store, ranges: [{ start: -1, count: 8 }] }, 'n')).toThrow(TypeError);
    expect(() => kmod.checkpointCreate([dev], store, '')).toThrow(RangeError);
    expect(() => kmod.checkpointCreate([dev], store, 'x'.repeat(65))).toThrow(RangeError);
    expect(() => kmod.checkpointCommit('not-an-id')).toThrow(TypeError);
    expect(() => kmod.checkpointAbandon('not-an-id')).toThrow(TypeError);
    expect(() => kmod.checkpointInfo('not-an-id')).toThrow(TypeError);
    // Well-formed: the worker answers (a character device is not a disk).
    const e = await kmod.checkpointCreate([dev], store, 'n', { resume: true }).then(() => null, (x: unknown) => x);
    expect(isNativeSysError(e)).toBe(true);
    expect((e as { code: string }).code).toBe('ENOTBLK');
  });
});
