// The in-process backend: the contract served by core directly, without the
// root helper. Used by the CLI and web mode on machines without the helper
// (with per-user directories), and by tests. `LocalBackend.open()` serves
// the whole Service; `new LocalBackend(bus, handlers)` serves just the
// handlers given (tests of the plumbing).
import { isEventName } from '../../common/contract';
import { Dispatcher, type Handlers } from '../../common/rpc/dispatcher';
import type { Backend, Session } from '../../common/rpc/session';
import { userDirs, type ServiceDirs } from '../persist/dirs';
import { Service, type ServiceOptions } from '../service/service';
import { moduleStatus } from '../system/module-status';
import { systemInfo } from '../system/system-info';
import { openDispatchSession } from './dispatch-session';
import { EventBus } from './event-bus';
import { serviceHandlers } from './handlers';
import type { SessionContext } from './session-context';

export { EventBus } from './event-bus';
export type { SessionContext } from './session-context';

/** The few methods that need no Service: what the app shows before anything is set up. */
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
    /** The service behind the handlers, closed with the backend. */
    readonly service: Service | null = null,
  ) {
    this.dispatcher = new Dispatcher(handlers, {
      onInternalError: (method, e) => service?.logger.log('error', 'api', `${method}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
    });
  }

  /** The whole Service in this process, by default with the user's XDG directories. */
  static async open(options: Partial<ServiceOptions> & { dirs?: ServiceDirs } = {}): Promise<LocalBackend> {
    const service = await Service.open({ kind: 'local', dirs: options.dirs ?? userDirs(), ...options });
    return new LocalBackend(service.bus, serviceHandlers(service), service);
  }

  async openSession(push: (frame: string) => void): Promise<Session> {
    return openDispatchSession(this.dispatcher, this.bus, push);
  }

  async close(): Promise<void> {
    await this.service?.close();
  }
}
