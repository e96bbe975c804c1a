// SO_PEERCRED / SO_PEERGROUPS on real Unix sockets: this process, and a
// child that dropped to nobody with a chosen supplementary group (setpriv;
// the tests run as root on the host and in the VM).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { groupId, peerCredentials } from '../index';

const dir = mkdtempSync(path.join(tmpdir(), 'snapkeep-pc-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function socketFd(s: net.Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('no fd on the socket');
  return fd;
}

/** Accepts one connection and returns its credentials. */
async function credentialsOfNextPeer(connect: (sock: string) => void) {
  const sock = path.join(dir, `s${Math.random().toString(36).slice(2)}`);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(sock, r));
  chmodSync(sock, 0o777);
  try {
    const got = new Promise<ReturnType<typeof peerCredentials>>((resolve) =>
      server.once('connection', (s) => {
        resolve(peerCredentials(socketFd(s)));
        s.destroy();
      }),
    );
    connect(sock);
    return await got;
  } finally {
    server.close();
  }
}

describe('peercred binding', () => {
  it('reports this process as the peer of its own connection', async () => {
    let client: net.Socket | undefined;
    const cred = await credentialsOfNextPeer((sock) => (client = net.connect(sock)));
    client?.destroy();
    expect(cred.pid).toBe(process.pid);
    expect(cred.uid).toBe(process.getuid?.());
    expect(cred.gid).toBe(process.getgid?.());
    // Node's getgroups() always includes the effective gid; the kernel's list need not.
    expect(new Set([...cred.groups, cred.gid])).toEqual(new Set(process.getgroups?.() ?? []));
  });

  it('reports a child that dropped to nobody, with its supplementary groups', async () => {
    const cred = await credentialsOfNextPeer((sock) => {
      spawn('setpriv', ['--reuid=65534', '--regid=65534', '--groups=65534,4242', process.execPath, '-e', `require('net').connect(${JSON.stringify(sock)}).on('error',()=>{})`], {
        stdio: 'ignore',
      });
    });
    expect(cred.uid).toBe(65534);
    expect(cred.gid).toBe(65534);
    expect(cred.groups.sort()).toEqual([4242, 65534]);
  });

  it('looks groups up by name', () => {
    expect(groupId('root')).toBe(0);
    expect(groupId('no-such-group-snapkeep-test')).toBeNull();
    expect(() => peerCredentials(-1)).toThrow(TypeError);
  });
});
