// A Session over a Dispatcher and an EventBus: requests go to the handlers,
// subscribed events are pushed as JSON-RPC notifications. Shared by the
// in-process backend and by each connection of the helper's socket.
import type { EventName } from '../../common/contract';
import type { Dispatcher } from '../../common/rpc/dispatcher';
import type { Session } from '../../common/rpc/session';
import type { EventBus } from './event-bus';
import type { SessionContext } from './session-context';

export function openDispatchSession(
  dispatcher: Dispatcher<SessionContext>,
  bus: EventBus,
  push: (frame: string) => void,
  caller?: SessionContext['caller'],
): Session {
  const wanted = new Set<EventName>();
  const stop = bus.listen((name, payload) => {
    if (wanted.has(name)) push(JSON.stringify({ jsonrpc: '2.0', method: name, params: payload }));
  });
  const ctx: SessionContext = {
    subscribe: (names) => names.forEach((n) => wanted.add(n)),
    ...(caller && { caller }),
  };
  return {
    handleText: (frame) => dispatcher.handleText(frame, ctx),
    close: stop,
  };
}
