import { beforeEach, describe, expect, it, vi } from 'vitest';

const h = vi.hoisted(() => {
  class Tray {
    static last: Tray | null = null;
    image: unknown;
    tooltip = '';
    menu: { template: unknown[] } | null = null;
    handlers: Record<string, () => void> = {};
    destroyed = false;
    constructor(image: unknown) {
      this.image = image;
      Tray.last = this;
    }
    setImage(i: unknown) {
      this.image = i;
    }
    setToolTip(t: string) {
      this.tooltip = t;
    }
    setContextMenu(m: { template: unknown[] }) {
      this.menu = m;
    }
    on(ev: string, f: () => void) {
      this.handlers[ev] = f;
    }
    isDestroyed() {
      return this.destroyed;
    }
    destroy() {
      this.destroyed = true;
    }
  }
  return {
    Tray,
    electron: {
      Tray,
      Menu: { buildFromTemplate: (template: unknown[]) => ({ template }) },
      nativeImage: { createFromPath: (p: string) => ({ path: p }) },
    },
  };
});
vi.mock('electron', () => h.electron);

import { AppTray, TRAY_ICON_DIR } from '../../../electron/main/tray';
import type { TrayAction, TrayModel } from '../../../electron/main/tray-model';

const model: TrayModel = {
  status: 'running',
  tooltip: 'Snapkeep: Laptop disk: 42%',
  menu: [
    { kind: 'label', label: 'Laptop disk: 42%' },
    { kind: 'separator' },
    { kind: 'submenu', label: 'Back up now', items: [{ kind: 'action', label: 'Server', enabled: true, action: { type: 'backup-now', jobId: 'j2' } }] },
    { kind: 'action', label: 'Quit Snapkeep', enabled: true, action: { type: 'quit' } },
  ],
};

interface Item {
  label?: string;
  type?: string;
  enabled?: boolean;
  click?: () => void;
  submenu?: Item[];
}

describe('tray (electron mocked)', () => {
  beforeEach(() => {
    h.Tray.last = null;
  });

  it('renders the model: icon per status, tooltip, menu with working actions', () => {
    const actions: TrayAction[] = [];
    const tray = new AppTray((a) => actions.push(a));
    const t = h.Tray.last!;
    expect(t.image).toEqual({ path: `${TRAY_ICON_DIR}/idle.png` });
    tray.update(model);
    expect(t.image).toEqual({ path: `${TRAY_ICON_DIR}/running.png` });
    expect(t.tooltip).toBe('Snapkeep: Laptop disk: 42%');
    const items = t.menu!.template as Item[];
    expect(items[0]).toEqual({ label: 'Laptop disk: 42%', enabled: false });
    expect(items[1]).toEqual({ type: 'separator' });
    items[2]!.submenu![0]!.click!();
    items[3]!.click!();
    t.handlers['click']!();
    expect(actions).toEqual([{ type: 'backup-now', jobId: 'j2' }, { type: 'quit' }, { type: 'open' }]);
    tray.destroy();
    tray.update(model); // after destroy: ignored, no throw
    expect(t.destroyed).toBe(true);
  });

  it('ships the four tray icons it loads', async () => {
    const { existsSync } = await import('node:fs');
    for (const s of ['idle', 'running', 'attention', 'error']) expect(existsSync(`${TRAY_ICON_DIR}/${s}.png`)).toBe(true);
  });
});
