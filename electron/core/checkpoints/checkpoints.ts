// Checkpoints from the running system (issue 15; docs/checkpoints.md): which
// devices one holds (what the system boots from), where its store goes and
// how big, and the steps around the boot tool's commands: the boot image
// rebuilt so the initramfs re-attaches the checkpoint before anything
// mounts, the boot menu rebuilt so it offers the rollback, and the rollback
// chosen for the next boot.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type Checkpoint, type CheckpointDevice, type CheckpointPlan, type CheckpointState } from '../../common/contract';
import { readMountinfo } from '../devices/mountinfo';
import { majorMinor, nameOfDevno } from '../devices/sysfs';
import { deviceIdentity, stablePath } from '../tracking/device-names';
import { rollbackEntryId, type BootMenu } from './boot-menu';
import { limitWords, runTool } from '../system/run-tool';
import type { CheckpointTool, ToolCheckpoint } from './boot-tool';

const PAGE = 4096;
const MiB = 1 << 20;
const GiB = 1 << 30;
/** The module refuses a store under 8 pages; under 64 MiB a checkpoint fills at the first upgrade. */
const MIN_STORE = 64 * MiB;
/** Room the file system keeps beside the store: the upgrade itself needs space. */
const KEEP_FREE = 2 * GiB;
/** The mount points a system boots from, in checkpoint device order. */
const BOOT_MOUNTS = ['/', '/boot', '/boot/efi', '/efi'];

export interface CheckpointsOptions {
  tool: CheckpointTool;
  menu: BootMenu;
  /** Where store files are made: a root-only folder on the root file system. */
  storeDir: string;
  sysRoot: string;
  devRoot: string;
  mountinfo: string;
  /** Rebuilds the initramfs (as for kept change maps); null: not an initramfs-tools system. */
  updateInitramfs: readonly string[] | null;
  /** How long the rebuild may take before the task goes on without it (15 minutes; tests shorten it). */
  updateInitramfsLimitMs?: number;
  /** Free bytes of a folder's file system (statfs); tests hand in their own. */
  freeBytes?: (dir: string) => Promise<number>;
}

export type Say = (message: string) => void;

const STATES: ReadonlySet<string> = new Set(['active', 'invalid', 'committed', 'abandoned', 'rolling-back', 'rolled-back']);
const REASONS: ReadonlySet<string> = new Set(['none', 'full', 'io', 'absent']);

