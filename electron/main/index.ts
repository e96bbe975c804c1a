// Electron main: app lifecycle and the main window. Kept thin: everything
// below the window (contract, backend, core) is plain Node code tested
// without Electron.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { app, BrowserWindow } from 'electron';

import { LocalBackend } from '../core/api/local-backend';
import { bindRendererApi } from './ipc';
import { hardenSessions, secureWebPreferences } from './security';

/** out/js/electron/main -> out/renderer/index.html */
const RENDERER_INDEX = path.resolve(__dirname, '../../../renderer/index.html');
const PRELOAD = path.resolve(__dirname, '../preload/index.js');
const APP_URL_PREFIX = pathToFileURL(path.dirname(RENDERER_INDEX)).href + '/';

function isAppUrl(url: string): boolean {
  return url.startsWith(APP_URL_PREFIX);
}

async function createMainWindow(): Promise<BrowserWindow> {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    minWidth: 800,
    minHeight: 560,
    show: false,
    title: 'Snapkeep',
    webPreferences: secureWebPreferences(PRELOAD),
  });
  const unbind = await bindRendererApi(win, new LocalBackend(), isAppUrl);
  win.on('closed', unbind);
  win.once('ready-to-show', () => win.show());
  await win.loadFile(RENDERER_INDEX);
  return win;
}

function main(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  let mainWindow: BrowserWindow | null = null;
  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  app.on('window-all-closed', () => app.quit());
  void app.whenReady().then(async () => {
    hardenSessions(isAppUrl);
    mainWindow = await createMainWindow();
    mainWindow.on('closed', () => (mainWindow = null));
  });
}

main();
