// `snapkeep serve`: the built renderer and the contract over a WebSocket, on
// the loopback interface only, guarded by a random token that the printed
// URL carries. The page keeps the token and presents it when it connects.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { WebSocketServer, type WebSocket } from 'ws';

import type { Backend } from '../common/rpc/session';
import { serveStatic } from './static-files';

export interface WebServerOptions {
  backend: Backend;
  rendererDir: string;
  host?: string;
  port?: number;
  token?: string;
}

export interface WebServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MAX_FRAME = 1 << 20;

function tokenMatches(expected: string, given: string | null): boolean {
  if (given === null) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function securityHeaders(port: number): Record<string, string> {
  return {
    // PrimeVue injects its theme as <style> elements, hence style 'unsafe-inline'.
    'Content-Security-Policy':
      `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; ` +
      `font-src 'self' data:; connect-src 'self' ws://127.0.0.1:${port}; frame-ancestors 'none'; base-uri 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
}

function pump(ws: WebSocket, backend: Backend): void {
  const queue: string[] = [];
  let session: Awaited<ReturnType<Backend['openSession']>> | null = null;
  const send = (frame: string) => {
    if (ws.readyState === ws.OPEN) ws.send(frame);
  };
  const handle = (frame: string): void => {
    if (!session) {
      queue.push(frame);
      return;
    }
    session
      .handleText(frame)
      .then((out) => out !== null && send(out))
      .catch(() => ws.close(1011, 'backend failure'));
  };
  ws.on('message', (data, isBinary) => {
    if (isBinary) ws.close(1003, 'text frames only');
    else handle(data.toString());
  });
  ws.on('close', () => session?.close());
  backend
    .openSession(send)
    .then((s) => {
      session = s;
      if (ws.readyState !== ws.OPEN) return s.close();
      queue.splice(0).forEach(handle);
    })
    .catch(() => ws.close(1011, 'backend unavailable'));
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(24).toString('base64url');
  let port = 0;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    void serveStatic(opts.rendererDir, url.pathname, res, securityHeaders(port));
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Another web page in the user's browser must not reach the API: demand
    // the token and our own origin.
    const origin = req.headers.origin;
    const originOk = origin === undefined || origin === `http://${host}:${port}`;
    if (url.pathname !== '/api' || !originOk || !tokenMatches(token, url.searchParams.get('token'))) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => pump(ws, opts.backend));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, resolve);
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
