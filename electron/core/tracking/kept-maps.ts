// Keeping a device's change map across reboots, from the running system:
// the app's side of docs/kernel-module.md "Boot integration". The boot tool
// (kmod/boot/snapkeep-boot) does the sector-level work both here and in the
// initramfs, so the checks that guard the store (a written, immutable file
// whose ranges are read back; nothing written where no store is) are one
// piece of code: this file decides when, names the device and the store,
// rebuilds the boot image, and reports what the module says.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type TrackedDevice } from '../../common/contract';
import { isNativeSysError, kmod, type DevNumber, type TrackerInfo, type TrackerInfo2 } from '../../../native';
import { majorMinor, nameOfDevno } from '../devices/sysfs';
import { trackerRestart } from '../runner/tracker-restart';
import { moduleFeatureProblem } from '../system/module-status';
import { runTool, type ToolRun } from '../system/run-tool';
import { trackerPersistence } from '../snapshot/kmod-driver';
import { readBootConfig, removeBootLines, type BootEntry } from './boot-config';
import { deviceIdentity, stablePath } from './device-names';

/** The first module ABI with persistent maps. */
const PERSIST_ABI_MINOR = 3;

export interface KeptMapsOptions {
  /** snapkeep-boot (installed in /usr/sbin; out/boot in a source checkout). */
  tool: string;
  /** /etc/snapkeep/boot.conf */
  config: string;
  /** Where store files are made: a root-only folder on a file system with 4 KiB blocks. */
  storeDir: string;
  sysRoot: string;
  devRoot: string;
  /**
   * The command that rebuilds the initramfs so it attaches the maps before
   * any mount (update-initramfs -u -k all, or the installer's oneshot unit); null:
   * not an initramfs-tools system.
   */
  updateInitramfs: readonly string[] | null;
  /** Default: the module (moduleTrackers). */
  trackers?: TrackerAccess;
}

/** Says what a long step is doing (the task's progress). */
export type Say = (message: string) => void;

/** The store file of the map with this identity (one file per identity). */
function storeFile(dir: string, identity: string): string {
  return path.join(dir, `${identity.replace(/[^A-Za-z0-9_.-]/g, '_')}.map`);
}

/**
 * The module's trackers as this file uses them (native/kmod.ts); renderer
 * tests hand in a stand-in, the module cannot load on the host.
 */
export interface TrackerAccess {
  /** Why maps cannot be kept now (no module, an old one), or null. */
  problem(): string | null;
  list(): Promise<Array<DevNumber & { device: string | null }>>;
  info(device: string): Promise<TrackerInfo>;
  info2(device: string): Promise<TrackerInfo2>;
  detach(device: string): Promise<void>;
}

export const moduleTrackers: TrackerAccess = {
  problem: persistProblem,
  list: () => kmod.listTrackers(),
  info: (d) => kmod.trackerInfo(d),
  info2: (d) => kmod.trackerInfo2(d),
  detach: (d) => kmod.detach(d),
};

/** The module is loaded and speaks persistent maps; else why not. */
function persistProblem(): string | null {
  return moduleFeatureProblem(PERSIST_ABI_MINOR, { built: 'kept change maps', loaded: 'cannot keep change maps' });
}

async function devnoOf(file: string): Promise<string | null> {
  const st = await fs.stat(file).catch(() => null);
  return st?.isBlockDevice() ? majorMinor(st.rdev) : null;
}

export class KeptMaps {
  private readonly k: TrackerAccess;

  constructor(private readonly o: KeptMapsOptions) {
    this.k = o.trackers ?? moduleTrackers;
  }