async function statfsFree(dir: string): Promise<number> {
  const s = await fs.statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** An id as list() passes it on (the contract's CheckpointId checks it fully). */
const CHECKPOINT_ID = /^[0-9a-f-]{36}$/;

/** A checkpoint's name as the list shows it: its own, else its store file's. */
function checkpointName(c: ToolCheckpoint): string {
  return c.name ?? path.basename(c.file ?? c.store);
}

function storeFileName(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.ckpt`;
}

export class Checkpoints {
  constructor(private readonly o: CheckpointsOptions) {}

  /** The devices the system boots from: kernel name, stable path, mount points, size. */
  private async bootDevices(): Promise<Array<CheckpointDevice & { sizeBytes: number; kernelName: string }>> {
    const mounts = await readMountinfo(this.o.mountinfo);
    const out: Array<CheckpointDevice & { sizeBytes: number; kernelName: string }> = [];
    for (const mp of BOOT_MOUNTS) {
      const m = mounts.filter((x) => x.mountpoint === mp).pop();
      if (!m) continue;
      const name = await nameOfDevno(this.o.sysRoot, m.devno);
      if (name === null) {
        if (mp === '/') throw new AppError('INVALID_ARGUMENT', `the root file system (${m.fsType} on ${m.source}) is not on a block device: a checkpoint needs one`);
        continue;
      }
      const known = out.find((d) => d.kernelName === name);
      if (known) {
        known.mountpoints.push(mp);
        continue;
      }
      const sectors = Number((await fs.readFile(path.join(this.o.sysRoot, 'class/block', name, 'size'), 'utf8').catch(() => '0')).trim()) || 0;
      out.push({ device: await stablePath(this.o.devRoot, name), name, kernelName: name, mountpoints: [mp], sizeBytes: sectors * 512 });
    }
    if (out.length === 0) throw new AppError('INVALID_ARGUMENT', 'the root file system was not found in the mount table');
    return out;
  }

  /** Free bytes where the store would go; a plan makes nothing, so the folder may not exist yet. */
  private async free(): Promise<number> {
    let dir = this.o.storeDir;
    while (!(await fs.stat(dir).catch(() => null)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    return (this.o.freeBytes ?? statfsFree)(dir);
  }

  async plan(): Promise<CheckpointPlan> {
    const devices = await this.bootDevices();
    const freeBytes = await this.free();
    const maxStoreBytes = Math.max(0, Math.floor((freeBytes - KEEP_FREE) / MiB) * MiB);
    // A quarter of the room, in 64 MiB steps, up to 8 GiB: an upgrade rewrites a few GiB.
    const suggested = Math.min(8 * GiB, Math.max(MIN_STORE, Math.floor(maxStoreBytes / 4 / (64 * MiB)) * 64 * MiB));
    const menuProblem = await this.o.menu.problem();
    const held = await this.createProblem(devices);
    const problem = held?.problem ?? (maxStoreBytes < MIN_STORE ? `only ${Math.floor(freeBytes / MiB)} MiB are free in ${this.o.storeDir}: a checkpoint needs ${(MIN_STORE + KEEP_FREE) / MiB} MiB` : undefined);
    return {
      ...(problem !== undefined && { problem }),
      ...(held?.heldBy !== undefined && { heldBy: held.heldBy }),
      devices: devices.map(({ kernelName: _k, ...d }) => d),
      storeDir: this.o.storeDir,
      freeBytes,
      suggestedStoreBytes: Math.min(suggested, Math.max(maxStoreBytes, MIN_STORE)),
      minStoreBytes: MIN_STORE,
      maxStoreBytes,
      bootMenu: menuProblem === null,
      ...(menuProblem !== null && { bootMenuProblem: menuProblem }),
    };
  }

  /** Why no checkpoint can be taken now, and, when the reason is that a device is in one already, which one. */
  private async createProblem(devices: ReadonlyArray<{ device: string; kernelName: string; mountpoints: string[] }>): Promise<{ problem: string; heldBy?: CheckpointPlan['heldBy'] } | undefined> {
    const p = this.o.tool.problem();
    if (p !== null) return { problem: p };
    // The rollback runs in the initramfs before LVM, LUKS and md are
    // started: it could not open such a device, so none is held.
    for (const d of devices) {
      const sys = path.join(this.o.sysRoot, 'class/block', d.kernelName);
      const stacked = (await fs.stat(path.join(sys, 'dm')).catch(() => null)) ? 'LVM or LUKS (device-mapper)' : (await fs.stat(path.join(sys, 'md')).catch(() => null)) ? 'software RAID (md)' : null;
      if (stacked !== null) return { problem: `${d.mountpoints.join(' and ')} is on ${stacked} (${d.device}): checkpoints hold only plain disks and partitions so far` };
    }
    const held = await this.o.tool.list().catch(() => []);
    for (const c of held) {
      for (const d of devices) {
        if (!c.devices.some((x) => x === d.device || path.basename(x) === d.kernelName)) continue;
        return {
          problem: `${d.device} is in checkpoint "${c.name ?? c.store}" (${c.state ?? 'unreadable'}): end it first`,
          // Named as list() names it, so the app finds it there.
          heldBy: { ...(c.id !== undefined && CHECKPOINT_ID.test(c.id) && { id: c.id }), name: checkpointName(c) },
        };
      }
    }
    return undefined;
  }

  async list(): Promise<Checkpoint[]> {
    const [tool, entries, next, mounts] = await Promise.all([this.o.tool.list(), this.o.menu.entries().catch(() => new Map<string, string>()), this.o.menu.next().catch(() => null), readMountinfo(this.o.mountinfo).catch(() => [])]);
    const out: Checkpoint[] = [];
    for (const c of tool) out.push(await this.toCheckpoint(c, entries, next, mounts));
    return out;
  }

  private async toCheckpoint(c: ToolCheckpoint, entries: Map<string, string>, next: string | null, mounts: Awaited<ReturnType<typeof readMountinfo>>): Promise<Checkpoint> {
    const devices: CheckpointDevice[] = [];
    for (const d of c.devices) {
      const st = await fs.stat(d).catch(() => null);
      const devno = st?.isBlockDevice() ? majorMinor(st.rdev) : null;
      const name = devno !== null ? await nameOfDevno(this.o.sysRoot, devno) : null;
      devices.push({ device: d, ...(name !== null && { name }), mountpoints: devno !== null ? mounts.filter((m) => m.devno === devno).map((m) => m.mountpoint) : [] });
    }
    const state: CheckpointState = c.error !== undefined ? 'unreadable' : STATES.has(c.state ?? '') ? (c.state as CheckpointState) : 'unknown';
    const title = c.id !== undefined ? entries.get(c.id) : undefined;
    return {
      ...(c.id !== undefined && CHECKPOINT_ID.test(c.id) && { id: c.id }),
      name: checkpointName(c),
      state,
      ...(c.reason !== undefined && { reason: REASONS.has(c.reason) ? (c.reason as 'none') : 'unknown' }),
      ...(c.created !== undefined && c.created > 0 && { createdAt: new Date(c.created * 1000).toISOString() }),
      devices,
      store: { device: c.store, ...(c.file !== undefined && { file: c.file }), usedBytes: (c.usedPages ?? 0) * PAGE, sizeBytes: (c.pages ?? 0) * PAGE },
      attached: c.attached === true,
      chunksSaved: c.entries ?? 0,
      ...(title !== undefined && { bootEntry: title }),
      rollbackAtNextBoot: c.id !== undefined && next === rollbackEntryId(c.id),
      ...(c.error !== undefined && { problem: c.error }),
    };
  }

  /**
   * Holds the devices the system boots from, from now until ended or rolled
   * back. The checkpoint exists once the tool says its id (then `taken`
   * hears it, before the minutes of the boot image: the automatic ones are
   * recorded so); the boot image and menu after it are warnings when they
   * fail (said how to finish).
   */
  async create(name: string, storeBytes: number, say: Say = () => {}, now = new Date(), taken?: (id: string) => Promise<void>): Promise<{ id: string; warnings: string[] }> {
    const devices = await this.bootDevices();
    const problem = await this.createProblem(devices);
    if (problem !== undefined) throw new AppError('CONFLICT', problem.problem, { reason: 'checkpoint-held' });
    const free = await this.free();
    if (storeBytes < MIN_STORE) throw new AppError('INVALID_ARGUMENT', `the store must hold at least ${MIN_STORE / MiB} MiB`, { storeBytes });
    if (storeBytes > free - KEEP_FREE)
      throw new AppError('DISK_FULL', `a ${Math.round(storeBytes / MiB)} MiB store leaves under ${KEEP_FREE / GiB} GiB free in ${this.o.storeDir} (${Math.floor(free / MiB)} MiB free): choose a smaller one`, {
        reason: 'store-too-big',
        storeBytes,
        freeBytes: free,
      });
    await fs.mkdir(this.o.storeDir, { recursive: true, mode: 0o700 });
    const storeDevno = majorMinor((await fs.stat(this.o.storeDir)).dev);
    const storeName = await nameOfDevno(this.o.sysRoot, storeDevno);
    if (storeName === null) throw new AppError('INVALID_ARGUMENT', `the folder for checkpoint stores (${this.o.storeDir}) is not on a block device`, { path: this.o.storeDir });
    const storeDevice = await stablePath(this.o.devRoot, storeName);
    const file = path.join(this.o.storeDir, storeFileName(now));
    const withIds = [];
    for (const d of devices) withIds.push({ device: d.device, identity: (await deviceIdentity(this.o.sysRoot, d.kernelName)).identity });

    say(`writing the store ${file} (${Math.round(storeBytes / MiB)} MiB) and holding ${devices.map((d) => d.mountpoints.join(' and ')).join(', ')}`);
    const id = await this.o.tool.create({ name, file, storeDevice, pages: Math.floor(storeBytes / PAGE), devices: withIds });

    const warnings: string[] = [];
    // It exists now, whatever happens next: a failure to note it is a warning.
    await taken?.(id).catch((e: unknown) => warnings.push(e instanceof Error ? e.message : String(e)));
    if (this.o.updateInitramfs === null) {
      warnings.push('this system does not build its boot image with initramfs-tools: nothing re-attaches the checkpoint at boot before the file systems mount, so the next boot makes it invalid; roll back or end it before rebooting');
    } else {
      say('rebuilding the boot image (update-initramfs -u -k all) so the checkpoint holds from the first instant of every boot');
      const u = await this.rebuildInitramfs();
      if (u?.late === true)
        warnings.push(`the boot image is not rebuilt yet: ${u.text}. Until it is, the checkpoint would not hold across a reboot (run update-initramfs -u -k all before rebooting if in doubt)`);
      else if (u !== null) warnings.push(`update-initramfs failed (${u.text}): the checkpoint holds until the next reboot only; run update-initramfs -u -k all before rebooting`);
    }
    warnings.push(...(await this.refreshMenu(say)));
    return { id, warnings };
  }

  /** Ends a checkpoint (the changes since stay) and removes it with its store. */
  async end(which: { id?: string; storeFile?: string }, say: Say = () => {}): Promise<{ warnings: string[] }> {
    const all = await this.o.tool.list();
    const c = all.find((x) => (which.id !== undefined ? x.id === which.id : x.file === which.storeFile));
    if (!c) throw new AppError('NOT_FOUND', `no checkpoint ${which.id ?? which.storeFile} in the boot config`, { ...which });
    // Its old data is the only copy of what the disks held before a rollback
    // that was cut short: removing it would leave them half rolled back.
    if (c.state === 'rolling-back')
      throw new AppError('CONFLICT', `the rollback to checkpoint "${c.name ?? c.id ?? c.file ?? ''}" was cut short: the next boot finishes it (or, in a rescue shell, snapkeep-boot rollback ${c.id ?? ''}); ending it now would leave the disks half rolled back`, {
        ...which,
        reason: 'rollback-unfinished',
      });
    if (c.attached && c.id !== undefined) {
      say(`ending checkpoint "${c.name ?? c.id}": the changes made since it was taken stay`);
      await this.o.tool.commit(c.id);
    }
    say('removing its store and boot config lines');
    const key = c.id ?? c.file;
    if (key === undefined) throw new AppError('INTERNAL', 'the checkpoint has neither a readable id nor a store file: remove its lines from /etc/snapkeep/boot.conf by hand');
    // Active but not held in this boot (the module did not attach it): this
    // boot's writes were not saved, so it can never be rolled back exactly and
    // there is nothing to commit; the tool wants that said with --force.
    await this.o.tool.remove(key, { force: c.state === 'active' && !c.attached });
    const warnings: string[] = [];
    if (c.id !== undefined && (await this.o.menu.next().catch(() => null)) === rollbackEntryId(c.id)) await this.o.menu.setNext(null).catch((e: unknown) => warnings.push(`the rollback chosen for the next boot could not be cleared: ${String(e)}`));
    if (this.o.updateInitramfs !== null) {
      say('rebuilding the boot image without the checkpoint');
      const u = await this.rebuildInitramfs();
      if (u?.late === true) warnings.push(`the boot image is not rebuilt yet: ${u.text}`);
      else if (u !== null) warnings.push(`update-initramfs failed (${u.text}): run update-initramfs -u -k all by hand`);
    }
    warnings.push(...(await this.refreshMenu(say)));
    return { warnings };
  }

  /** The next boot rolls the computer back to the checkpoint (or, with cancel, no longer). */
  async rollback(id: string, cancel: boolean): Promise<Checkpoint> {
    const c = (await this.list()).find((x) => x.id === id);
    if (!c) throw new AppError('NOT_FOUND', `no checkpoint ${id}`, { id });
    if (cancel) {
      if (c.rollbackAtNextBoot) await this.o.menu.setNext(null);
    } else {
      if (c.state !== 'active') throw new AppError('CONFLICT', `checkpoint "${c.name}" is ${c.state}: only an active checkpoint can be rolled back`, { id, state: c.state, reason: 'checkpoint-not-usable' });
      // Not held in this boot: this boot's writes were not saved, and the
      // rollback at boot would find the devices changed and refuse.
      if (!c.attached)
        throw new AppError('CONFLICT', `checkpoint "${c.name}" is not held in this boot (the module did not attach it): the writes since this boot started were not saved, so it cannot be rolled back exactly`, {
          id,
          reason: 'checkpoint-not-usable',
        });
      const problem = await this.o.menu.problem();
      if (problem !== null) throw new AppError('INVALID_ARGUMENT', problem, { reason: 'no-boot-menu' });
      if (c.bootEntry === undefined) await this.o.menu.update();
      if (!(await this.o.menu.entries()).has(id)) throw new AppError('INTERNAL', `the boot menu has no rollback entry for checkpoint "${c.name}" after update-grub: see /etc/grub.d/42_snapkeep's output`, { id });
      await this.o.menu.setNext(rollbackEntryId(id));
    }
    const now = (await this.list()).find((x) => x.id === id);
    if (!now) throw new AppError('NOT_FOUND', `checkpoint ${id} is gone`, { id });
    return now;
  }

  private async refreshMenu(say: Say): Promise<string[]> {
    const problem = await this.o.menu.problem();
    if (problem !== null) return [problem];
    say('rebuilding the boot menu (update-grub)');
    try {
      await this.o.menu.update();
      return [];
    } catch (e) {
      return [`${e instanceof Error ? e.message : String(e)}: run update-grub by hand`];
    }
  }

  /** Null when rebuilt; `late` when it ran past the limit (a unit started with systemctl goes on without us). */
  private async rebuildInitramfs(): Promise<{ text: string; late: boolean } | null> {
    const [cmd, ...args] = this.o.updateInitramfs ?? [];
    if (cmd === undefined) return { text: 'no command', late: false };
    const limit = this.o.updateInitramfsLimitMs ?? 15 * 60_000;
    const r = await runTool(cmd, args, limit);
    if (r.code === 0) return null;
    if (r.timedOut === true) {
      const unit = cmd === 'systemctl' ? args.at(-1) : undefined;
      // Stopping systemctl does not stop the unit: the rebuild goes on.
      return {
        late: true,
        text:
          unit !== undefined
            ? `${unit} has not finished after ${limitWords(limit)} and goes on in the background; before rebooting, wait until "systemctl is-active ${unit}" no longer says activating`
            : r.out,
      };
    }
    return { text: r.out.split('\n').slice(-3).join(' '), late: false };
  }
}
