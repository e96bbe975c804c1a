// File restore: a restore point's device is served as a block device (the
// engine's NBD server, electron/core/nbd) and each file system on it is
// mounted read-only under <runtime>/mounts/<id>/. mount(8) and umount(8) run
// with fixed argument vectors; the only variable parts are paths this code
// made and a file-system type checked against a list.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { AppError, type Mount } from '../../common/contract';
import { probeBlkid } from '../devices/fs-probe';
import type { PointReader, RepositoryHandle } from '../engine/api';
import type { SourceLogger } from '../logs/logger';
import { writeFileAtomic } from '../persist/atomic-file';
import { newId } from '../persist/ids';
import type { RepoRegistry } from '../repos/registry';

const execFileP = promisify(execFile);

/** A restore point's device served as a local block device. */
export interface PointExport {
  device: string; // /dev/nbd0
  close(): Promise<void>;
}

export type PointExporter = (reader: PointReader) => Promise<PointExport>;

/** Read-only mount options per file system: never replay a journal into a backup. */
const FS_OPTIONS: Record<string, string> = {
  ext2: 'ro',
  ext3: 'ro,noload',
  ext4: 'ro,noload',
  xfs: 'ro,norecovery',
  btrfs: 'ro,nologreplay',
  vfat: 'ro',
  exfat: 'ro',
  ntfs: 'ro',
  ntfs3: 'ro',
};

interface Active {
  mount: Mount;
  dir: string;
  export: PointExport;
  reader: PointReader;
  handle: RepositoryHandle;
}

export interface MountManagerOptions {
  repos: RepoRegistry;
  exporter: PointExporter;
  /** <runtime>/mounts */
  dir: string;
  log: SourceLogger;
  sysRoot?: string;
}

export class MountManager {
  private readonly active = new Map<string, Active>();

  constructor(private readonly o: MountManagerOptions) {}

  list(): Mount[] {
    return [...this.active.values()].map((a) => structuredClone(a.mount));
  }

  get(id: string): Mount {
    const a = this.active.get(id);
    if (!a) throw new AppError('NOT_FOUND', `no mounted restore point ${id}`, { mountId: id });
    return structuredClone(a.mount);
  }

  /** Mount points of a mount's file systems (for the file browser). */
  roots(id: string): string[] {
    return this.get(id)
      .filesystems.map((f) => f.mountpoint)
      .filter((m): m is string => m !== undefined);
  }

  async mount(repositoryId: string, pointId: string, source: string): Promise<Mount> {
    const id = newId('m');
    const dir = path.join(this.o.dir, id);
    const handle = await this.o.repos.open(repositoryId);
    let reader: PointReader | null = null;
    let exp: PointExport | null = null;
    try {
      reader = await handle.openReader(pointId, source);
      exp = await this.o.exporter(reader);
      await fs.mkdir(dir, { recursive: true, mode: 0o755 });
      // The record goes down before the first mount: a crash from here on
      // leaves something recovery must find.
      await this.writeRecord(id, dir);
      const parts = await this.partitions(exp.device);
      const filesystems: Mount['filesystems'] = [];
      for (const dev of parts.length > 0 ? parts : [exp.device]) filesystems.push(await this.mountOne(dev, dir));
      const mount: Mount = { id, repositoryId, pointId, source, device: exp.device, filesystems };
      this.active.set(id, { mount, dir, export: exp, reader, handle });
      this.o.log.info(`restore point ${pointId} (${source}) mounted at ${dir}: ${filesystems.map((f) => f.mountpoint ?? `${f.device}: ${f.error}`).join(', ')}`);
      return structuredClone(mount);
    } catch (e) {
      await unmountTree(dir).catch(() => undefined);
      await exp?.close().catch(() => undefined);
      await reader?.close().catch(() => undefined);
      await handle.close().catch(() => undefined);
      await fs.rm(path.join(this.o.dir, `${id}.json`), { force: true });
      throw e;
    }
  }