  /** Every tracked or configured device with where its map lives and how it started. */
  async list(firstSeen: (generation: string) => string | undefined): Promise<TrackedDevice[]> {
    const entries = await readBootConfig(this.o.config);
    const byDevno = new Map<string, BootEntry>();
    for (const e of entries) {
      const d = await devnoOf(e.device);
      if (d !== null) byDevno.set(d, e);
    }
    const out: TrackedDevice[] = [];
    const seen = new Set<string>();
    const canPersist = this.k.problem() === null;
    const trackers = await this.k.list().catch(() => []);
    for (const t of trackers) {
      const devno = `${t.major}:${t.minor}`;
      seen.add(devno);
      const name = (await nameOfDevno(this.o.sysRoot, devno)) ?? devno;
      const device = t.device ?? path.join(this.o.devRoot, name);
      const entry = byDevno.get(devno);
      const info2 = canPersist ? await this.k.info2(device).catch(() => null) : null;
      const info = info2 ?? (await this.k.info(device).catch(() => null));
      if (!info) continue;
      const p = info2 ? trackerPersistence(info2.persist) : undefined;
      const restart = p && !p.continued ? trackerRestart({ generation: info.generation, number: info.number, blockSize: info.blockSize, deviceSizeBytes: info.deviceSize, persist: p }) : undefined;
      const since = firstSeen(info.generation);
      out.push({
        device,
        name,
        ...(entry && { configuredAs: entry.device }),
        tracked: true,
        kept: p ? (p.failed ? 'store-failed' : 'across-reboots') : 'ram',
        generation: info.generation,
        number: info.number,
        sizeBytes: info.deviceSize,
        ...(p?.continued && { continuedFrom: p.unclean ? 'crash' : 'seal' }),
        ...(p?.continued && p.foundAt && { lastSaved: p.foundAt }),
        ...(p?.continued && p.unverified && { unverified: true }),
        ...(restart && { restart }),
        ...(since && { continuousSince: since }),
      });
    }
    for (const [devno, e] of byDevno) {
      if (seen.has(devno)) continue;
      const name = (await nameOfDevno(this.o.sysRoot, devno)) ?? devno;
      out.push({ device: path.join(this.o.devRoot, name), name, configuredAs: e.device, tracked: false, kept: 'not-attached' });
    }
    return out;
  }

  /**
   * Keeps `device`'s map across reboots: a store file made by the boot tool,
   * the map attached to it now (a map kept in RAM so far is given up: the
   * next backup reads the device once), and the boot image rebuilt so the
   * initramfs attaches it before anything mounts.
   */
  async keep(device: string, say: Say = () => {}): Promise<{ warnings: string[] }> {
    const problem = this.k.problem();
    if (problem) throw new AppError('MODULE_NOT_LOADED', `cannot keep change maps across reboots: ${problem}`);
    const devno = await devnoOf(device);
    if (devno === null) throw new AppError('DEVICE_NOT_FOUND', `${device} is not a block device`, { device });
    const name = await nameOfDevno(this.o.sysRoot, devno);
    if (name === null) throw new AppError('DEVICE_NOT_FOUND', `${device} is not known to the kernel (no /sys/dev/block/${devno})`, { device });
    for (const e of await readBootConfig(this.o.config))
      if ((await devnoOf(e.device)) === devno) return { warnings: [] };

    const kernelPath = path.join(this.o.devRoot, name);
    const tracker = await this.k.info(kernelPath).catch((e: unknown) => {
      if (isNativeSysError(e) && e.code === 'ENOENT') return null;
      throw e;
    });
    if (tracker?.snapshot) throw new AppError('DEVICE_BUSY', `${device} is in a snapshot now (a backup is running): try again when it has finished`, { device });

    await fs.mkdir(this.o.storeDir, { recursive: true, mode: 0o700 });
    const storeDevno = majorMinor((await fs.stat(this.o.storeDir)).dev);
    const storeName = await nameOfDevno(this.o.sysRoot, storeDevno);
    if (storeName === null) throw new AppError('INVALID_ARGUMENT', `the folder for change maps (${this.o.storeDir}) is not on a block device`, { path: this.o.storeDir });
    const { identity } = await deviceIdentity(this.o.sysRoot, name);
    const configName = await stablePath(this.o.devRoot, name);
    const storeDevice = await stablePath(this.o.devRoot, storeName);
    const file = storeFile(this.o.storeDir, identity);

    // The map in RAM cannot move into a store: stop it, the store starts a
    // new generation (and a failure below leaves the device untracked,
    // which the next snapshot's attach repairs).
    if (tracker) {
      say(`stopping the change map ${device} kept in memory`);
      await this.k.detach(kernelPath);
    }
    say(`making the store ${file} on ${storeDevice}`);
    const made = await runTool(this.o.tool, ['--config', this.o.config, 'mkstore', '--device', configName, '--identity', identity, '--store-device', storeDevice, '--file', file], 120_000);
    if (made.code !== 0) throw new AppError('INTERNAL', `the boot tool could not make a store for ${device}: ${made.out}`, { device, file });
    const attached = await runTool(this.o.tool, ['--config', this.o.config, 'attach'], 60_000);
    const info = await this.k.info2(kernelPath).catch(() => null);
    if (!info?.persist.attached) throw new AppError('INTERNAL', `the store for ${device} was made but could not be attached: ${attached.out}`, { device, file });

    const warnings: string[] = [];
    if (this.o.updateInitramfs === null) {
      warnings.push(
        `${device}: this system's boot image is not built by initramfs-tools, so nothing attaches the map at boot before file systems mount; the helper attaches it when it starts, and a write seen first by then makes the next backup read the device once`,
      );
    } else {
      say('rebuilding the boot image (update-initramfs -u -k all) so the map is attached before anything mounts');
      const u = await this.rebuild();
      if (u.code !== 0) warnings.push(`${device}: update-initramfs failed (${u.out.split('\n').slice(-3).join(' ')}): the map is kept until the next reboot; run update-initramfs -u -k all by hand`);
    }
    return { warnings };
  }

