import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { DEFAULT_APP_SETTINGS } from '../../../electron/common/contract/app';
import { AppSettingsStore } from '../../../electron/main/app-settings';

const tmpFile = () => path.join(mkdtempSync(path.join(tmpdir(), 'snapkeep-settings-')), 'snapkeep', 'desktop.json');

describe('app settings', () => {
  it('starts from the defaults when there is no file', async () => {
    const store = new AppSettingsStore(tmpFile());
    expect(await store.load()).toEqual(DEFAULT_APP_SETTINGS);
  });

  it('keeps the good fields of a damaged file and ignores garbage', async () => {
    const file = tmpFile();
    await new AppSettingsStore(file).update({ notifications: 'problems' });
    writeFileSync(file, '{"notifications":"problems","startAtLogin":"yes"}');
    expect(await new AppSettingsStore(file).load()).toEqual({ ...DEFAULT_APP_SETTINGS, notifications: 'problems' });
    writeFileSync(file, '{"notifications":"off"}');
    expect(await new AppSettingsStore(file).load()).toEqual({ ...DEFAULT_APP_SETTINGS, notifications: 'off' });
    writeFileSync(file, 'not json');
    expect(await new AppSettingsStore(file).load()).toEqual(DEFAULT_APP_SETTINGS);
  });

  it('saves an update, after the listeners applied it', async () => {
    const file = tmpFile();
    const store = new AppSettingsStore(file);
    await store.load();
    const seen: boolean[] = [];
    store.onChange((next, previous) => {
      seen.push(previous.startAtLogin, next.startAtLogin);
    });
    expect(await store.update({ startAtLogin: true })).toEqual({ ...DEFAULT_APP_SETTINGS, startAtLogin: true });
    expect(seen).toEqual([false, true]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ ...DEFAULT_APP_SETTINGS, startAtLogin: true });
    expect(await new AppSettingsStore(file).load()).toEqual(store.get());
  });

  it('changes nothing when a listener fails (autostart folder not writable)', async () => {
    const file = tmpFile();
    const store = new AppSettingsStore(file);
    await store.load();
    store.onChange(() => {
      throw new Error('EACCES');
    });
    await expect(store.update({ startAtLogin: true })).rejects.toThrow('EACCES');
    expect(store.get().startAtLogin).toBe(false);
    await expect(store.update({ notifications: 'loud' as never })).rejects.toThrow();
  });
});
