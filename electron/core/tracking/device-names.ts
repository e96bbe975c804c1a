// Who a tracked device is, in the two ways the boot config needs: a path
// that names it at every boot (kernel names like sdb may swap between
// boots; /dev/disk/by-* links do not), and an identity the module keeps in
// the store and compares at attach, so another disk put in its place never
// continues this disk's map (docs/kernel-module.md, "Attach").
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** At most this many bytes (SNAPKEEP_PERSIST_IDENTITY_LEN). */
const IDENTITY_MAX = 64;

async function attr(file: string): Promise<string | undefined> {
  const t = await fs.readFile(file, 'utf8').then(
    (s) => s.trim(),
    () => undefined,
  );
  return t === '' ? undefined : t;
}

/** Printable, without spaces, at most 64 bytes: long ones keep a prefix and a hash. */
export function identityWord(kind: string, value: string): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_');
  const word = `${kind}:${clean}`;
  if (Buffer.byteLength(word) <= IDENTITY_MAX) return word;
  return `${kind}:${createHash('sha256').update(value).digest('hex').slice(0, IDENTITY_MAX - kind.length - 1)}`;
}

/**
 * The identity of the block device `name` (kernel name): the disk's WWN or
 * serial (with the partition's number and start for a partition), a
 * device-mapper device's UUID, else the kernel name and size (weak: said
 * so in the status, a swap of two such disks is caught by size only).
 */
export async function deviceIdentity(sysRoot: string, name: string): Promise<{ identity: string; strong: boolean }> {
  const dir = await fs.realpath(path.join(sysRoot, 'class/block', name));
  const partition = await attr(path.join(dir, 'partition'));
  const disk = partition !== undefined ? path.dirname(dir) : dir;
  const serial =
    (await attr(path.join(disk, 'device/wwid'))) ?? (await attr(path.join(disk, 'wwid'))) ?? (await attr(path.join(disk, 'device/serial'))) ?? (await attr(path.join(disk, 'serial')));
  if (serial !== undefined) {
    const where = partition !== undefined ? `:p${partition}@${(await attr(path.join(dir, 'start'))) ?? '?'}` : '';
    return { identity: identityWord('disk', `${serial}${where}`), strong: true };
  }
  const dmUuid = await attr(path.join(dir, 'dm/uuid'));
  if (dmUuid !== undefined) return { identity: identityWord('dm', dmUuid), strong: true };
  return { identity: identityWord('dev', `${name}:${(await attr(path.join(dir, 'size'))) ?? '?'}`), strong: false };
}

/**
 * A /dev path for `name` that survives reboots: a /dev/disk/by-partuuid or
 * by-id link when udev made one (by-id's wwn- links first), else /dev/<name>.
 */
export async function stablePath(devRoot: string, name: string): Promise<string> {
  const target = path.join(devRoot, name);
  for (const sub of ['by-partuuid', 'by-id']) {
    const dir = path.join(devRoot, 'disk', sub);
    const links = (await fs.readdir(dir).catch(() => [] as string[])).sort((a, b) => Number(b.startsWith('wwn-')) - Number(a.startsWith('wwn-')) || a.localeCompare(b));
    for (const l of links) {
      const real = await fs.realpath(path.join(dir, l)).catch(() => undefined);
      if (real === target) return path.join(dir, l);
    }
  }
  return target;
}
