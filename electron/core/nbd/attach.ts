// Attaching an NBD export to the kernel and mounting what it holds:
// nbd-client (Debian package nbd-client) connects /dev/nbdN to our Unix
// socket read-only; the partitions the kernel finds are mounted read-only
// (ext3/4 with noload: the journal of a crash-consistent snapshot must not
// be replayed onto a read-only device). Fixed argv, never a shell.
//
// A restore point is someone's old disk, maybe a hostile one: only file
// system types from a short list reach the kernel's parsers, always
// ro,nosuid,nodev,noexec, under folders only root may enter. While a device
// is attached, a claim file (<claims>/nbdN) tells udev (10-snapkeep.rules)
// to leave it alone: no LVM or md activation, no by-uuid links pointing at
// a copy of this host's own disks, nothing offered by the desktop.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { AppError } from '../../common/contract';

function run(cmd: string, args: string[], timeout = 30_000): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) =>
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) || (err ? err.message : '') }),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readSys(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return '';
  }
}

/** A /dev/nbdN nobody uses; loads the nbd module when needed. */
export async function findFreeNbd(): Promise<string> {
  if (!(await readSys('/sys/module/nbd/parameters/nbds_max'))) await run('modprobe', ['nbd']);
  const names = (await fs.readdir('/sys/block').catch(() => [] as string[])).filter((n) => /^nbd\d+$/.test(n));
  names.sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  for (const n of names) {
    const size = await readSys(`/sys/block/${n}/size`);
    const pid = await readSys(`/sys/block/${n}/pid`);
    if (size === '0' && !pid) return `/dev/${n}`;
  }
  throw new AppError('DEVICE_BUSY', names.length ? 'every /dev/nbd device is in use' : 'the nbd kernel module is not available (modprobe nbd failed)', {
    reason: names.length ? 'nbd-all-busy' : 'nbd-unavailable',
  });
}

/** File system types a restore point's partitions are mounted as (blkid's name -> mount's). */
export const MOUNTABLE: ReadonlyMap<string, string> = new Map([
  ['ext2', 'ext2'],
  ['ext3', 'ext3'],
  ['ext4', 'ext4'],
  ['xfs', 'xfs'],
  ['btrfs', 'btrfs'],
  ['vfat', 'vfat'],
  ['exfat', 'exfat'],
  ['ntfs', 'ntfs3'],
  ['ntfs3', 'ntfs3'],
]);

const claimFile = (claims: string, device: string) => path.join(claims, path.basename(device));

export async function attachNbd(device: string, socketPath: string, exportName: string, claims?: string): Promise<void> {
  if (claims !== undefined) {
    // Before the kernel announces the device, so udev's first look already sees the claim.
    await fs.mkdir(claims, { recursive: true, mode: 0o755 });
    await fs.writeFile(claimFile(claims, device), `${process.pid}\n`, { mode: 0o644 });
  }
  // 512-byte sectors (nbd-client's default), as the partition tables of
  // ordinary disks assume; a 4 KiB-sector source would need -block-size.
  const r = await run('nbd-client', ['-N', exportName, '-unix', socketPath, device, '-readonly', '-timeout', '120']);
  if (!r.ok) throw new AppError('IO_ERROR', `nbd-client could not attach ${device}: ${r.stderr.trim()}`, { device });
  const name = path.basename(device);
  for (let i = 0; i < 100 && (await readSys(`/sys/block/${name}/size`)) === '0'; i++) await sleep(50);
  await run('blockdev', ['--rereadpt', device]);
}

export async function detachNbd(device: string, claims?: string): Promise<void> {
  await run('nbd-client', ['-d', device]);
  if (claims !== undefined) await fs.rm(claimFile(claims, device), { force: true });
}

export interface MountedFs {
  device: string;
  fsType?: string;
  label?: string;
  mountpoint?: string;
  error?: string;
}

