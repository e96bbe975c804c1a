// The served API from the test process, as the page reaches it (a login
// link for the session cookie, the same WebSocket with our origin, the same
// validated contract): to set up what a test needs (repositories, jobs,
// runs) quickly instead of through the UI.
import * as http from 'node:http';

import WebSocket from 'ws';

import type { Task } from '../../../electron/common/contract';
import { RpcClient, type Transport } from '../../../electron/common/rpc/client';
import type { Served } from './serve';

/** Logs in with a fresh link; resolves to the session cookie serve sets. */
function login(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.resume();
        const cookie = res.headers['set-cookie']?.[0]?.split(';')[0];
        if (res.statusCode === 303 && cookie) resolve(cookie);
        else reject(new Error(`login refused: HTTP ${res.statusCode}`));
      })
      .on('error', reject);
  });
}

export async function apiClient(served: Served): Promise<RpcClient> {
  const cookie = await login(await served.loginUrl());
  const ws = new WebSocket(`ws://127.0.0.1:${served.port}/api`, { headers: { Cookie: cookie, Origin: served.origin } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const frames: Array<(f: string) => void> = [];
  const closes: Array<(e: Error) => void> = [];
  ws.on('message', (d) => frames.forEach((l) => l(d.toString())));
  ws.on('close', () => closes.forEach((l) => l(new Error('closed'))));
  const transport: Transport = {
    send: (f) => ws.send(f),
    onFrame: (l) => frames.push(l),
    onClose: (l) => closes.push(l),
    close: () => ws.close(),
  };
  const client = new RpcClient(transport);
  await client.call('events.subscribe', { names: ['task.updated', 'job.updated'] });
  return client;
}

/** Waits for a task to end; returns its final state as the service reports it. */
export async function waitTask(client: RpcClient, taskId: string, timeoutMs = 120_000): Promise<Task> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const t = await client.call('tasks.get', { taskId });
    if (t.state !== 'running' && t.state !== 'queued') return t;
    if (Date.now() > end) throw new Error(`task ${taskId} still ${t.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
