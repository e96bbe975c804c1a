// A client of the helper's socket running as another user: a child process
// that setpriv starts with the given uid, gid and supplementary groups,
// connects to the socket and relays frames between its stdio and the
// socket. The helper sees a real peer with that identity (SO_PEERCRED,
// SO_PEERGROUPS, its pid for polkit); the test drives it with the typed
// RpcClient. The tests run as root.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import type { Task } from '../../electron/common/contract';
import { RpcClient, type Transport } from '../../electron/common/rpc/client';

const RELAY = `
  const s = require('net').connect(process.argv[1]);
  s.on('connect', () => process.stdout.write('{"relay":"connected"}\\n'));
  s.on('error', (e) => { process.stdout.write(JSON.stringify({ relay: 'error', code: e.code }) + '\\n'); process.exit(1); });
  s.on('close', () => process.exit(0));
  process.stdin.pipe(s);
  s.pipe(process.stdout);
`;

export interface Who {
  uid: number;
  gid: number;
  groups: number[];
}

export interface MemberClient {
  client: RpcClient;
  pid: number;
  waitTask(taskId: string): Promise<Task>;
  close(): Promise<void>;
}

export async function connectAs(socketPath: string, who: Who): Promise<MemberClient> {
  const child = spawn(
    'setpriv',
    [`--reuid=${who.uid}`, `--regid=${who.gid}`, `--groups=${who.groups.join(',')}`, process.execPath, '-e', RELAY, socketPath],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const frameListeners: ((f: string) => void)[] = [];
  const closeListeners: ((e: Error) => void)[] = [];
  const lines = createInterface({ input: child.stdout });
  const connected = new Promise<void>((resolve, reject) => {
    lines.once('line', (first) => {
      const m = JSON.parse(first) as { relay?: string; code?: string };
      if (m.relay === 'connected') resolve();
      else reject(new Error(`cannot connect as uid ${who.uid}: ${m.code ?? first}`));
      lines.on('line', (l) => frameListeners.forEach((f) => f(l)));
    });
  });
  child.once('exit', () => closeListeners.forEach((l) => l(new Error('relay exited'))));
  await connected;
  const transport: Transport = {
    send: (frame) => child.stdin.write(frame + '\n'),
    onFrame: (l) => frameListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    close: () => child.stdin.end(),
  };
  const client = new RpcClient(transport);
  return {
    client,
    pid: child.pid ?? -1,
    waitTask: async (taskId) => {
      for (;;) {
        const t = await client.call('tasks.get', { taskId });
        if (t.state !== 'running' && t.state !== 'queued') return t;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        client.close();
        child.stdin.end();
      }),
  };
}
