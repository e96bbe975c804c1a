// The in-process backend: the contract served by core directly, without the
// root helper. Used by the CLI and web mode on machines without the helper,
// and by tests. Privileged methods report what they need instead of failing
// obscurely.
import { EventEmitter } from 'node:events';

import { isEventName, type EventName, type EventPayload } from '../../common/contract';
import { Dispatcher, type Handlers } from '../../common/rpc/dispatcher';
import type { Backend, Session } from '../../common/rpc/session';
import { moduleStatus } from '../system/module-status';
import { systemInfo } from '../system/system-info';

/** What a handler knows about the session that called it. */
export interface SessionContext {
  subscribe(names: EventName[]): void;
}

/** Core events, emitted by tasks and jobs, fanned out to subscribed sessions. */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    this.emitter.emit('event', name, payload);
  }

  listen(listener: (name: EventName, payload: unknown) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}

export function coreHandlers(): Handlers<SessionContext> {
  return {
    'system.info': () => systemInfo('local'),
    'module.status': () => moduleStatus(),
    'events.subscribe': ({ names }, ctx) => {
      ctx.subscribe(names.filter(isEventName));
      return { ok: true as const };
    },
  };
}

export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  private readonly dispatcher: Dispatcher<SessionContext>;

  constructor(
    readonly bus: EventBus = new EventBus(),
    handlers: Handlers<SessionContext> = coreHandlers(),
  ) {
    this.dispatcher = new Dispatcher(handlers);
  }

  async openSession(push: (frame: string) => void): Promise<Session> {
    const wanted = new Set<EventName>();
    const stop = this.bus.listen((name, payload) => {
      if (wanted.has(name)) push(JSON.stringify({ jsonrpc: '2.0', method: name, params: payload }));
    });
    const ctx: SessionContext = { subscribe: (names) => names.forEach((n) => wanted.add(n)) };
    return {
      handleText: (frame) => this.dispatcher.handleText(frame, ctx),
      close: stop,
    };
  }
}
