import { describe, expect, it, vi } from 'vitest';

const h = vi.hoisted(() => {
  const shown: Array<{ options: Record<string, unknown>; click?: () => void }> = [];
  let supported = true;
  class Notification {
    static isSupported() {
      return supported;
    }
    entry: { options: Record<string, unknown>; click?: () => void };
    constructor(options: Record<string, unknown>) {
      this.entry = { options };
    }
    on(_ev: string, f: () => void) {
      this.entry.click = f;
    }
    show() {
      shown.push(this.entry);
    }
  }
  return { shown, setSupported: (v: boolean) => (supported = v), electron: { Notification } };
});
vi.mock('electron', () => h.electron);

import { showNotification } from '../../../electron/main/notify';

describe('desktop notifications (electron mocked)', () => {
  it('shows failures as critical and opens the app on click', () => {
    const clicked: string[] = [];
    showNotification({ taskId: 't1', severity: 'error', title: 'Backup failed: Laptop', body: 'The destination is full.' }, (id) => clicked.push(id));
    showNotification({ taskId: 't2', severity: 'success', title: 'Backup finished: Laptop', body: 'Done.' }, (id) => clicked.push(id));
    expect(h.shown.map((s) => s.options)).toEqual([
      { title: 'Backup failed: Laptop', body: 'The destination is full.', urgency: 'critical', timeoutType: 'never' },
      { title: 'Backup finished: Laptop', body: 'Done.', urgency: 'normal', timeoutType: 'default' },
    ]);
    h.shown[0]!.click!();
    expect(clicked).toEqual(['t1']);
  });

  it('does nothing where notifications are not supported', () => {
    h.setSupported(false);
    const before = h.shown.length;
    showNotification({ taskId: 't3', severity: 'warning', title: 'x', body: 'y' }, () => undefined);
    expect(h.shown.length).toBe(before);
  });
});
