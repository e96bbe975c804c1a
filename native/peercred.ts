// Who is at the other end of a Unix socket (the helper checks this on every
// connection). Errors are NativeSysErrors with the errno name in `code`.
import { loadAddon } from './addon';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
  /** Supplementary groups at connect time (SO_PEERGROUPS). */
  groups: number[];
}

interface PeercredAddon {
  peerCredentials(fd: number): PeerCredentials;
  groupId(name: string): number | null;
}

const addon = () => loadAddon<PeercredAddon>();

/** SO_PEERCRED + SO_PEERGROUPS of a connected Unix socket descriptor. */
export function peerCredentials(fd: number): PeerCredentials {
  if (!Number.isInteger(fd) || fd < 0) throw new TypeError('fd must be a non-negative integer');
  return addon().peerCredentials(fd);
}

/** A group's gid through NSS (getgrnam_r), or null when there is no such group. */
export function groupId(name: string): number | null {
  if (name.length === 0 || name.length > 256) throw new TypeError('group name must be 1-256 characters');
  return addon().groupId(name);
}