  async unmount(id: string): Promise<void> {
    const a = this.active.get(id);
    if (!a) throw new AppError('NOT_FOUND', `no mounted restore point ${id}`, { mountId: id });
    await unmountTree(a.dir);
    this.active.delete(id);
    await a.export.close().catch((e: unknown) => this.o.log.warn(`mount ${id}: ${String(e)}`));
    await a.reader.close().catch(() => undefined);
    await a.handle.close().catch(() => undefined);
    await fs.rm(path.join(this.o.dir, `${id}.json`), { force: true });
    this.o.log.info(`restore point ${a.mount.pointId} unmounted`);
  }

  async unmountAll(): Promise<void> {
    for (const id of [...this.active.keys()]) await this.unmount(id).catch(() => undefined);
  }

  /** Mounts a killed service left behind: unmounted (lazily, they may be busy) and removed. */
  async recover(): Promise<string[]> {
    const names = await fs.readdir(this.o.dir).catch(() => [] as string[]);
    const done: string[] = [];
    for (const n of names.filter((n) => n.endsWith('.json'))) {
      const id = n.slice(0, -5);
      const dir = path.join(this.o.dir, id);
      await unmountTree(dir, true).catch((e: unknown) => this.o.log.warn(`recovery: ${dir}: ${String(e)}`));
      await fs.rm(path.join(this.o.dir, n), { force: true });
      this.o.log.warn(`recovery: released the mount ${dir} left by an earlier run of the service`);
      done.push(dir);
    }
    return done;
  }

  private async writeRecord(id: string, dir: string): Promise<void> {
    await writeFileAtomic(path.join(this.o.dir, `${id}.json`), JSON.stringify({ id, dir, pid: process.pid }) + '\n');
  }

  /** Partition devices of an exported disk, e.g. /dev/nbd0p1, after the kernel rescanned it. */
  private async partitions(device: string): Promise<string[]> {
    const name = path.basename(device);
    const sys = path.join(this.o.sysRoot ?? '/sys', 'class/block', name);
    await execFileP('blockdev', ['--rereadpt', '--', device], { timeout: 30_000 }).catch(() => undefined);
    const names = (await fs.readdir(sys).catch(() => [] as string[])).filter((n) => n.startsWith(name + 'p'));
    return names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).map((n) => `/dev/${n}`);
  }

  private async mountOne(device: string, dir: string): Promise<Mount['filesystems'][number]> {
    const facts = await probeBlkid(device);
    const entry: Mount['filesystems'][number] = { device };
    if (facts.fsType !== undefined) entry.fsType = facts.fsType;
    if (facts.fsLabel !== undefined) entry.label = facts.fsLabel;
    const options = facts.fsType !== undefined ? FS_OPTIONS[facts.fsType] : undefined;
    if (facts.fsType === undefined || options === undefined) {
      entry.error = facts.fsType === undefined ? 'no file system found' : `${facts.fsType} cannot be browsed`;
      return entry;
    }
    const target = path.join(dir, path.basename(device));
    await fs.mkdir(target, { mode: 0o755 });
    try {
      await execFileP('mount', ['-t', facts.fsType, '-o', `${options},nodev,nosuid,noexec`, '--', device, target], { timeout: 60_000 });
      entry.mountpoint = target;
    } catch (e) {
      await fs.rmdir(target).catch(() => undefined);
      const stderr = (e as { stderr?: string }).stderr?.trim();
      entry.error = `mount failed: ${stderr || (e instanceof Error ? e.message : String(e))}`;
    }
    return entry;
  }
}

/** Unmounts every mount point directly below `dir` and removes the tree. */
async function unmountTree(dir: string, lazy = false): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const failures: string[] = [];
  for (const n of names) {
    const target = path.join(dir, n);
    await execFileP('umount', lazy ? ['-l', '--', target] : ['--', target], { timeout: 60_000 }).catch((e: unknown) => {
      const stderr = (e as { stderr?: string }).stderr ?? '';
      // "not mounted" is the state we want; anything else is a real failure.
      if (!/not mounted|no mount point/i.test(stderr)) failures.push(`${target}: ${stderr.trim() || String(e)}`);
    });
    await fs.rmdir(target).catch(() => undefined);
  }
  if (failures.length > 0) throw new AppError('DEVICE_BUSY', `cannot unmount: ${failures.join('; ')}`, { dir });
  await fs.rmdir(dir).catch(() => undefined);
}
