import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { applyAutostart, desktopEntry, HIDDEN_ARG, launchCommand, quoteExecArg } from '../../../electron/main/autostart';
import { appPaths } from '../../../electron/main/paths';

describe('autostart entry', () => {
  it('quotes Exec arguments as the Desktop Entry Specification asks', () => {
    expect(quoteExecArg('/opt/Snapkeep/snapkeep')).toBe('/opt/Snapkeep/snapkeep');
    expect(quoteExecArg('/home/a b/Snapkeep.AppImage')).toBe('"/home/a b/Snapkeep.AppImage"');
    // `$`, backquote, double quote and backslash are escaped inside quotes,
    // then backslashes once more for the string value; % is a field code.
    expect(quoteExecArg('/x/$HOME`"\\')).toBe('"/x/\\\\$HOME\\\\`\\\\"\\\\\\\\"');
    expect(quoteExecArg('/x/100%')).toBe('"/x/100%%"');
    expect(() => quoteExecArg('/x\ny')).toThrow(/control character/);
    expect(() => quoteExecArg('')).toThrow();
  });

  it('starts the AppImage file, the packaged binary, or Electron with the app folder', () => {
    expect(launchCommand({ isPackaged: true, execPath: '/tmp/.mount_x/snapkeep', appPath: '/a', env: { APPIMAGE: '/home/u/Snapkeep.AppImage' } })).toEqual({
      command: '/home/u/Snapkeep.AppImage',
      args: [],
    });
    expect(launchCommand({ isPackaged: true, execPath: '/opt/Snapkeep/snapkeep', appPath: '/a', env: {} })).toEqual({ command: '/opt/Snapkeep/snapkeep', args: [] });
    expect(launchCommand({ isPackaged: false, execPath: '/src/node_modules/electron/dist/electron', appPath: '/src', env: {} })).toEqual({
      command: '/src/node_modules/electron/dist/electron',
      args: ['/src'],
    });
  });

  it('writes an entry that starts the app hidden in the tray', () => {
    const text = desktopEntry({ command: '/opt/Snapkeep/snapkeep', args: [] });
    expect(text.split('\n')[0]).toBe('[Desktop Entry]');
    expect(text).toContain(`Exec=/opt/Snapkeep/snapkeep ${HIDDEN_ARG}\n`);
    expect(text).toContain('Type=Application\n');
    expect(text).toContain('X-GNOME-Autostart-enabled=true\n');
  });

  it('creates and removes the file, idempotently', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'snapkeep-autostart-'));
    const { autostartFile } = appPaths({ HOME: home });
    expect(autostartFile).toBe(path.join(home, '.config/autostart/snapkeep.desktop'));
    const launch = { command: '/opt/Snapkeep/snapkeep', args: [] };
    await applyAutostart(autostartFile, true, launch);
    await applyAutostart(autostartFile, true, launch);
    expect(readFileSync(autostartFile, 'utf8')).toBe(desktopEntry(launch));
    await applyAutostart(autostartFile, false, launch);
    await applyAutostart(autostartFile, false, launch);
    expect(existsSync(autostartFile)).toBe(false);
  });
});

describe('app paths', () => {
  it('follows XDG_CONFIG_HOME and XDG_STATE_HOME, ignoring relative values', () => {
    expect(appPaths({ HOME: '/home/u', XDG_CONFIG_HOME: '/cfg', XDG_STATE_HOME: '/st' })).toEqual({
      settingsFile: '/cfg/snapkeep/desktop.json',
      autostartFile: '/cfg/autostart/snapkeep.desktop',
      logDir: '/st/snapkeep/logs',
    });
    expect(appPaths({ HOME: '/home/u', XDG_CONFIG_HOME: 'rel', XDG_STATE_HOME: '' })).toEqual({
      settingsFile: '/home/u/.config/snapkeep/desktop.json',
      autostartFile: '/home/u/.config/autostart/snapkeep.desktop',
      logDir: '/home/u/.local/state/snapkeep/logs',
    });
  });
});