  /** Stops keeping `device`'s map: the module seals and lets go of the store, the line and the file go. */
  async forget(device: string, say: Say = () => {}): Promise<{ warnings: string[] }> {
    const devno = await devnoOf(device);
    const entries = await readBootConfig(this.o.config);
    const mine: BootEntry[] = [];
    for (const e of entries) if (e.device === device || (devno !== null && (await devnoOf(e.device)) === devno)) mine.push(e);
    if (mine.length === 0) throw new AppError('NOT_FOUND', `${device} has no change map kept across reboots`, { device });
    if (devno !== null) {
      const name = (await nameOfDevno(this.o.sysRoot, devno)) ?? '';
      const kernelPath = path.join(this.o.devRoot, name);
      const t = await this.k.info(kernelPath).catch(() => null);
      if (t?.snapshot) throw new AppError('DEVICE_BUSY', `${device} is in a snapshot now (a backup is running): try again when it has finished`, { device });
      if (t) {
        say(`sealing and releasing the change map of ${device}`);
        await this.k.detach(kernelPath);
      }
    }
    await removeBootLines(this.o.config, new Set(mine.map((e) => e.line)));
    const warnings: string[] = [];
    // The store files of the removed lines: the immutable flag comes off
    // first (only root can), then the file.
    for (const e of mine) {
      const full = storeFile(this.o.storeDir, e.identity);
      if (!(await fs.stat(full).catch(() => null))) continue;
      const c = await runTool('chattr', ['-i', full], 30_000);
      if (c.code !== 0) warnings.push(`could not clear the immutable flag of ${full}: ${c.out}`);
      else await fs.rm(full, { force: true });
    }
    if (this.o.updateInitramfs !== null) {
      say('rebuilding the boot image (update-initramfs -u -k all) without the map');
      const u = await this.rebuild();
      if (u.code !== 0) warnings.push(`update-initramfs failed (${u.out.split('\n').slice(-3).join(' ')}): run update-initramfs -u -k all by hand`);
    }
    return { warnings };
  }

  private rebuild(): Promise<ToolRun> {
    const [cmd, ...args] = this.o.updateInitramfs ?? [];
    return cmd === undefined ? Promise.resolve({ code: 127, out: 'no command', stdout: '' }) : runTool(cmd, args, 15 * 60_000);
  }

  /** At the helper's start: attach configured maps the initramfs did not (no hook, a dracut system). */
  async attachConfigured(): Promise<string | null> {
    if ((await readBootConfig(this.o.config)).length === 0 || this.k.problem() !== null) return null;
    const r = await runTool(this.o.tool, ['--config', this.o.config, 'attach'], 60_000);
    return r.code === 0 ? null : r.out;
  }
}
