// Preload of the main window. Sandboxed: it may only require 'electron', so
// it imports nothing else at run time (the channel names are duplicated from
// common/ipc-channels.ts on purpose; a unit test keeps them equal). It
// forwards opaque frames on two channels; main validates everything.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

import type { PreloadApi } from '../common/ipc-channels';

const RPC = 'snapkeep:rpc';
const EVENT = 'snapkeep:event';
const MAX_FRAME = 1 << 20;

const api: PreloadApi = {
  request(frame: string): Promise<string | null> {
    if (typeof frame !== 'string' || frame.length > MAX_FRAME) return Promise.reject(new Error('bad frame'));
    return ipcRenderer.invoke(RPC, frame) as Promise<string | null>;
  },
  onEvent(listener: (frame: string) => void): () => void {
    const wrapped = (_e: IpcRendererEvent, frame: unknown) => {
      if (typeof frame === 'string') listener(frame);
    };
    ipcRenderer.on(EVENT, wrapped);
    return () => ipcRenderer.off(EVENT, wrapped);
  },
};

contextBridge.exposeInMainWorld('snapkeep', api);
