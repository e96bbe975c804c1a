// The boot menu's side of checkpoints: GRUB's rollback entries (made by
// /etc/grub.d/42_snapkeep from `snapkeep-boot checkpoint list`), rebuilding
// grub.cfg, and booting one entry once (grub-reboot). The installed helper
// runs sandboxed with /boot read-only, so it asks systemd to run the
// installer's oneshot units instead (electron/helper/templates).
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { runTool, type ToolRun } from '../system/run-tool';

export interface BootMenu {
  /** Why the boot menu cannot offer rollbacks (no GRUB, the snippet not installed), or null. */
  problem(): Promise<string | null>;
  /** Rebuilds grub.cfg (update-grub). */
  update(): Promise<void>;
  /** The rollback entries grub.cfg holds: checkpoint id → menu title. */
  entries(): Promise<Map<string, string>>;
  /** The entry the next boot takes once (grub-reboot), if any. */
  next(): Promise<string | null>;
  /** Boots `entry` once at the next boot; null clears it. */
  setNext(entry: string | null): Promise<void>;
  /**
   * Why GRUB cannot roll a checkpoint back by itself after failed boots
   * (failed-boots.ts): it must be able to write its environment block at
   * every boot, and every boot through it must be a boot of this system.
   */
  failedBootsProblem(): Promise<string | null>;
}

/** The id a checkpoint's rollback entry has in grub.cfg (42_snapkeep). */
export function rollbackEntryId(checkpointId: string): string {
  return `snapkeep-rollback-${checkpointId}`;
}

/** Rollback entries of a grub.cfg: `menuentry '<title>' ... --id 'snapkeep-rollback-<id>'`. */
export function parseRollbackEntries(cfg: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /^\s*menuentry\s+'([^']*)'[^\n]*?--id\s+'?snapkeep-rollback-([0-9a-f-]{36})'?/gm;
  for (let m = re.exec(cfg); m; m = re.exec(cfg)) out.set(m[2] ?? '', m[1] ?? '');
  return out;
}

export interface GrubMenuOptions {
  grubCfg: string;
  grubEnv: string;
  /** /etc/grub.d/42_snapkeep */
  snippet: string;
  /** Commands; each a full argv. Installed helper: systemctl start of the oneshot units. */
  update: readonly string[];
  setNext: (entry: string) => readonly string[];
  clearNext: readonly string[];
  /** grub-probe --target=<target> <path>: abstraction and fs of the grubenv's folder. */
  probe: (target: 'abstraction' | 'fs', dir: string) => readonly string[];
}

export function defaultGrubMenuOptions(): GrubMenuOptions {
  const sandboxed = existsSync('/etc/systemd/system/snapkeep-grub.service') && existsSync('/run/systemd/system');
  const grubReboot = ['/usr/sbin/grub-reboot', '/sbin/grub-reboot'].find((t) => existsSync(t)) ?? 'grub-reboot';
  const editenv = ['/usr/bin/grub-editenv', '/bin/grub-editenv'].find((t) => existsSync(t)) ?? 'grub-editenv';
  const updateGrub = ['/usr/sbin/update-grub', '/sbin/update-grub'].find((t) => existsSync(t)) ?? 'update-grub';
  return {
    grubCfg: '/boot/grub/grub.cfg',
    grubEnv: '/boot/grub/grubenv',
    snippet: '/etc/grub.d/42_snapkeep',
    update: sandboxed ? ['systemctl', 'start', 'snapkeep-grub.service'] : [updateGrub],
    // The unit's instance is the entry id: ids are [a-z0-9-], safe as a unit name.
    setNext: (entry) => (sandboxed ? ['systemctl', 'start', `snapkeep-grub-reboot@${entry}.service`] : [grubReboot, entry]),
    clearNext: sandboxed ? ['systemctl', 'start', 'snapkeep-grub-reboot@none.service'] : [editenv, '/boot/grub/grubenv', 'unset', 'next_entry'],
    probe: (target, dir) => [['/usr/sbin/grub-probe', '/sbin/grub-probe'].find((t) => existsSync(t)) ?? 'grub-probe', `--target=${target}`, dir],
  };
}

