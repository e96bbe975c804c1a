// The backend the desktop window talks to: the service's backend (the root
// helper, or core in process) plus the few methods only the desktop app has
// (contract/app.ts: settings, module install), which main answers itself.
// Both halves go through a Dispatcher, so every call is validated against
// the contract whichever side serves it.
import { Dispatcher, type Handlers } from '../common/rpc/dispatcher';
import type { Backend, Session } from '../common/rpc/session';

export type AppHandlers = Pick<Handlers<object>, 'app.settings.get' | 'app.settings.update' | 'app.module.install'>;

/** The method of a request frame, without trusting anything else in it. */
function methodOf(frame: string): string | null {
  try {
    const msg: unknown = JSON.parse(frame);
    return typeof msg === 'object' && msg !== null && 'method' in msg && typeof msg.method === 'string' ? msg.method : null;
  } catch {
    return null;
  }
}

export class ShellBackend implements Backend {
  private readonly app: Dispatcher<object>;

  constructor(
    private readonly service: Backend,
    handlers: AppHandlers,
    onInternalError?: (method: string, error: unknown) => void,
  ) {
    this.app = new Dispatcher<object>(handlers, onInternalError ? { onInternalError } : {});
  }

  get kind(): Backend['kind'] {
    return this.service.kind;
  }

  async openSession(push: (frame: string) => void): Promise<Session> {
    const inner = await this.service.openSession(push);
    return {
      handleText: (frame) => (methodOf(frame)?.startsWith('app.') ? this.app.handleText(frame, {}) : inner.handleText(frame)),
      close: () => inner.close(),
    };
  }
}
