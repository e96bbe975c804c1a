// The typed client side of the helper's socket, used by Electron main,
// `snapkeep serve` and the CLI: a Transport for the RpcClient, and a
// Backend whose sessions relay frames to the helper (one connection per
// session, so each client's event subscriptions stay its own).
import * as net from 'node:net';

import { AppError } from '../common/contract';
import { RpcClient, type Transport } from '../common/rpc/client';
import { appErrorFromRpc, RPC_APP_ERROR, RPC_INVALID_REQUEST, RPC_PARSE_ERROR, RpcErrorObject } from '../common/rpc/jsonrpc';
import type { Backend, Session } from '../common/rpc/session';
import { LineDecoder } from './framing';

export const HELPER_SOCKET = '/run/snapkeep/helper.sock';

/** Connects to the helper; HELPER_UNAVAILABLE (not running) or PERMISSION_DENIED (socket mode). */
export function connectHelperSocket(socketPath: string = HELPER_SOCKET, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new AppError('HELPER_UNAVAILABLE', `the snapkeep helper at ${socketPath} does not answer`, { path: socketPath }));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'EACCES' || e.code === 'EPERM')
        reject(new AppError('PERMISSION_DENIED', `no access to the snapkeep helper at ${socketPath}: you need to be in the "snapkeep" group`, { path: socketPath, errno: e.code }));
      else reject(new AppError('HELPER_UNAVAILABLE', `the snapkeep helper is not running (${e.code ?? e.message} on ${socketPath})`, { path: socketPath, errno: e.code }));
    });
  });
}

/** A frame with id null and an error: the helper refusing the connection (or a bad frame). */
function refusal(frame: string): AppError | null {
  try {
    const msg = JSON.parse(frame) as { id?: unknown; error?: unknown };
    if (msg.id !== null || msg.error === undefined) return null;
    const err = RpcErrorObject.safeParse(msg.error);
    return err.success ? appErrorFromRpc(err.data) : null;
  } catch {
    return null;
  }
}

/** Newline-delimited frames over a connected socket. */
export function socketTransport(sock: net.Socket): Transport {
  const frameListeners: Array<(f: string) => void> = [];
  const closeListeners: Array<(e: Error) => void> = [];
  let reason: Error | null = null;
  const decoder = new LineDecoder(
    (frame) => {
      reason = refusal(frame) ?? reason;
      frameListeners.forEach((l) => l(frame));
    },
    () => sock.destroy(),
  );
  sock.on('data', (c: Buffer) => decoder.push(c));
  sock.on('error', () => undefined);
  sock.on('close', () => {
    const why = reason ?? new AppError('HELPER_UNAVAILABLE', 'the snapkeep helper closed the connection');
    closeListeners.forEach((l) => l(why));
  });
  return {
    send: (frame) => {
      sock.write(frame + '\n');
    },
    onFrame: (l) => frameListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    close: () => sock.end(),
  };
}

/** A typed client over any backend's session (helper or local): the CLI's way in. */
export async function openClient(backend: Backend): Promise<RpcClient> {
  const frameListeners: Array<(f: string) => void> = [];
  const session = await backend.openSession((frame) => frameListeners.forEach((l) => l(frame)));
  return new RpcClient({
    send: (frame) => {
      void session.handleText(frame).then((reply) => reply !== null && frameListeners.forEach((l) => l(reply)));
    },
    onFrame: (l) => frameListeners.push(l),
    onClose: () => undefined,
    close: () => session.close(),
  });
}

function errorReply(id: unknown, code: number, err: AppError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message: err.message, data: err.toInfo() } });
}

/**
 * Sessions relayed to the root helper. Requests keep their ids; replies are
 * matched back by id; notifications (events) go to the session's push.
 */
export class HelperBackend implements Backend {
  readonly kind = 'helper' as const;

  constructor(readonly socketPath: string = HELPER_SOCKET) {}

  async openSession(push: (frame: string) => void): Promise<Session> {
    const sock = await connectHelperSocket(this.socketPath);
    const pending = new Map<string, (frame: string) => void>();
    let closed: AppError | null = null;
    const transport = socketTransport(sock);
    transport.onFrame((frame) => {
      let msg: { id?: unknown; method?: unknown };
      try {
        msg = JSON.parse(frame) as typeof msg;
      } catch {
        return;
      }
      if (msg.id === undefined && typeof msg.method === 'string') return push(frame);
      const key = JSON.stringify(msg.id);
      const done = pending.get(key);
      if (done) {
        pending.delete(key);
        done(frame);
      }
    });
    transport.onClose((why) => {
      closed = why instanceof AppError ? why : new AppError('HELPER_UNAVAILABLE', why.message);
      for (const [key, done] of pending) done(errorReply(JSON.parse(key), RPC_APP_ERROR, closed));
      pending.clear();
    });
    return {
      handleText: async (frame) => {
        let msg: { id?: unknown };
        try {
          msg = JSON.parse(frame) as typeof msg;
        } catch {
          return errorReply(null, RPC_PARSE_ERROR, new AppError('INVALID_ARGUMENT', 'parse error: not JSON'));
        }
        if (closed) return msg.id === undefined ? null : errorReply(msg.id ?? null, RPC_APP_ERROR, closed);
        if (typeof msg !== 'object' || msg === null || msg.id === undefined) {
          transport.send(frame);
          return null;
        }
        if (typeof msg.id !== 'string' && typeof msg.id !== 'number')
          return errorReply(null, RPC_INVALID_REQUEST, new AppError('INVALID_ARGUMENT', 'invalid request: id must be a string or a number'));
        const key = JSON.stringify(msg.id);
        if (pending.has(key)) return errorReply(msg.id, RPC_INVALID_REQUEST, new AppError('INVALID_ARGUMENT', `request id ${key} is already in flight`));
        return new Promise<string>((resolve) => {
          pending.set(key, resolve);
          transport.send(frame);
        });
      },
      close: () => transport.close(),
    };
  }
}
