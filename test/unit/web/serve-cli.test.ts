// `snapkeep serve --open` as a user runs it (the built CLI, in-process
// backend, its own home and runtime folder), with a stand-in for the
// browser (SNAPKEEP_BROWSER: a small Node program that does what a browser
// does with the file it is given: follows its link, keeps the cookie, opens
// the WebSocket from our origin). Meanwhile every process's command line is
// read again and again: no login code and no session cookie may ever show.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, describe, expect, it } from 'vitest';

const CLI = path.resolve('out/js/electron/cli/snapkeep.js');
const home = mkdtempSync(path.join(tmpdir(), 'snapkeep-serve-'));
const runtime = path.join(home, 'run');
const renderer = path.join(home, 'renderer');
const report = path.join(home, 'browser-report.json');
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGTERM');
  rmSync(home, { recursive: true, force: true });
});

const BROWSER = `#!${process.execPath}
// Stand-in browser: argv[2] is the file serve asked it to open.
const fs = require('fs');
const WebSocket = require(${JSON.stringify(require.resolve('ws'))});
(async () => {
  const page = fs.readFileSync(process.argv[2], 'utf8');
  const url = /content="0;url=([^"]+)"/.exec(page)[1].replace(/&#(\\d+);/g, (_, c) => String.fromCharCode(c));
  const res = await fetch(url, { redirect: 'manual' });
  const cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  const origin = new URL(url).origin;
  const ws = new WebSocket(origin.replace('http', 'ws') + '/api', { headers: { Origin: origin, Cookie: cookie } });
  ws.on('open', () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'system.info', params: {} })));
  ws.on('message', (m) => {
    fs.writeFileSync(process.argv[3] || ${JSON.stringify(report)}, JSON.stringify({ status: res.status, cookie, reply: JSON.parse(String(m)) }));
    ws.close();
  });
  ws.on('error', (e) => fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify({ status: res.status, error: e.message })));
})();
`;

/** Every process's command line, as ps shows them. */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('snapkeep serve --open', () => {
  it('opens the browser on a 0600 file, never with a secret on a command line, and the browser gets in', async () => {
    if (!existsSync(CLI)) throw new Error('not built: run npm run build');
    mkdirSync(runtime, { mode: 0o700 });
    mkdirSync(renderer);
    writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>Snapkeep</title>');
    const browser = path.join(home, 'browser');
    writeFileSync(browser, BROWSER);
    chmodSync(browser, 0o755);

    const seen = new Set<string>();
    const watch = setInterval(() => commandLines().forEach((l) => seen.add(l)), 10);
    try {
      child = spawn(process.execPath, [CLI, 'serve', '--local', '--open', '--json'], {
        env: {
          ...process.env,
          HOME: home,
          XDG_CONFIG_HOME: path.join(home, '.config'),
          XDG_STATE_HOME: path.join(home, '.local/state'),
          XDG_RUNTIME_DIR: runtime,
          SNAPKEEP_HELPER_SOCKET: path.join(home, 'no-helper.sock'),
          SNAPKEEP_RENDERER_DIR: renderer,
          SNAPKEEP_BROWSER: browser,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const first = await new Promise<string>((resolve) => createInterface({ input: child!.stdout! }).once('line', resolve));
      const printed = JSON.parse(first) as { url: string; port: number; loginFile: string };
      const fileAtStart = readFileSync(printed.loginFile, 'utf8');
      for (let i = 0; i < 300 && !existsSync(report); i++) await new Promise((r) => setTimeout(r, 50));
      const got = JSON.parse(readFileSync(report, 'utf8')) as { status: number; cookie: string; reply: { result: { backend: string } } };

      // The browser got in through the file: login, cookie, API.
      expect(got.status).toBe(303);
      expect(got.reply.result.backend).toBe('local');
      // The file is the user's alone, and holds a fresh code after its code was used.
      expect(printed.loginFile).toBe(path.join(runtime, 'snapkeep', `web-${printed.port}.html`));
      expect(statSync(printed.loginFile).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(printed.loginFile)).mode & 0o777).toBe(0o700);
      for (let i = 0; i < 100 && readFileSync(printed.loginFile, 'utf8') === fileAtStart; i++) await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(printed.loginFile, 'utf8')).not.toBe(fileAtStart);

      // Nothing secret on any command line while all this happened.
      const secrets = [
        new URL(printed.url).searchParams.get('code') ?? '',
        /code=([A-Za-z0-9_-]+)/.exec(fileAtStart)?.[1] ?? '',
        /code=([A-Za-z0-9_-]+)/.exec(readFileSync(printed.loginFile, 'utf8'))?.[1] ?? '',
        got.cookie.split('=')[1] ?? '',
      ];
      for (const s of secrets) expect(s.length).toBeGreaterThanOrEqual(32);
      expect(seen.size).toBeGreaterThan(3);
      for (const s of secrets) expect([...seen].filter((l) => l.includes(s))).toEqual([]);
      expect([...seen].some((l) => l.includes(browser) && l.includes(printed.loginFile))).toBe(true);
    } finally {
      clearInterval(watch);
      child?.kill('SIGTERM');
      await new Promise((r) => child?.once('exit', r));
    }
    // serve removes its file when it stops.
    expect(readdirSync(path.join(runtime, 'snapkeep'))).toEqual([]);
  });
});
