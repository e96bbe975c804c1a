// A window.snapkeep bridge (the preload's API) wired to a real backend
// session, for renderer tests under happy-dom: the store, the renderer's
// transport, the client and the dispatcher all run for real.
import type { PreloadApi } from '../../electron/common/ipc-channels';
import type { Backend } from '../../electron/common/rpc/session';

export async function preloadBridge(backend: Backend): Promise<PreloadApi> {
  const listeners = new Set<(frame: string) => void>();
  const session = await backend.openSession((frame) => listeners.forEach((l) => l(frame)));
  return {
    request: (frame) => session.handleText(frame),
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
