// File restore: one device of a restore point served as a block device and
// its file systems mounted read-only (electron/core/nbd does both), under
// <runtime>/restore/<id>/. That directory is root-only (0700): the trees of
// a backup may hold setuid programs and device nodes, and users reach the
// files only through the helper's files.* methods, which never follow the
// backup's symlinks (file-browser.ts).
//
// A small record per mount (<runtime>/restore/<id>.json) lets the next
// start of the service take down what a killed one left mounted.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import { AppError, type Mount, type OwnerAccess } from '../../common/contract';
import type { RepositoryHandle } from '../engine/api';
import type { SourceLogger } from '../logs/logger';
import { writeFileAtomic } from '../persist/atomic-file';
import { newId } from '../persist/ids';
import type { RepoRegistry } from '../repos/registry';
import { HostTree } from '../files/host-tree';
import type { PointFiles } from '../files/point-files';

export interface PointMount {
  device: string;
  /** How it was opened (nbd, or an exported disk file: electron/core/files). */
  access?: Mount['access'];
  filesystems: Mount['filesystems'];
  /** Browsing and copying; host folders of the mount points when absent. */
  files?: PointFiles;
  /** Resolves when the device went away (unmounted here or by another process). */
  finished: Promise<void>;
  unmount(): Promise<void>;
}

/** How a point is mounted and how a leftover mount is released (by device). */
export interface MountBackend {
  mount(repo: RepositoryHandle, o: { pointId: string; source: string; baseDir: string }): Promise<PointMount>;
  release(device: string): Promise<void>;
}

const MountRecord = z.object({ id: z.string(), device: z.string(), baseDir: z.string(), pid: z.number().int() });

interface Active {
  mount: Mount;
  /** Who mounted it: its files are theirs to browse (and root's). */
  ownerUid: number | undefined;
  point: PointMount;
  handle: RepositoryHandle;
}

export interface MountManagerOptions {
  repos: RepoRegistry;
  backend: MountBackend;
  /** <runtime>/restore */
  dir: string;
  log: SourceLogger;
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

  /** The files of a mounted point, whichever way it was opened. */
  files(id: string): PointFiles {
    const a = this.active.get(id);
    if (!a) throw new AppError('NOT_FOUND', `no mounted restore point ${id}`, { mountId: id });
    return a.point.files ?? new HostTree(this.roots(id));
  }

  ownerOf(id: string): number | undefined {
    const a = this.active.get(id);
    if (!a) throw new AppError('NOT_FOUND', `no mounted restore point ${id}`, { mountId: id });
    return a.ownerUid;
  }

  /** `owner`: an append-only client's repository opened with the owner's key, held by the open handle until unmounted. */
  async mount(repositoryId: string, pointId: string, source: string, ownerUid?: number, owner?: OwnerAccess): Promise<Mount> {
    const id = newId('m');
    const baseDir = path.join(this.o.dir, id);
    await fs.mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    await fs.chmod(this.o.dir, 0o700);
    const handle = await this.o.repos.open(repositoryId, owner);
    let point: PointMount;
    try {
      point = await this.o.backend.mount(handle, { pointId, source, baseDir });
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
    await writeFileAtomic(path.join(this.o.dir, `${id}.json`), JSON.stringify({ id, device: point.device, baseDir, pid: process.pid }) + '\n');
    const mount: Mount = { id, repositoryId, pointId, source, device: point.device, ...(point.access && { access: point.access }), filesystems: point.filesystems };
    this.active.set(id, { mount, ownerUid, point, handle });
    // Unmounted behind our back (snapkeep umount, nbd-client -d): forget it.
    void point.finished.then(() => this.forget(id));
    this.o.log.info(
      `restore point ${pointId} (${source}) served as ${point.device}: ${point.filesystems.map((f) => f.mountpoint ?? `${f.device} ${f.error ?? 'not mounted'}`).join(', ')}`,
    );
    return structuredClone(mount);
  }

  async unmount(id: string): Promise<void> {
    const a = this.active.get(id);
    if (!a) throw new AppError('NOT_FOUND', `no mounted restore point ${id}`, { mountId: id });
    // DEVICE_BUSY (a file still open) leaves the mount as it is, for another try.
    await a.point.unmount();
    await this.forget(id);
    this.o.log.info(`restore point ${a.mount.pointId} unmounted`);
  }

  async unmountAll(): Promise<void> {
    for (const id of [...this.active.keys()])
      await this.unmount(id).catch((e: unknown) => this.o.log.warn(`mount ${id}: ${e instanceof Error ? e.message : String(e)}`));
  }

  /** Mounts a killed service left behind: released and their records removed. */
  async recover(): Promise<string[]> {
    const names = await fs.readdir(this.o.dir).catch(() => [] as string[]);
    const done: string[] = [];
    for (const n of names.filter((n) => n.endsWith('.json'))) {
      const file = path.join(this.o.dir, n);
      const rec = MountRecord.safeParse(JSON.parse(await fs.readFile(file, 'utf8').catch(() => '{}')));
      if (rec.success) {
        await this.o.backend
          .release(rec.data.device)
          .catch((e: unknown) => this.o.log.warn(`recovery: ${rec.data.device}: ${e instanceof Error ? e.message : String(e)}`));
        await fs.rm(rec.data.baseDir, { recursive: false, force: true }).catch(() => undefined);
        this.o.log.warn(`recovery: released ${rec.data.device}, a restore point mounted by an earlier run of the service`);
        done.push(rec.data.device);
      }
      await fs.rm(file, { force: true });
    }
    return done;
  }

  private async forget(id: string): Promise<void> {
    const a = this.active.get(id);
    if (!a) return;
    this.active.delete(id);
    await a.handle.close().catch(() => undefined);
    await fs.rm(path.join(this.o.dir, `${id}.json`), { force: true });
  }
}
