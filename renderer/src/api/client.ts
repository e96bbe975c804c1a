// The renderer's single entry to the backend: `call` a contract method,
// listen with `onEvent`. Nothing else in the renderer knows about
// transports, connections or subscriptions. Connects lazily, subscribes to
// every event once per connection, and reconnects on the next call after
// the connection was lost.
import { events as eventSchemas, type EventName, type EventPayload, type MethodName, type Params, type Result } from '@common/contract';
import { RpcClient, type Transport } from '@common/rpc/client';
import { reactive, readonly } from 'vue';

import { CONNECTION_ERROR } from '@/errors/words';

import { preloadTransport, webSocketTransport } from './transports';

type ConnectionState = 'idle' | 'connecting' | 'open' | 'lost';

const state = reactive({ state: 'idle' as ConnectionState, reason: '' });
/** Whether the renderer is connected; the shell shows a banner when it is lost. */
export const connection = readonly(state);

/** Inside Electron (the preload bridge is there) rather than a browser tab in web mode. */
export function isDesktop(): boolean {
  return window.snapkeep !== undefined;
}

function connectionError(message: string): Error {
  const e = new Error(message);
  e.name = CONNECTION_ERROR;
  return e;
}

const listeners = new Map<EventName, Set<(payload: unknown) => void>>();
const EVENT_NAMES = Object.keys(eventSchemas) as EventName[];
let client: Promise<RpcClient> | null = null;

async function open(): Promise<RpcClient> {
  let transport: Transport;
  if (window.snapkeep) {
    transport = preloadTransport(window.snapkeep);
  } else {
    transport = await webSocketTransport().catch((e: unknown) => {
      throw connectionError(e instanceof Error ? e.message : String(e));
    });
  }
  const c = new RpcClient(transport);
  transport.onClose((reason) => {
    if (client === null) return;
    void client.then((current) => {
      if (current !== c) return;
      client = null;
      state.state = 'lost';
      state.reason = reason.message;
    });
  });
  for (const name of EVENT_NAMES) c.on(name, (payload) => listeners.get(name)?.forEach((l) => l(payload)));
  // Without events the app still works, only less live: a backend that does
  // not serve them must not keep the page from loading.
  await c.call('events.subscribe', { names: EVENT_NAMES }).catch((e: unknown) => console.warn('events not available:', e));
  return c;
}

export function connect(): Promise<RpcClient> {
  if (client) return client;
  state.state = 'connecting';
  const attempt = open();
  client = attempt;
  attempt.then(
    () => {
      if (client === attempt) state.state = 'open';
    },
    (e: unknown) => {
      if (client !== attempt) return;
      client = null;
      state.state = 'lost';
      state.reason = e instanceof Error ? e.message : String(e);
    },
  );
  return attempt;
}

/** Calls one method of the contract; rejects with the AppError the backend sent. */
export async function call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
  const c = await connect();
  return c.call(method, params);
}

/** Listens for an event on this and every later connection; returns the function that stops. */
export function onEvent<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void {
  let set = listeners.get(name);
  if (!set) listeners.set(name, (set = new Set()));
  const wrapped = listener as (payload: unknown) => void;
  set.add(wrapped);
  return () => set.delete(wrapped);
}

/** Drops the current connection (tests, and a manual reconnect). */
export function resetConnection(): void {
  void client?.then((c) => c.close()).catch(() => undefined);
  client = null;
  state.state = 'idle';
  state.reason = '';
}

/** Test helper: forget every event listener. */
export function resetListeners(): void {
  listeners.clear();
}
