import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { LocalBackend } from '../../../electron/core/api/local-backend';
import { startWebServer, type WebServer } from '../../../electron/web/server';

let server: WebServer;
let rendererDir: string;

beforeAll(async () => {
  rendererDir = mkdtempSync(path.join(tmpdir(), 'snapkeep-web-'));
  mkdirSync(path.join(rendererDir, 'assets'));
  writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Snapkeep</title>');
  writeFileSync(path.join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  server = await startWebServer({ backend: new LocalBackend(), rendererDir });
});
afterAll(() => server.close());

function wsUrl(token: string | null): string {
  return `ws://127.0.0.1:${server.port}/api` + (token === null ? '' : `?token=${encodeURIComponent(token)}`);
}

function connect(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describe('snapkeep serve', () => {
  it('listens on loopback only and prints a URL with the token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it('serves the renderer with a content security policy', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>Snapkeep</title>');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const js = await fetch(`http://127.0.0.1:${server.port}/assets/app.js`);
    expect(js.headers.get('content-type')).toContain('text/javascript');
  });

  it('never serves files outside the renderer directory', async () => {
    for (const p of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/../../secret']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${p}`);
      expect(await res.text()).not.toContain('root:');
    }
  });

  it('refuses the API without the token, with a wrong token, or from another origin', async () => {
    await expect(connect(wsUrl(null))).rejects.toThrow('HTTP 403');
    await expect(connect(wsUrl('x'.repeat(server.token.length)))).rejects.toThrow('HTTP 403');
    await expect(connect(wsUrl(server.token), { Origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
  });

  it('answers JSON-RPC over the WebSocket with the token', async () => {
    const ws = await connect(wsUrl(server.token), { Origin: `http://127.0.0.1:${server.port}` });
    const reply = await new Promise<string>((resolve) => {
      ws.once('message', (d) => resolve(String(d)));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'system.info', params: {} }));
    });
    ws.close();
    const msg = JSON.parse(reply) as { id: number; result: { backend: string } };
    expect(msg.id).toBe(7);
    expect(msg.result.backend).toBe('local');
  });
});
