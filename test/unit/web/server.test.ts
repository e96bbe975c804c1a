// Web mode's doors, for real: the server on 127.0.0.1 with the in-process
// backend, requests from this process (root, the serving user) and from
// another uid (nobody, through setpriv). The login code is single-use and
// becomes an HttpOnly, SameSite=Strict session cookie; Host and Origin name
// this server; another user's TCP connection is closed unread.
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as http from 'node:http';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { LocalBackend } from '../../../electron/core/api/local-backend';
import { startWebServer, type WebServer } from '../../../electron/web/server';

let server: WebServer;
let rendererDir: string;
const refusals: string[] = [];

beforeAll(async () => {
  rendererDir = mkdtempSync(path.join(tmpdir(), 'snapkeep-web-'));
  mkdirSync(path.join(rendererDir, 'assets'));
  writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Snapkeep</title>');
  writeFileSync(path.join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  server = await startWebServer({ backend: new LocalBackend(), rendererDir, onRefused: (why) => refusals.push(why) });
});
afterAll(() => server.close());

/** A GET with exactly these headers (fetch would not let a test set Host). */
function get(p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: server.port, path: p, headers: { Host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** Logs in with a fresh code; returns the cookie header a browser would send. */
async function login(): Promise<string> {
  const url = new URL(server.loginUrl());
  const res = await get(url.pathname + url.search);
  expect(res.status).toBe(303);
  const set = res.headers['set-cookie']?.[0] ?? '';
  return set.split(';')[0] ?? '';
}

function connect(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

const ORIGIN = () => `http://127.0.0.1:${server.port}`;

describe('snapkeep serve', () => {
  it('listens on loopback only; its address carries no secret, each login URL its own code', () => {
    expect(server.origin).toBe(`http://127.0.0.1:${server.port}/`);
    const a = new URL(server.loginUrl());
    const b = new URL(server.loginUrl());
    expect(a.pathname).toBe('/login');
    expect(a.searchParams.get('code')?.length).toBeGreaterThanOrEqual(32);
    expect(a.searchParams.get('code')).not.toBe(b.searchParams.get('code'));
  });

  it('serves the renderer with a content security policy', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>Snapkeep</title>');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect((await get('/assets/app.js')).headers['content-type']).toContain('text/javascript');
  });

  it('never serves files outside the renderer directory', async () => {
    for (const p of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/../../secret']) expect((await get(p)).body).not.toContain('root:');
  });

  it('answers a request path that is no URL (//, a WebSocket to //) with 400 and keeps serving', async () => {
    for (const p of ['//', '//x', '//@']) expect((await get(p)).status, p).toBe(400);
    const ws = await connect({ Origin: ORIGIN() }).then(
      () => 'opened',
      (e: unknown) => String(e),
    );
    expect(ws).toMatch(/HTTP 403/);
    const upgrade = await new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, path: '//', headers: { Host: `127.0.0.1:${server.port}`, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('upgrade', () => resolve('upgraded'));
      req.on('response', (res) => resolve(`HTTP ${res.statusCode ?? 0}`));
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    expect(upgrade).toMatch(/HTTP 40[03]|error socket hang up/);
    expect((await get('/')).status).toBe(200);
  });

  it('exchanges a login code once for an HttpOnly, SameSite=Strict session cookie', async () => {
    const url = new URL(server.loginUrl());
    const first = await get(url.pathname + url.search);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    expect(first.headers['set-cookie']?.[0]).toMatch(new RegExp(`^snapkeep-${server.port}=[A-Za-z0-9_-]{32,}; HttpOnly; SameSite=Strict; Path=/$`));
    const again = await get(url.pathname + url.search);
    expect(again.status).toBe(403);
    expect(again.body).toContain('This link has been used or has expired');
    expect(again.headers['set-cookie']).toBeUndefined();
  });

  it('refuses an expired code', async () => {
    const quick = await startWebServer({ backend: new LocalBackend(), rendererDir, codeLifetimeMs: 1 });
    try {
      const url = quick.loginUrl();
      await new Promise((r) => setTimeout(r, 20));
      expect((await fetch(url, { redirect: 'manual' })).status).toBe(403);
    } finally {
      await quick.close();
    }
  });

  it('refuses a request for another host (DNS rebinding)', async () => {
    const res = await get('/', { Host: `evil.example:${server.port}` });
    expect(res.status).toBe(421);
    expect(res.body).not.toContain('Snapkeep</title>');
    const url = new URL(server.loginUrl());
    expect((await get(url.pathname + url.search, { Host: `evil.example:${server.port}` })).status).toBe(421);
  });

  it('refuses the API without a session, with a made-up one, from another origin, without an origin, or for another host', async () => {
    const cookie = await login();
    const fake = `snapkeep-${server.port}=${'A'.repeat(32)}`;
    await expect(connect({ Origin: ORIGIN() })).rejects.toThrow('HTTP 403');
    await expect(connect({ Origin: ORIGIN(), Cookie: fake })).rejects.toThrow('HTTP 403');
    await expect(connect({ Origin: 'http://evil.example', Cookie: cookie })).rejects.toThrow('HTTP 403');
    await expect(connect({ Cookie: cookie })).rejects.toThrow('HTTP 403');
    await expect(connect({ Origin: ORIGIN(), Cookie: cookie, Host: `evil.example:${server.port}` })).rejects.toThrow('HTTP 403');
  });

  it('answers JSON-RPC over the WebSocket with the session cookie and our origin', async () => {
    const ws = await connect({ Origin: ORIGIN(), Cookie: await login() });
    const reply = await new Promise<string>((resolve) => {
      ws.once('message', (d) => resolve(String(d)));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'system.info', params: {} }));
    });
    ws.close();
    expect(JSON.parse(reply)).toMatchObject({ id: 7, result: { backend: 'local' } });
  });

  it('closes a connection from another local user unread, even one holding a valid code', async () => {
    const url = server.loginUrl();
    refusals.length = 0;
    const script = `
      const req = require('http').get(process.argv[1], (res) => { console.log('HTTP', res.statusCode); process.exit(0); });
      req.on('error', (e) => { console.log('failed', e.code ?? e.message); process.exit(0); });
      setTimeout(() => { console.log('failed: no answer'); process.exit(0); }, 15000);`;
    const out = await new Promise<string>((resolve) =>
      execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script, url], { cwd: '/' }, (_e, stdout, stderr) => resolve(stdout.trim() || stderr.trim())),
    );
    expect(out).toMatch(/^failed (ECONNRESET|socket hang up)$/);
    expect(refusals.some((r) => r.startsWith('a connection from uid 65534'))).toBe(true);
    // The code was not spent: the user it belongs to still logs in with it.
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(303);
  });
});
