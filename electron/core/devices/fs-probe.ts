// What a block device holds (file system type, UUID, label, partition
// table). udev's database answers without root and without touching the
// device; blkid probes the device itself where udev is absent (the test VM,
// minimal servers). blkid is run with a fixed argument vector: the device
// path comes from sysfs, never from a request.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface FsFacts {
  fsType?: string;
  fsUuid?: string;
  fsLabel?: string;
  partTableType?: 'gpt' | 'dos';
  model?: string;
  serial?: string;
}

function pick(map: Map<string, string>, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = map.get(k);
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

function facts(map: Map<string, string>): FsFacts {
  const out: FsFacts = {};
  const fsType = pick(map, 'ID_FS_TYPE', 'TYPE');
  const fsUuid = pick(map, 'ID_FS_UUID', 'UUID');
  const fsLabel = pick(map, 'ID_FS_LABEL', 'LABEL');
  const pt = pick(map, 'ID_PART_TABLE_TYPE', 'PTTYPE');
  const model = pick(map, 'ID_MODEL');
  const serial = pick(map, 'ID_SERIAL_SHORT');
  if (fsType) out.fsType = fsType;
  if (fsUuid) out.fsUuid = fsUuid;
  if (fsLabel) out.fsLabel = fsLabel;
  if (pt === 'gpt' || pt === 'dos') out.partTableType = pt;
  if (model) out.model = model.replace(/_/g, ' ');
  if (serial) out.serial = serial;
  return out;
}

/** udev's record of a block device: "E:KEY=value" lines. */
export async function probeUdev(udevData: string, devno: string): Promise<FsFacts | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(udevData, `b${devno}`), 'utf8');
  } catch {
    return null;
  }
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^E:([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) map.set(m[1], m[2]);
  }
  return facts(map);
}

/** `blkid -p -o export`: needs read access to the device (root). */
export async function probeBlkid(devicePath: string): Promise<FsFacts> {
  try {
    // -p probes the device directly (no cache that could be stale); the
    // exit status is 2 when nothing was found, which is an answer, not an error.
    const { stdout } = await execFileP('blkid', ['-p', '-o', 'export', '--', devicePath], { timeout: 10_000 });
    return parseBlkidExport(stdout);
  } catch (e) {
    const out = (e as { stdout?: string }).stdout;
    return typeof out === 'string' ? parseBlkidExport(out) : {};
  }
}

export function parseBlkidExport(text: string): FsFacts {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return facts(map);
}
