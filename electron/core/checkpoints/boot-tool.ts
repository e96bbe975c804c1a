// The boot tool's checkpoint commands (kmod/boot, `snapkeep-boot checkpoint
// ...`), as the app calls them: the tool makes the store and its config
// lines and issues the module's ioctls, so the same code serves the app, a
// rescue shell and the initramfs. This file only runs it and reads its
// answers; what it prints is parsed as untrusted (it comes from stores on
// disk).
import { existsSync } from 'node:fs';

import { AppError } from '../../common/contract';
import { runTool, type ToolRun } from '../system/run-tool';

/** One line of `snapkeep-boot checkpoint list`: a checkpoint of the config. */
export interface ToolCheckpoint {
  /** The store's block device, as the config names it. */
  store: string;
  file?: string;
  devices: string[];
  /** Set when the store cannot be read; the fields below are then absent. */
  error?: string;
  id?: string;
  state?: string;
  reason?: string;
  /** Seconds since the epoch. */
  created?: number;
  entries?: number;
  usedPages?: number;
  pages?: number;
  attached?: boolean;
  name?: string;
}

export interface CreateRequest {
  name: string;
  file: string;
  storeDevice: string;
  /** Log pages (4 KiB) of the store. */
  pages: number;
  devices: Array<{ device: string; identity: string }>;
}

/** The checkpoint commands; tests of the app hand in a stand-in (the module cannot load on the host). */
export interface CheckpointTool {
  /** Why checkpoints cannot be made now (no module, an old one), or null. */
  problem(): string | null;
  list(): Promise<ToolCheckpoint[]>;
  /** Resolves to the new checkpoint's id; nothing is left behind when it fails. */
  create(r: CreateRequest): Promise<string>;
  commit(id: string): Promise<void>;
  /** Removes an ended (or unreadable: by its store file) checkpoint's config lines and store; an active one only with force. */
  remove(idOrFile: string, o?: { force?: boolean }): Promise<void>;
}

const INT = /^\d{1,19}$/;

/** Parses `checkpoint list` (TAB-separated key=value; name last, so it may hold spaces). */
export function parseCheckpointList(text: string): ToolCheckpoint[] {
  const out: ToolCheckpoint[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('store=')) continue;
    const f = new Map<string, string>();
    for (const field of line.split('\t')) {
      const eq = field.indexOf('=');
      if (eq > 0) f.set(field.slice(0, eq), field.slice(eq + 1));
    }
    const num = (k: string): number | undefined => {
      const v = f.get(k);
      return v !== undefined && INT.test(v) ? Number(v) : undefined;
    };
    const store = f.get('store') ?? '';
    const file = f.get('file');
    const devices = (f.get('devices') ?? '').split(',').filter((d) => d.length > 0);
    const c: ToolCheckpoint = { store, devices, ...(file && { file }) };
    const error = f.get('error');
    if (error !== undefined) {
      out.push({ ...c, error });
      continue;
    }
    const id = f.get('id');
    const state = f.get('state');
    const reason = f.get('reason');
    const name = f.get('name');
    const created = num('created');
    const entries = num('entries');
    const used = num('used');
    const pages = num('pages');
    out.push({
      ...c,
      ...(id !== undefined && { id }),
      ...(state !== undefined && { state }),
      ...(reason !== undefined && { reason }),
      ...(created !== undefined && { created }),
      ...(entries !== undefined && { entries }),
      ...(used !== undefined && { usedPages: used }),
      ...(pages !== undefined && { pages }),
      attached: f.get('attached') === 'yes',
      ...(name !== undefined && { name }),
    });
  }
  return out;
}

/** The installed (or built) boot tool, run for each call. */
export function bootToolCheckpoints(o: { tool: string; config: string; problem: () => string | null }): CheckpointTool {
  const call = (args: string[], timeoutMs = 60_000) => runTool(o.tool, ['--config', o.config, 'checkpoint', ...args], timeoutMs);
  const fail = (what: string, r: ToolRun): never => {
    throw new AppError(r.code === 2 ? 'INVALID_ARGUMENT' : 'INTERNAL', `${what}: ${r.out || `the boot tool exited with ${r.code}`}`, { code: r.code });
  };
  return {
    problem: o.problem,
    async list() {
      // No config: nothing was ever set up (and the tool need not be there).
      if (!existsSync(o.config)) return [];
      const r = await call(['list']);
      if (r.code !== 0) fail('the checkpoints could not be listed', r);
      return parseCheckpointList(r.stdout);
    },
    async create(q) {
      const args = ['create', '--name', q.name, '--file', q.file, '--store-device', q.storeDevice, '--pages', String(q.pages), ...q.devices.map((d) => `${d.device}=${d.identity}`)];
      const r = await call(args, 10 * 60_000);
      if (r.code !== 0) fail('the checkpoint could not be made', r);
      const id = /^id=([0-9a-f-]{36})\s*$/m.exec(r.stdout)?.[1];
      if (id === undefined) throw new AppError('INTERNAL', `the boot tool made a checkpoint but did not say its id: ${r.out}`);
      return id;
    },
    async commit(id) {
      const r = await call(['commit', id]);
      if (r.code !== 0) fail(`checkpoint ${id} could not be ended`, r);
    },
    async remove(idOrFile, o) {
      const r = await call(['remove', ...(o?.force === true ? ['--force'] : []), idOrFile]);
      if (r.code !== 0) fail(`checkpoint ${idOrFile} could not be removed`, r);
    },
  };
}
