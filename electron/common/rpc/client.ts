// Client side of the contract over any message transport. Results and events
// are validated on arrival, so a client never trusts the other process.
import { AppError } from '../contract/errors';
import { events, isEventName, type EventName, type EventPayload } from '../contract/events';
import { methods, type MethodName, type Params, type Result } from '../contract/methods';
import { appErrorFromRpc, RpcNotification, RpcResponse } from './jsonrpc';

/** Moves whole frames; framing (newlines, WebSocket messages) is its business. */
export interface Transport {
  send(frame: string): void;
  onFrame(listener: (frame: string) => void): void;
  onClose(listener: (reason: Error) => void): void;
  close(): void;
}

type Listener<E extends EventName> = (payload: EventPayload<E>) => void;

interface Pending {
  method: MethodName;
  resolve: (value: unknown) => void;
  reject: (reason: Error) => void;
}

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  private closed: Error | null = null;

  constructor(private readonly transport: Transport) {
    transport.onFrame((frame) => this.onFrame(frame));
    transport.onClose((reason) => this.onClose(reason));
  }

  call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise<Result<M>>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
      this.transport.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** Listens for an event; returns the function that stops listening. */
  on<E extends EventName>(name: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    const wrapped = listener as (payload: unknown) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  close(): void {
    this.transport.close();
    this.onClose(new AppError('HELPER_UNAVAILABLE', 'connection closed'));
  }

  private onFrame(frame: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(frame);
    } catch {
      return; // a peer that sends garbage gets no say
    }
    const note = RpcNotification.safeParse(msg);
    if (note.success && !('id' in (msg as object))) return this.onEvent(note.data.method, note.data.params);
    const res = RpcResponse.safeParse(msg);
    if (!res.success || typeof res.data.id !== 'number') return;
    const pending = this.pending.get(res.data.id);
    if (!pending) return;
    this.pending.delete(res.data.id);
    if ('error' in res.data) return pending.reject(appErrorFromRpc(res.data.error));
    const checked = methods[pending.method].result.safeParse(res.data.result);
    if (checked.success) pending.resolve(checked.data);
    else pending.reject(new AppError('INTERNAL', `${pending.method}: the server sent a malformed result`));
  }

  private onEvent(name: string, payload: unknown): void {
    if (!isEventName(name)) return;
    const checked = events[name].safeParse(payload);
    if (!checked.success) return;
    for (const l of this.listeners.get(name) ?? []) l(checked.data);
  }

  private onClose(reason: Error): void {
    if (this.closed) return;
    this.closed = reason;
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }
}
