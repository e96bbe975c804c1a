// The two ways the renderer reaches the backend: Electron's preload bridge,
// or a WebSocket to `snapkeep serve`. Both carry the same JSON-RPC frames.
import type { PreloadApi } from '@common/ipc-channels';
import type { Transport } from '@common/rpc/client';

export function preloadTransport(bridge: PreloadApi): Transport {
  const frameListeners: ((frame: string) => void)[] = [];
  const closeListeners: ((reason: Error) => void)[] = [];
  const deliver = (frame: string) => frameListeners.forEach((l) => l(frame));
  const stop = bridge.onEvent(deliver);
  return {
    send(frame) {
      bridge.request(frame).then(
        (reply) => reply !== null && deliver(reply),
        (e: unknown) => closeListeners.forEach((l) => l(e instanceof Error ? e : new Error(String(e)))),
      );
    },
    onFrame: (l) => frameListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    close: stop,
  };
}

/** The web-mode token: from the URL the server printed, kept for reloads. */
export function webToken(): string | null {
  const fromUrl = new URLSearchParams(window.location.search).get('token');
  if (fromUrl) {
    sessionStorage.setItem('snapkeep-token', fromUrl);
    // Keep the token out of the address bar, history and screenshots.
    window.history.replaceState(null, '', window.location.pathname + window.location.hash);
    return fromUrl;
  }
  return sessionStorage.getItem('snapkeep-token');
}

export function webSocketTransport(token: string): Promise<Transport> {
  const url = `ws://${window.location.host}/api?token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  const frameListeners: ((frame: string) => void)[] = [];
  const closeListeners: ((reason: Error) => void)[] = [];
  ws.addEventListener('message', (e) => {
    if (typeof e.data === 'string') frameListeners.forEach((l) => l(e.data as string));
  });
  ws.addEventListener('close', () => closeListeners.forEach((l) => l(new Error('connection to Snapkeep closed'))));
  const transport: Transport = {
    send: (frame) => ws.send(frame),
    onFrame: (l) => frameListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(transport), { once: true });
    ws.addEventListener('error', () => reject(new Error('cannot connect to Snapkeep (wrong or expired link?)')), {
      once: true,
    });
  });
}
