// Mounted file systems from /proc/self/mountinfo (proc(5)): the device
// number of each mount and where it is mounted. mountinfo, not /proc/mounts,
// because it carries major:minor, which matches a device even when the mount
// source is a symlink (/dev/disk/by-uuid/...) or a dm name.
import { promises as fs } from 'node:fs';

export interface MountEntry {
  devno: string; // "8:1"
  root: string; // the subtree of the file system that is mounted ("/" usually)
  mountpoint: string;
  options: string[];
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const [, , devno, root, mountpoint, options] = left;
    const [fsType, source] = right;
    if (!devno || !root || !mountpoint || !fsType) continue;
    out.push({
      devno,
      root: unescape(root),
      mountpoint: unescape(mountpoint),
      options: (options ?? '').split(','),
      fsType,
      source: unescape(source ?? ''),
    });
  }
  return out;
}

export async function readMountinfo(file = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  return parseMountinfo(await fs.readFile(file, 'utf8'));
}
