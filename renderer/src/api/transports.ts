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

/**
 * Web mode: the browser logged in through the link `snapkeep serve` printed
 * or opened (a single-use code traded for an HttpOnly session cookie); the
 * WebSocket carries that cookie by itself, so no secret is in the page.
 */
export function webSocketTransport(): Promise<Transport> {
  const url = `ws://${window.location.host}/api`;
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
    ws.addEventListener('error', () => reject(new Error('Open Snapkeep with the link that `snapkeep serve` printed or opened: each link works once.')), {
      once: true,
    });
  });
}
