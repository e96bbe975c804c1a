// Core events (contract/events.ts), emitted by tasks, jobs, the runner and
// the logger, fanned out to the sessions that subscribed to them.
import { EventEmitter } from 'node:events';

import type { EventName, EventPayload } from '../../common/contract';

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
