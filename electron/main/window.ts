// The main window. Created on demand (not at all when started hidden at
// login), hidden rather than closed so the tray agent keeps the app alive
// and a reopen is instant; closed for real only when the app quits.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { BrowserWindow } from 'electron';

import type { Backend } from '../common/rpc/session';
import { bindRendererApi } from './ipc';
import { secureWebPreferences } from './security';

/** out/js/electron/main -> out/renderer/index.html */
export const RENDERER_INDEX = path.resolve(__dirname, '../../../renderer/index.html');
const PRELOAD = path.resolve(__dirname, '../preload/index.js');
const APP_URL_PREFIX = pathToFileURL(path.dirname(RENDERER_INDEX)).href + '/';

export function isAppUrl(url: string): boolean {
  return url.startsWith(APP_URL_PREFIX);
}

export interface MainWindow {
  win: BrowserWindow;
  /** New session on the current backend (after the service changed), then a reload. */
  rebind(): Promise<void>;
}

export async function createMainWindow(backend: Backend, isQuitting: () => boolean): Promise<MainWindow> {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    minWidth: 800,
    minHeight: 560,
    show: false,
    title: 'Snapkeep',
    webPreferences: secureWebPreferences(PRELOAD),
  });
  let unbind = await bindRendererApi(win, backend, isAppUrl);
  win.on('close', (event) => {
    if (isQuitting()) return;
    event.preventDefault();
    win.hide();
  });
  win.on('closed', () => unbind());
  win.once('ready-to-show', () => win.show());
  await win.loadFile(RENDERER_INDEX);
  return {
    win,
    rebind: async () => {
      unbind();
      unbind = await bindRendererApi(win, backend, isAppUrl);
      win.webContents.reload();
    },
  };
}
