// A raw client of the helper's socket: sends any bytes, collects reply
// frames. For tests that must send what the typed client never would.
import * as net from 'node:net';

export interface RawConnection {
  send(text: string): void;
  /** The next frame, parsed. */
  next(): Promise<Record<string, unknown>>;
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
  close(): void;
}

export function rawConnect(socketPath: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    const frames: string[] = [];
    const waiters: Array<(f: string) => void> = [];
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const f = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(f);
        else frames.push(f);
      }
    });
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.once('error', reject);
    sock.once('connect', () =>
      resolve({
        send: (t) => sock.write(t),
        next: () =>
          new Promise((r) => {
            const f = frames.shift();
            if (f !== undefined) r(JSON.parse(f) as Record<string, unknown>);
            else waiters.push((x) => r(JSON.parse(x) as Record<string, unknown>));
          }),
        closed,
        close: () => sock.destroy(),
      }),
    );
  });
}

/**
 * Connects as another user (setpriv drops to uid/gid with the given
 * supplementary groups), sends one request, prints every reply frame, and
 * resolves with them once the server closes or after the first reply.
 */
export async function requestAs(
  socketPath: string,
  who: { uid: number; gid: number; groups: number[] },
  request: object,
): Promise<Array<Record<string, unknown>>> {
  const { spawn } = await import('node:child_process');
  const script = `
    const s = require('net').connect(process.argv[1]);
    let buf = '';
    s.on('data', (d) => { buf += d; if (buf.includes('\\n')) { process.stdout.write(buf); s.destroy(); } });
    s.on('end', () => { process.stdout.write(buf); });
    s.on('error', (e) => { process.stdout.write(JSON.stringify({ connectError: e.code }) + '\\n'); });
    s.on('connect', () => s.write(process.argv[2] + '\\n'));
  `;
  const child = spawn(
    'setpriv',
    [`--reuid=${who.uid}`, `--regid=${who.gid}`, `--groups=${who.groups.join(',')}`, process.execPath, '-e', script, socketPath, JSON.stringify(request)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': stdout may still hold the reply when the process has exited.
  await new Promise((r) => child.on('close', r));
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
