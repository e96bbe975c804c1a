// fallocate + FIEMAP against the host's real file systems: the temporary
// directory (a disk file system here) must report physical extents that
// cover the file exactly; tmpfs has no physical blocks and must say so
// with its errno name.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { allocateFile, fiemapFlags, fileExtents, isNativeSysError } from '../index';

const dir = mkdtempSync(path.join(tmpdir(), 'snapkeep-fx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fs_extents binding', () => {
  it('allocates a file and reports extents covering it on the device that holds it', async () => {
    const file = path.join(dir, 'diff-0');
    await allocateFile(file, 8 << 20);
    const st = statSync(file);
    expect(st.size).toBe(8 << 20);
    expect(st.blocks * 512).toBeGreaterThanOrEqual(8 << 20);

    const fx = await fileExtents(file);
    const flags = fiemapFlags();
    expect(`${fx.major}:${fx.minor}`).toBe(`${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >>> 12) & ~0xff)}`);
    expect(fx.size).toBe(8 << 20);
    let covered = 0;
    for (const e of fx.extents) {
      expect(e.logical).toBe(covered); // contiguous in the file, no holes
      expect(e.physical % 512).toBe(0);
      expect(e.flags & (flags.UNKNOWN | flags.DELALLOC | flags.ENCODED | flags.DATA_INLINE)).toBe(0);
      covered += e.length;
    }
    expect(covered).toBe(8 << 20);
    expect((fx.extents.at(-1)?.flags ?? 0) & flags.LAST).toBe(flags.LAST);
  });

  it('never reuses an existing file', async () => {
    const file = path.join(dir, 'exists');
    await allocateFile(file, 4096);
    const err: unknown = await allocateFile(file, 4096).catch((e: unknown) => e);
    expect(isNativeSysError(err) && err.code).toBe('EEXIST');
  });

  it('fails with the errno name where there is no space or no directory', async () => {
    const missing: unknown = await allocateFile(path.join(dir, 'no/such/dir'), 4096).catch((e: unknown) => e);
    expect(isNativeSysError(missing) && missing.code).toBe('ENOENT');
    expect((missing as Error).message).toContain('no/such/dir');
    // /dev/shm is tmpfs: no physical blocks to report.
    const shm = mkdtempSync('/dev/shm/snapkeep-fx-');
    try {
      await allocateFile(path.join(shm, 'f'), 4096);
      const err: unknown = await fileExtents(path.join(shm, 'f')).catch((e: unknown) => e);
      expect(isNativeSysError(err) && err.code).toBe('EOPNOTSUPP');
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });

  it('checks its arguments at the JS boundary', () => {
    expect(() => allocateFile('relative', 1)).toThrow(TypeError);
    expect(() => allocateFile('/x', 0)).toThrow(TypeError);
    expect(() => allocateFile('/x', 1.5)).toThrow(TypeError);
    expect(() => fileExtents('x')).toThrow(TypeError);
  });
});
