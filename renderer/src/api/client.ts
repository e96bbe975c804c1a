// The renderer's single entry to the backend. Stores call `api()`; nothing
// else in the renderer knows about transports.
import { RpcClient } from '@common/rpc/client';

import { preloadTransport, webSocketTransport, webToken } from './transports';

let client: Promise<RpcClient> | null = null;

export function connect(): Promise<RpcClient> {
  if (client) return client;
  client = (async () => {
    if (window.snapkeep) return new RpcClient(preloadTransport(window.snapkeep));
    const token = webToken();
    if (!token) throw new Error('open Snapkeep with the link that `snapkeep serve` printed (it carries the access token)');
    return new RpcClient(await webSocketTransport(token));
  })();
  client.catch(() => (client = null));
  return client;
}

export async function api(): Promise<RpcClient> {
  return connect();
}

/** Drops the current connection (tests, and reconnect after a failure). */
export function resetConnection(): void {
  void client?.then((c) => c.close()).catch(() => undefined);
  client = null;
}
