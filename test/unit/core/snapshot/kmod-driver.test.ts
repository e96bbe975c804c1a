// The real driver on the host, where the kernel module is not loaded: it
// must say so with MODULE_NOT_LOADED and a way out, for every call; the VM
// tests run it against the loaded module.
import { existsSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { KmodSnapshotDriver } from '../../../../electron/core/snapshot/kmod-driver';

describe('KmodSnapshotDriver without the module', () => {
  it('reports MODULE_NOT_LOADED from check, create and list, with what to do', async () => {
    expect(existsSync('/dev/snapkeep'), 'this test expects a host without the module').toBe(false);
    const d = new KmodSnapshotDriver();
    const err = await d.check().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MODULE_NOT_LOADED' });
    expect((err as Error).message).toMatch(/snapkeep-helper install|npm run build:native/);
    await expect(d.create(['/dev/null'])).rejects.toMatchObject({ code: expect.stringMatching(/MODULE_NOT_LOADED|DEVICE_NOT_FOUND/) });
    await expect(d.list()).rejects.toMatchObject({ code: 'MODULE_NOT_LOADED' });
  });
});
