// @vitest-environment happy-dom
// The desktop-only stores through main's ShellBackend (app.* answered by
// main, the rest by the real service), as in the Electron window.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { LocalBackend } from '../../../electron/core/api/local-backend';
import { AppSettingsStore } from '../../../electron/main/app-settings';
import { PROMPT_DISMISSED, runInstaller } from '../../../electron/main/installer';
import { ShellBackend } from '../../../electron/main/shell-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import { describeError } from '../../../renderer/src/errors/words';
import { useSettingsStore } from '../../../renderer/src/stores/settings';
import { useSystemStore } from '../../../renderer/src/stores/system';
import { connectRenderer } from './service-fixture';

afterEach(() => {
  resetConnection();
  delete window.snapkeep;
});

async function desktop(exec: Parameters<typeof runInstaller>[0]['exec']) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'snapkeep-settings-')), 'desktop.json');
  const settings = new AppSettingsStore(file);
  await settings.load();
  const service = new LocalBackend();
  const shell = new ShellBackend(service, {
    'app.settings.get': () => settings.get(),
    'app.settings.update': (patch) => settings.update(patch),
    'app.module.install': () =>
      runInstaller({ exec, command: { env: {}, argv: ['/opt/Snapkeep/resources/snapkeep-helper', 'install'] }, moduleStatus: async () => ({ loaded: false, runningKernel: 'k', builtFor: [], missingForKernels: [], secureBoot: 'enabled' as const }) }),
  });
  await connectRenderer(shell);
  return { settings };
}

describe('desktop settings and first-run install', () => {
  it('reads and changes the app settings served by main', async () => {
    const { settings } = await desktop(async () => ({ stdout: '', stderr: '' }));
    const store = useSettingsStore();
    expect(store.available).toBe(true);
    await store.load();
    expect(store.settings).toEqual({ startAtLogin: false, notifications: 'all' });
    const saving = store.update({ notifications: 'problems' });
    expect(store.saving).toBe(true);
    await saving;
    expect([store.saving, store.settings?.notifications, settings.get().notifications]).toEqual([false, 'problems', 'problems']);
    const bad = await store.update({ notifications: 'loud' as never }).catch((e: unknown) => e);
    expect(describeError(bad).code).toBe('INVALID_ARGUMENT');
  });

  it('reports the installer outcome to the system store (stub installer: the admin prompt cannot run in a test)', async () => {
    const commands: string[] = [];
    await desktop(async (c) => {
      commands.push(c);
      return commands.length === 1
        ? { error: new Error(PROMPT_DISMISSED), stdout: '', stderr: '' }
        : { error: Object.assign(new Error('failed'), { code: 3 }), stdout: 'signed with the DKMS key\n', stderr: 'run: mokutil --import /var/lib/dkms/mok.pub' };
    });
    const system = useSystemStore();
    await system.load();
    expect((await system.installModule()).outcome).toBe('cancelled');
    const installing = system.installModule();
    expect(system.installing).toBe(true);
    const r = await installing;
    expect(system.installing).toBe(false);
    expect(r).toMatchObject({ outcome: 'secure-boot', exitCode: 3, output: 'signed with the DKMS key\nrun: mokutil --import /var/lib/dkms/mok.pub' });
    expect(commands).toEqual(["'/opt/Snapkeep/resources/snapkeep-helper' 'install'", "'/opt/Snapkeep/resources/snapkeep-helper' 'install'"]);
    expect(system.info?.module.secureBoot).toBe('enabled');
  });

  it('has no desktop settings in web mode', async () => {
    await connectRenderer(new LocalBackend());
    delete window.snapkeep;
    const store = useSettingsStore();
    expect(store.available).toBe(false);
    await store.load();
    expect(store.settings).toBeNull();
  });
});
