// Which backend a client process uses: the root helper when it answers on
// its socket, else the Service in this process with the user's own
// directories (web mode and the CLI on machines without the helper, and
// e2e tests with image-file sources). Says which, and why.
import { AppError, isAppError } from '../common/contract';
import { RpcClient } from '../common/rpc/client';
import type { Backend } from '../common/rpc/session';
import { LocalBackend } from '../core/api/local-backend';
import type { ServiceOptions } from '../core/service/service';
import { connectHelperSocket, HELPER_SOCKET, HelperBackend, socketTransport } from './client';

export interface SelectedBackend {
  backend: Backend;
  /** Why the local backend was chosen (helper missing, not in the group), for the user. */
  note?: string;
  close(): Promise<void>;
}

export interface SelectOptions {
  /** Default: $SNAPKEEP_HELPER_SOCKET, else /run/snapkeep/helper.sock. */
  socketPath?: string;
  /** Use the local backend without asking the helper (tests, --local). */
  forceLocal?: boolean;
  /**
   * Options of the in-process Service when it is used. Schedules run in it
   * by default (web mode, the desktop app); one-shot commands pass
   * `{ schedule: false }`.
   */
  local?: Partial<ServiceOptions>;
}

/** Asks the helper for system.info; resolves when it answers as a helper. */
export async function probeHelper(socketPath: string = HELPER_SOCKET, timeoutMs = 5000): Promise<void> {
  const sock = await connectHelperSocket(socketPath, timeoutMs);
  const client = new RpcClient(socketTransport(sock));
  const timer = setTimeout(() => client.close(), timeoutMs);
  try {
    const info = await client.call('system.info', {});
    if (info.backend !== 'helper') throw new AppError('HELPER_UNAVAILABLE', `${socketPath} is not served by the snapkeep helper`);
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

export async function selectBackend(o: SelectOptions = {}): Promise<SelectedBackend> {
  const socketPath = o.socketPath ?? process.env['SNAPKEEP_HELPER_SOCKET'] ?? HELPER_SOCKET;
  let note: string | undefined;
  if (!o.forceLocal) {
    try {
      await probeHelper(socketPath);
      return { backend: new HelperBackend(socketPath), close: async () => undefined };
    } catch (e) {
      const why = isAppError(e) ? e.message : String(e);
      note = `${why}; serving in this process instead (image files and unmounted devices only, no live snapshots)`;
    }
  }
  const local = await LocalBackend.open({ schedule: true, ...o.local });
  return { backend: local, ...(note !== undefined && { note }), close: () => local.close() };
}
