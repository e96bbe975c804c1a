// The tray icon: renders a TrayModel (tray-model.ts) with Electron's Tray
// and Menu. No decisions here.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { Menu, nativeImage, Tray, type MenuItemConstructorOptions, type NativeImage } from 'electron';

import type { TrayAction, TrayMenuItem, TrayModel, TrayStatus } from './tray-model';

/**
 * build/resources/tray, packaged beside out/ (build/electron-builder.yml):
 * four levels up from out/js/electron/main, two from the sources (tests).
 */
export const TRAY_ICON_DIR = [path.resolve(__dirname, '../../../../build/resources/tray'), path.resolve(__dirname, '../../build/resources/tray')].find(
  (dir) => existsSync(path.join(dir, 'idle.png')),
) ?? path.resolve(__dirname, '../../../../build/resources/tray');

export function menuTemplate(items: readonly TrayMenuItem[], onAction: (a: TrayAction) => void): MenuItemConstructorOptions[] {
  return items.map((item): MenuItemConstructorOptions => {
    switch (item.kind) {
      case 'separator':
        return { type: 'separator' };
      case 'label':
        return { label: item.label, enabled: false };
      case 'submenu':
        return { label: item.label, submenu: menuTemplate(item.items, onAction) };
      case 'action':
        return { label: item.label, enabled: item.enabled, click: () => onAction(item.action) };
    }
  });
}

export class AppTray {
  private readonly tray: Tray;
  private readonly icons = new Map<TrayStatus, NativeImage>();

  constructor(private readonly onAction: (a: TrayAction) => void) {
    for (const s of ['idle', 'running', 'attention', 'error'] as const) {
      this.icons.set(s, nativeImage.createFromPath(path.join(TRAY_ICON_DIR, `${s}.png`)));
    }
    this.tray = new Tray(this.icons.get('idle') as NativeImage);
    this.tray.setToolTip('Snapkeep');
    // A left click opens the window where the platform reports it (some
    // Linux trays only ever show the menu).
    this.tray.on('click', () => onAction({ type: 'open' }));
  }

  update(model: TrayModel): void {
    if (this.tray.isDestroyed()) return;
    const icon = this.icons.get(model.status);
    if (icon) this.tray.setImage(icon);
    this.tray.setToolTip(model.tooltip);
    this.tray.setContextMenu(Menu.buildFromTemplate(menuTemplate(model.menu, this.onAction)));
  }

  destroy(): void {
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }
}
