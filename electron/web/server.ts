// `snapkeep serve`: the built renderer and the contract over a WebSocket, on
// the loopback interface only. Who may use it:
//
// - only the user who started it: every TCP connection from another uid is
//   closed at once (tcp-peer.ts looks its socket up in /proc/net/tcp);
// - only a browser that logged in: a single-use code (in a URL, or in the
//   0600 file serve keeps for the user to open) is exchanged once for a
//   session cookie, HttpOnly and SameSite=Strict, which the WebSocket then
//   carries by itself; no secret is ever in a URL that stays useful, in a
//   command line, or readable by the page's scripts;
// - only our own pages: Host must name this server (a DNS-rebinding page
//   names its own host), and the WebSocket's Origin must be this server.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { WebSocketServer, type WebSocket } from 'ws';

import type { Backend } from '../common/rpc/session';
import { serveStatic } from './static-files';
import { loopbackPeerUid } from './tcp-peer';

export interface WebServerOptions {
  backend: Backend;
  rendererDir: string;
  host?: string;
  port?: number;
  /** The only uid whose connections are served (default: this process's). */
  uid?: number;
  /** How long a login code may wait to be used (default 10 minutes). */
  codeLifetimeMs?: number;
  /** Called after a login code was used (serve then writes a fresh one into its file). */
  onLogin?: () => void;
  /** Told about every refused connection or request. */
  onRefused?: (why: string) => void;
}

export interface WebServer {
  /** http://127.0.0.1:P/ (carries no secret). */
  origin: string;
  port: number;
  /** A fresh single-use login URL: http://127.0.0.1:P/login?code=... */
  loginUrl(): string;
  close(): Promise<void>;
}

const MAX_FRAME = 1 << 20;
const SECRET_BYTES = 24;

function equalSecrets(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function securityHeaders(port: number): Record<string, string> {
  return {
    // PrimeVue injects its theme as <style> elements, hence style 'unsafe-inline'.
    'Content-Security-Policy':
      `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; ` +
      `font-src 'self' data:; connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

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

/**
 * The request's path as a URL on this server, or null when it is none: a
 * target like "//" reads as a URL of another host and would throw, and a
 * throw in the handler would end `serve` for any web page that asks.
 */
function requestUrl(target: string | undefined, host: string, port: number): URL | null {
  const t = target ?? '/';
  if (!t.startsWith('/') || t.startsWith('//')) return null;
  try {
    return new URL(t, `http://${host}:${port}`);
  } catch {
    return null;
  }
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const host = opts.host ?? '127.0.0.1';
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  const lifetime = opts.codeLifetimeMs ?? 10 * 60_000;
  const codes = new Map<string, number>(); // code -> expiry (ms)
  const sessions = new Set<string>();
  let port = 0;
  const cookieName = () => `snapkeep-${port}`;
  const refused = (why: string) => opts.onRefused?.(why);

  const hostOk = (h: string | undefined) => h === `${host}:${port}` || h === `localhost:${port}`;
  const originOk = (o: string | undefined) => o === `http://${host}:${port}` || o === `http://localhost:${port}`;
  const sessionOf = (req: http.IncomingMessage): string | null => {
    const sid = cookieValue(req.headers.cookie, cookieName());
    if (sid === null) return null;
    for (const s of sessions) if (equalSecrets(s, sid)) return s;
    return null;
  };
  const takeCode = (given: string | null): boolean => {
    const now = Date.now();
    for (const [c, exp] of codes) if (exp < now) codes.delete(c);
    if (given === null) return false;
    for (const c of codes.keys())
      if (equalSecrets(c, given)) {
        codes.delete(c); // single use
        return true;
      }
    return false;
  };

  const login = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const headers = { ...securityHeaders(port), 'Cache-Control': 'no-store' };
    if (takeCode(url.searchParams.get('code'))) {
      const sid = randomBytes(SECRET_BYTES).toString('base64url');
      sessions.add(sid);
      res.writeHead(303, { ...headers, Location: '/', 'Set-Cookie': `${cookieName()}=${sid}; HttpOnly; SameSite=Strict; Path=/` }).end();
      opts.onLogin?.();
      return;
    }
    // A spent link opened again in a browser that is logged in already.
    if (sessionOf(req) !== null) {
      res.writeHead(303, { ...headers, Location: '/' }).end();
      return;
    }
    refused('a login link that was used already, has expired or is wrong');
    res
      .writeHead(403, { ...headers, 'Content-Type': 'text/html; charset=utf-8' })
      .end(
        `<!doctype html><meta charset="utf-8"><title>Snapkeep</title><h1>This link has been used or has expired</h1>` +
          `<p>Each Snapkeep link works once. Open the newest one that <code>snapkeep serve</code> printed, or the file it keeps for you.</p>`,
      );
  };

  const server = http.createServer((req, res) => {
    if (!hostOk(req.headers.host)) {
      refused(`a request for host ${JSON.stringify(req.headers.host ?? '')}`);
      res.writeHead(421, { 'Content-Type': 'text/plain' }).end(`this server answers to ${host}:${port} only`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const url = requestUrl(req.url, host, port);
    if (url === null) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('not a path this server knows');
      return;
    }
    if (url.pathname === '/login') return login(req, res, url);
    void serveStatic(opts.rendererDir, url.pathname, res, securityHeaders(port));
  });

  // Another local user: closed before anything is read.
  server.on('connection', (sock: Socket) => {
    const peer = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? -1 };
    const owner = loopbackPeerUid(peer, { address: sock.localAddress ?? '', port: sock.localPort ?? -1 });
    if (owner !== uid) {
      refused(`a connection from uid ${owner ?? 'unknown'} (only uid ${uid} is served)`);
      sock.destroy();
    }
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  server.on('upgrade', (req, socket, head) => {
    const url = requestUrl(req.url, host, port);
    // Another web page in the user's browser must not reach the API: our
    // host, our origin, and the session cookie only a login sets.
    if (url?.pathname !== '/api' || !hostOk(req.headers.host) || !originOk(req.headers.origin) || sessionOf(req) === null) {
      refused(`a WebSocket without ${!hostOk(req.headers.host) ? 'our host' : !originOk(req.headers.origin) ? 'our origin' : 'a session'}`);
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
    origin: `http://${host}:${port}/`,
    port,
    loginUrl: () => {
      const code = randomBytes(SECRET_BYTES).toString('base64url');
      codes.set(code, Date.now() + lifetime);
      return `http://${host}:${port}/login?code=${code}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The page serve keeps in a 0600 file: opening it logs the browser in (once). */
export function loginPage(url: string): string {
  const u = escapeHtml(url);
  return (
    `<!doctype html>\n<meta charset="utf-8">\n<meta http-equiv="refresh" content="0;url=${u}">\n<title>Snapkeep</title>\n` +
    `<p>Opening Snapkeep… If nothing happens, <a id="login" href="${u}">open it here</a>.</p>\n`
  );
}