/** The device's partitions (or the device itself without a table). */
async function candidates(device: string): Promise<string[]> {
  const name = path.basename(device);
  const whole = await run('blkid', ['-p', '-o', 'export', device]);
  if (!/^PTTYPE=/m.test(whole.stdout)) return [device];
  // The kernel scans the table on open, reading through our server: slow
  // on a loaded (or emulated) machine, so wait for it and ask again.
  for (let i = 0; i < 150; i++) {
    const parts = (await fs.readdir(`/sys/block/${name}`).catch(() => [] as string[])).filter((p) => p.startsWith(`${name}p`));
    if (parts.length) {
      parts.sort((a, b) => Number(a.slice(name.length + 1)) - Number(b.slice(name.length + 1)));
      // udev may be absent (the test VM): make the nodes ourselves.
      for (const p of parts) {
        const node = `/dev/${p}`;
        for (let j = 0; j < 20 && !(await fs.stat(node).catch(() => undefined)); j++) await sleep(50);
        if (!(await fs.stat(node).catch(() => undefined))) {
          const dev = await readSys(`/sys/block/${name}/${p}/dev`);
          const [maj, min] = dev.split(':');
          if (maj && min) await run('mknod', [node, 'b', maj, min]);
        }
      }
      return parts.map((p) => `/dev/${p}`);
    }
    if (i % 10 === 0) await run('blockdev', ['--rereadpt', device]);
    await sleep(200);
  }
  throw new AppError('IO_ERROR', `the kernel found no partitions on ${device} although it has a ${/^PTTYPE=(.*)$/m.exec(whole.stdout)?.[1] ?? ''} table`, { device });
}

export async function mountAll(device: string, baseDir: string): Promise<MountedFs[]> {
  const out: MountedFs[] = [];
  // Only root may enter, whatever the umask (sudo snapkeep mount): the files keep the backup's owners and modes.
  await fs.mkdir(baseDir, { recursive: true, mode: 0o700 });
  await fs.chmod(baseDir, 0o700);
  for (const dev of await candidates(device)) {
    const probe = await run('blkid', ['-p', '-o', 'export', dev]);
    const kv = new Map(probe.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
    const fsType = kv.get('TYPE');
    const label = kv.get('LABEL');
    const entry: MountedFs = { device: dev, ...(fsType && { fsType }), ...(label && { label }) };
    out.push(entry);
    if (!fsType || fsType === 'swap' || kv.get('USAGE') !== 'filesystem') continue;
    const mountType = MOUNTABLE.get(fsType);
    if (mountType === undefined) {
      entry.error = `${fsType} is not mounted: Snapkeep mounts only ${[...new Set(MOUNTABLE.keys())].join(', ')}`;
      continue;
    }
    const mp = path.join(baseDir, path.basename(dev));
    await fs.mkdir(mp, { recursive: true, mode: 0o700 });
    // A restore point is someone's old disk: never run or trust what is on it.
    const options = ['ro', 'nosuid', 'nodev', 'noexec', ...(fsType === 'ext3' || fsType === 'ext4' ? ['noload'] : []), ...(fsType === 'xfs' ? ['norecovery'] : [])];
    const r = await run('mount', ['-t', mountType, '-o', options.join(','), '--', dev, mp]);
    if (r.ok) entry.mountpoint = mp;
    else {
      entry.error = r.stderr.trim();
      await fs.rmdir(mp).catch(() => undefined);
    }
  }
  return out;
}

export async function unmountAll(mounts: MountedFs[]): Promise<void> {
  for (const m of mounts) {
    if (!m.mountpoint) continue;
    const r = await run('umount', [m.mountpoint]);
    if (!r.ok) throw new AppError('DEVICE_BUSY', `cannot unmount ${m.mountpoint}: ${r.stderr.trim()}`, { mountpoint: m.mountpoint });
    await fs.rmdir(m.mountpoint).catch(() => undefined);
  }
}
