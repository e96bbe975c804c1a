// The helper's socket: newline-delimited JSON-RPC 2.0 on a Unix socket.
// Every connection is checked against the peer's credentials as the kernel
// recorded them (SO_PEERCRED / SO_PEERGROUPS) before a single frame is read;
// a refused peer gets one error frame saying why and is disconnected.
// Everything after that goes through the Dispatcher, which validates each
// request against the contract.
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { AppError } from '../common/contract';
import type { Dispatcher } from '../common/rpc/dispatcher';
import { RPC_APP_ERROR } from '../common/rpc/jsonrpc';
import { processStartTime } from '../core/access/polkit';
import { openDispatchSession } from '../core/api/dispatch-session';
import type { EventBus } from '../core/api/event-bus';
import type { SessionContext } from '../core/api/session-context';
import type { SourceLogger } from '../core/logs/logger';
import { peerCredentials, type PeerCredentials } from '../../native';
import { LineDecoder, MAX_FRAME } from './framing';
import type { Verdict } from './peer-auth';

export interface SocketServerOptions {
  socketPath: string;
  dispatcher: Dispatcher<SessionContext>;
  bus: EventBus;
  authorize: (cred: PeerCredentials) => Verdict;
  log: SourceLogger;
  /** File mode of the socket (0660: root and the group; the kernel checks it at connect). */
  mode?: number;
  /** Group owning the socket. */
  gid?: number | null;
  /** A client that lets this much output pile up unread is disconnected. */
  maxBacklog?: number;
}

export interface SocketServer {
  socketPath: string;
  connections(): number;
  close(): Promise<void>;
}

function fdOf(sock: net.Socket): number {
  // net.Socket keeps its descriptor on the native handle; there is no public accessor.
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('connection has no file descriptor');
  return fd;
}

function errorFrame(err: AppError): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: RPC_APP_ERROR, message: err.message, data: err.toInfo() } }) + '\n';
}

/** Whether something already answers on the socket (another helper). */
async function inUse(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function startSocketServer(o: SocketServerOptions): Promise<SocketServer> {
  await fs.mkdir(path.dirname(o.socketPath), { recursive: true, mode: 0o755 });
  if (await inUse(o.socketPath)) throw new AppError('CONFLICT', `another snapkeep helper is already serving ${o.socketPath}`, { path: o.socketPath });
  // A socket file left by a killed helper would make listen() fail.
  await fs.rm(o.socketPath, { force: true });

  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    // Tracked from the first moment, refused ones included, so close() can end them all.
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let cred: PeerCredentials;
    try {
      cred = peerCredentials(fdOf(sock));
    } catch (e) {
      o.log.error(`connection without credentials refused: ${e instanceof Error ? e.message : String(e)}`);
      sock.destroy();
      return;
    }
    const verdict = o.authorize(cred);
    if (!verdict.ok) {
      o.log.warn(`refused a connection from uid ${cred.uid} (pid ${cred.pid}): ${verdict.reason}`);
      sock.end(errorFrame(new AppError('PERMISSION_DENIED', verdict.reason, { uid: cred.uid })));
      return;
    }
    o.log.debug(`connection from uid ${cred.uid} (pid ${cred.pid})`);
    const maxBacklog = o.maxBacklog ?? 16 * MAX_FRAME;
    const send = (frame: string) => {
      if (sock.destroyed) return;
      if (sock.writableLength > maxBacklog) {
        o.log.warn(`client pid ${cred.pid} does not read its replies; disconnected`);
        sock.destroy();
        return;
      }
      sock.write(frame + '\n');
    };
    // The start time, read now, pins the pid to this process for polkit.
    const startTime = processStartTime(cred.pid);
    const session = openDispatchSession(o.dispatcher, o.bus, send, {
      uid: cred.uid,
      gid: cred.gid,
      groups: cred.groups,
      pid: cred.pid,
      ...(startTime !== undefined && { startTime }),
    });
    const decoder = new LineDecoder(
      (frame) => {
        session.handleText(frame).then(
          (reply) => reply !== null && send(reply),
          () => sock.destroy(),
        );
      },
      () => {
        sock.end(errorFrame(new AppError('INVALID_ARGUMENT', `frame larger than ${MAX_FRAME} bytes`)));
      },
    );
    sock.on('data', (chunk: Buffer) => decoder.push(chunk));
    sock.on('error', () => undefined);
    sock.on('close', () => session.close());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Created with no access for anyone, then opened up: no window in which
    // a non-member could connect.
    const mask = process.umask(0o177);
    try {
      server.listen(o.socketPath, () => resolve());
    } finally {
      process.umask(mask);
    }
  });
  if (o.gid !== undefined && o.gid !== null) await fs.chown(o.socketPath, 0, o.gid);
  await fs.chmod(o.socketPath, o.mode ?? 0o660);

  return {
    socketPath: o.socketPath,
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          fs.rm(o.socketPath, { force: true }).then(() => resolve(), () => resolve());
        });
      }),
  };
}
