// The main side of the renderer API: accepts frames only on the known
// channel, only from the main frame of our own window, and hands them to the
// backend session (which validates every request against the contract).
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';

import { IPC_EVENT, IPC_RPC } from '../common/ipc-channels';
import type { Backend, Session } from '../common/rpc/session';

const MAX_FRAME = 1 << 20;

export async function bindRendererApi(win: BrowserWindow, backend: Backend, isAppUrl: (url: string) => boolean): Promise<() => void> {
  const session: Session = await backend.openSession((frame) => {
    if (!win.isDestroyed()) win.webContents.send(IPC_EVENT, frame);
  });
  const trusted = (event: IpcMainInvokeEvent): boolean => {
    const frame = event.senderFrame;
    return (
      event.sender === win.webContents &&
      frame !== null &&
      frame === win.webContents.mainFrame &&
      isAppUrl(frame.url)
    );
  };
  ipcMain.handle(IPC_RPC, async (event, frame: unknown) => {
    if (!trusted(event)) throw new Error('rejected: not the app window');
    if (typeof frame !== 'string' || frame.length > MAX_FRAME) throw new Error('rejected: bad frame');
    return session.handleText(frame);
  });
  return () => {
    ipcMain.removeHandler(IPC_RPC);
    session.close();
  };
}
