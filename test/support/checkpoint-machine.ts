// A computer for checkpoint tests with the boot tool and the boot menu
// mocked (named so: the module cannot load on the host; VM test 305 and
// full-boot test 005 run the real ones): / is vda2 and /boot/efi vda1 in a
// scratch sysfs, and the store folder is on "vda2". The mocked tool keeps
// its checkpoints in `held`, as the real one keeps them in boot.conf.
import { existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type { BootMenu } from '../../electron/core/checkpoints/boot-menu';
import type { CheckpointTool, CreateRequest, ToolCheckpoint } from '../../electron/core/checkpoints/boot-tool';
import type { CheckpointsOptions } from '../../electron/core/checkpoints/checkpoints';
import { majorMinor } from '../../electron/core/devices/sysfs';

export const GiB = 2 ** 30;

export interface MockMachine {
  /** What the mocked tool holds (its boot.conf). */
  held: ToolCheckpoint[];
  /** Calls made to the tool and the menu, in order. */
  calls: string[];
  /** Why checkpoints cannot be made (the tool's problem()), or null. */
  problem: string | null;
  /** Why the boot menu cannot hold rollback entries (the menu's problem()), or null. */
  menuProblem: string | null;
  /** Why the boot menu cannot count failed boots (failedBootsProblem()), or null. */
  failedBootsProblem: string | null;
  /** The bytes free for the store (freeBytes). */
  free: number;
  /** Makes the next create fail with this message (as the tool failing). */
  createFails: string | null;
  /** While set, create waits for it (a slow store write). */
  createGate: Promise<void> | null;
  /** Ids handed out by create, in turn. */
  ids: string[];
  tool: CheckpointTool;
  menu: BootMenu;
  /** Options for Checkpoints (or a Service's `checkpoints`). */
  options: CheckpointsOptions;
}

export interface MockMachineOptions {
  /** The bytes free for the store at first; 20 GiB unless given. */
  free?: number;
  /** The menu's problem at first; none unless given. */
  menuProblem?: string | null;
  /** The command run as update-initramfs (null: none); /bin/true unless given. */
  updateInitramfs?: readonly string[] | null;
}

export function mockMachine(scratch: string, o: MockMachineOptions = {}): MockMachine {
  const sys = path.join(scratch, 'sys');
  const dev = path.join(scratch, 'dev');
  const storeDir = path.join(scratch, 'ckpt');
  mkdirSync(storeDir, { recursive: true });
  const storeDevno = majorMinor(statSync(storeDir).dev);
  for (const [name, devno, part] of [['vda1', '254:1', '1'], ['vda2', storeDevno, '2']] as const) {
    if (existsSync(path.join(sys, 'class/block', name))) continue;
    const d = path.join(sys, 'devices/vda', name);
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, 'size'), '2097152\n');
    writeFileSync(path.join(d, 'partition'), `${part}\n`);
    writeFileSync(path.join(d, 'start'), '2048\n');
    mkdirSync(path.join(sys, 'class/block'), { recursive: true });
    mkdirSync(path.join(sys, 'dev/block'), { recursive: true });
    symlinkSync(d, path.join(sys, 'class/block', name));
    symlinkSync(d, path.join(sys, 'dev/block', devno));
  }
  writeFileSync(path.join(sys, 'devices/vda/serial'), 'QM00001\n');
  mkdirSync(dev, { recursive: true });
  const mountinfo = path.join(scratch, 'mountinfo');
  writeFileSync(
    mountinfo,
    [`22 1 ${storeDevno} / / rw,relatime shared:1 - ext4 /dev/vda2 rw`, '23 22 0:5 / /proc rw shared:2 - proc proc rw', '24 22 254:1 / /boot/efi rw shared:3 - vfat /dev/vda1 rw', ''].join('\n'),
  );

  let menuEntries = new Map<string, string>();
  let nextEntry: string | null = null;
  const m: MockMachine = {
    held: [],
    calls: [],
    problem: null,
    menuProblem: o.menuProblem ?? null,
    failedBootsProblem: null,
    free: o.free ?? 20 * GiB,
    createFails: null,
    createGate: null,
    ids: ['0c5e1b2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d', '1c5e1b2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d', '2c5e1b2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d'],
    tool: {
      problem: () => m.problem,
      list: async () => m.held.map((c) => ({ ...c })),
      create: async (r: CreateRequest) => {
        m.calls.push(`create ${JSON.stringify(r)}`);
        if (m.createGate) await m.createGate;
        if (m.createFails !== null) throw new Error(m.createFails);
        const id = m.ids.shift() ?? 'ffffffff-3d4f-4a5b-8c6d-7e8f9a0b1c2d';
        m.held.push({ store: r.storeDevice, file: r.file, devices: r.devices.map((d) => d.device), id, state: 'active', reason: 'none', created: 1_796_000_000, entries: 0, usedPages: 3, pages: r.pages, attached: true, name: r.name });
        return id;
      },
      commit: async (id) => {
        m.calls.push(`commit ${id}`);
        for (const c of m.held) if (c.id === id) Object.assign(c, { state: 'committed', attached: false });
      },
      // As the real tool (boot_ckpt_remove): never one attached in the
      // running kernel, an active or rolling-back one only with force.
      remove: async (key, r) => {
        m.calls.push(`remove ${key}${r?.force === true ? ' --force' : ''}`);
        const c = m.held.find((x) => x.id === key || x.file === key);
        if (c === undefined) throw new Error(`${key}: no checkpoint with this id or store file`);
        if (c.attached === true) throw new Error('attached in the running kernel');
        if ((c.state === 'active' || c.state === 'rolling-back') && r?.force !== true) throw new Error(`is ${c.state}: commit or abandon it first`);
        m.held = m.held.filter((x) => x !== c);
      },
    },
    menu: {
      problem: async () => m.menuProblem,
      update: async () => {
        m.calls.push('update-grub');
        menuEntries = new Map(m.held.filter((c) => c.state === 'active' && c.id !== undefined).map((c) => [c.id as string, `Roll back to checkpoint ${c.name ?? ''}`]));
      },
      entries: async () => menuEntries,
      next: async () => nextEntry,
      setNext: async (e) => {
        m.calls.push(`grub-reboot ${e ?? 'none'}`);
        nextEntry = e;
      },
      failedBootsProblem: async () => m.failedBootsProblem,
    },
    options: undefined as unknown as CheckpointsOptions,
  };
  m.options = {
    tool: m.tool,
    menu: m.menu,
    storeDir,
    sysRoot: sys,
    devRoot: dev,
    mountinfo,
    updateInitramfs: o.updateInitramfs === undefined ? ['/bin/true'] : o.updateInitramfs,
    freeBytes: async () => m.free,
  };
  return m;
}
