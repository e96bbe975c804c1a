// Who is at the other end of a loopback TCP connection: both ends are on
// this machine, so the client's socket is in the kernel's table of TCP
// sockets (/proc/net/tcp) with its owner's uid. Web mode serves only the
// user who started it; another local user's connection is closed before a
// byte is read (issue 13: a token seen in `ps` must not be enough).
import { readFileSync } from 'node:fs';

/** Hex "0100007F:1F90" (little-endian IPv4, big-endian port) -> "127.0.0.1:8080". */
function decode(addr: string): string | null {
  const [ip, port] = addr.split(':');
  if (!ip || !port || ip.length !== 8) return null;
  const bytes = [0, 1, 2, 3].map((i) => parseInt(ip.slice(i * 2, i * 2 + 2), 16)).reverse();
  return `${bytes.join('.')}:${parseInt(port, 16)}`;
}

/**
 * The uid owning the socket at `clientAddress:clientPort` connected to
 * `serverAddress:serverPort`, or null when it is not in the table (gone, or
 * not on this machine's loopback).
 */
export function loopbackPeerUid(client: { address: string; port: number }, server: { address: string; port: number }, table = '/proc/net/tcp'): number | null {
  let text: string;
  try {
    text = readFileSync(table, 'utf8');
  } catch {
    return null;
  }
  const local = `${client.address}:${client.port}`;
  const remote = `${server.address}:${server.port}`;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid ...
    if (f.length < 8) continue;
    if (decode(f[1] ?? '') === local && decode(f[2] ?? '') === remote) {
      const uid = Number(f[7]);
      return Number.isInteger(uid) ? uid : null;
    }
  }
  return null;
}
