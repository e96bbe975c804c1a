/// <reference types="vite/client" />
import type { PreloadApi } from '../electron/common/ipc-channels';

declare global {
  interface Window {
    /** Present when running inside Electron (exposed by the preload). */
    snapkeep?: PreloadApi;
  }
}
