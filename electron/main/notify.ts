// Shows a DesktopNotification (notifications.ts decides) with Electron's
// Notification; a click brings the window to that task.
import { Notification } from 'electron';

import type { DesktopNotification } from './notifications';

export function showNotification(n: DesktopNotification, onClick: (taskId: string) => void): void {
  if (!Notification.isSupported()) return;
  const note = new Notification({
    title: n.title,
    body: n.body,
    urgency: n.severity === 'error' ? 'critical' : 'normal',
    timeoutType: n.severity === 'error' ? 'never' : 'default',
  });
  note.on('click', () => onClick(n.taskId));
  note.show();
}