/** Menu entries 30_os-prober put in a grub.cfg: other systems this boot menu starts. */
export function otherSystems(cfg: string): string[] {
  const section = /^### BEGIN \/etc\/grub\.d\/30_os-prober ###$([\s\S]*?)^### END \/etc\/grub\.d\/30_os-prober ###$/m.exec(cfg)?.[1] ?? '';
  return [...section.matchAll(/^\s*menuentry\s+'([^']*)'/gm)].map((m) => m[1] ?? '');
}

/** File systems GRUB does not write its environment block on (grub-editenv's and 00_header's own list). */
const ENV_UNWRITABLE_FS = new Set(['btrfs', 'zfs', 'cpiofs', 'newc', 'odc', 'romfs', 'squash4', 'tarfs']);

async function exec(argv: readonly string[], what: string): Promise<ToolRun> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new AppError('INTERNAL', `${what}: no command`);
  const r = await runTool(cmd, args, 10 * 60_000);
  if (r.code !== 0) throw new AppError('INTERNAL', `${what} failed: ${r.out.split('\n').slice(-3).join(' ')}`, { code: r.code });
  return r;
}

export function grubMenu(o: GrubMenuOptions = defaultGrubMenuOptions()): BootMenu {
  const problem = async (): Promise<string | null> => {
    if (!existsSync(o.grubCfg)) return `this computer does not boot with GRUB (no ${o.grubCfg}): a checkpoint can be rolled back only from a rescue shell (snapkeep-boot rollback)`;
    if (!existsSync(o.snippet)) return `the boot menu snippet ${o.snippet} is not installed: reinstall the helper (snapkeep-helper install)`;
    return null;
  };
  return {
    problem,
    async update() {
      await exec(o.update, 'rebuilding the boot menu (update-grub)');
    },
    async entries() {
      const cfg = await fs.readFile(o.grubCfg, 'utf8').catch(() => '');
      return parseRollbackEntries(cfg);
    },
    async next() {
      const env = await fs.readFile(o.grubEnv, 'utf8').catch(() => '');
      return /^next_entry=(.+)$/m.exec(env)?.[1] ?? null;
    },
    async setNext(entry) {
      if (entry === null) await exec(o.clearNext, 'clearing the one-time boot entry');
      else await exec(o.setNext(entry), 'choosing the rollback entry for the next boot (grub-reboot)');
    },
    async failedBootsProblem() {
      const grub = await problem();
      if (grub !== null) return grub;
      if (!existsSync(o.grubEnv)) return `GRUB's environment block ${o.grubEnv} is missing, so GRUB cannot count boots (create it: grub-editenv ${o.grubEnv} create)`;
      const others = otherSystems(await fs.readFile(o.grubCfg, 'utf8').catch(() => ''));
      if (others.length > 0)
        return `the boot menu also starts ${others.map((t) => `"${t}"`).join(', ')}: starting it would count as a failed boot of this system, so failed boots cannot be counted`;
      const dir = path.dirname(o.grubEnv);
      const probe = async (target: 'abstraction' | 'fs') => {
        const [cmd, ...args] = o.probe(target, dir);
        const r = await runTool(cmd ?? 'grub-probe', args, 60_000);
        if (r.code !== 0) throw new Error(`grub-probe --target=${target} ${dir} failed: ${r.out.trim().split('\n').pop() ?? ''}`);
        return r.out.trim();
      };
      try {
        const abstraction = await probe('abstraction');
        if (abstraction !== '') return `${dir} is on ${abstraction.split(/\s+/).join(' and ')}, where GRUB cannot write its environment block, so it cannot count boots`;
        const fsType = await probe('fs');
        if (ENV_UNWRITABLE_FS.has(fsType)) return `${dir} is on ${fsType}, where GRUB cannot write its environment block, so it cannot count boots`;
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
      return null;
    },
  };
}
