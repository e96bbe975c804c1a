// An in-process Transport wired to a real backend session: tests exercise the
// real client, dispatcher and handlers without a socket in between.
import type { Transport } from '../../electron/common/rpc/client';
import type { Backend } from '../../electron/common/rpc/session';

export async function memoryTransport(backend: Backend): Promise<Transport> {
  const frameListeners: ((frame: string) => void)[] = [];
  const closeListeners: ((reason: Error) => void)[] = [];
  const deliver = (frame: string) => frameListeners.forEach((l) => l(frame));
  const session = await backend.openSession(deliver);
  return {
    send(frame) {
      void session.handleText(frame).then((reply) => reply !== null && deliver(reply));
    },
    onFrame: (l) => frameListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    close() {
      session.close();
      closeListeners.forEach((l) => l(new Error('closed')));
    },
  };
}
