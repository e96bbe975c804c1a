// A Transport into a backend session in the same process: how main's tray
// agent talks to the service with the same typed client as the window.
import type { Transport } from '../common/rpc/client';
import type { Backend } from '../common/rpc/session';

export async function inProcessTransport(backend: Backend): Promise<Transport> {
  const frameListeners: ((frame: string) => void)[] = [];
  const closeListeners: ((reason: Error) => void)[] = [];
  const deliver = (frame: string) => frameListeners.forEach((l) => l(frame));
  const session = await backend.openSession(deliver);
  let closed = false;
  return {
    send(frame) {
      if (closed) return;
      session.handleText(frame).then(
        (reply) => reply !== null && deliver(reply),
        (e: unknown) => closeListeners.forEach((l) => l(e instanceof Error ? e : new Error(String(e)))),
      );
    },
    onFrame: (l) => frameListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    close() {
      if (closed) return;
      closed = true;
      session.close();
      closeListeners.forEach((l) => l(new Error('closed')));
    },
  };
}
