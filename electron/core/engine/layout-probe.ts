// The partition table and file-system facts recorded in each manifest:
// sfdisk --json for the table, blkid -p (low-level probe, no cache) for the
// file systems, at the partition's offset so image files need no loop
// device. Fixed argv through execFile, never a shell. A source without a
// table or a recognisable file system simply records less.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';

import type { DeviceLayout } from './manifest';

function run(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000, maxBuffer: 4 << 20, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => {
      resolve(err ? undefined : stdout);
    });
  });
}

interface FsFacts {
  fsType?: string;
  fsUuid?: string;
  fsLabel?: string;
  ptType?: string;
}

/** blkid's KEY=value export format. */
export function parseBlkidExport(text: string): FsFacts {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const out: FsFacts = {};
  const type = kv.get('TYPE');
  const uuid = kv.get('UUID');
  const label = kv.get('LABEL');
  const pt = kv.get('PTTYPE');
  if (type) out.fsType = type;
  if (uuid) out.fsUuid = uuid;
  if (label) out.fsLabel = label;
  if (pt) out.ptType = pt;
  return out;
}

async function probeFs(path: string, offset?: number, size?: number): Promise<FsFacts> {
  const args = ['-p', '-o', 'export'];
  if (offset !== undefined) args.push('-O', String(offset));
  if (size !== undefined) args.push('-S', String(size));
  args.push(path);
  const out = await run('blkid', args);
  return out ? parseBlkidExport(out) : {};
}

interface SfdiskJson {
  partitiontable?: {
    label?: string;
    sectorsize?: number;
    partitions?: Array<{ start: number; size: number; type?: string; node?: string }>;
  };
}

export function parseSfdisk(text: string): { label?: 'gpt' | 'dos'; parts: Array<{ number: number; startBytes: number; sizeBytes: number; type?: string }> } {
  const j = JSON.parse(text) as SfdiskJson;
  const t = j.partitiontable;
  if (!t) return { parts: [] };
  const sector = t.sectorsize ?? 512;
  const label = t.label === 'gpt' || t.label === 'dos' ? t.label : undefined;
  const parts = (t.partitions ?? []).map((p, i) => {
    const m = p.node ? /(\d+)$/.exec(p.node) : null;
    return {
      number: m?.[1] ? Number(m[1]) : i + 1,
      startBytes: p.start * sector,
      sizeBytes: p.size * sector,
      ...(p.type !== undefined && { type: p.type }),
    };
  });
  return { ...(label && { label }), parts };
}

/** Bytes of an image file or block device; undefined when it cannot be told. */
async function sizeOf(path: string): Promise<number | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (st?.isFile()) return st.size;
  if (st?.isBlockDevice()) {
    const out = await run('blockdev', ['--getsize64', path]);
    const n = out === undefined ? NaN : Number(out.trim());
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

export async function probeLayout(path: string): Promise<DeviceLayout> {
  const layout: DeviceLayout = { partitions: [] };
  const table = await run('sfdisk', ['--json', path]);
  let parsed: ReturnType<typeof parseSfdisk> = { parts: [] };
  if (table) {
    try {
      parsed = parseSfdisk(table);
    } catch {
      /* not JSON: no table */
    }
  }
  // A FAT "superfloppy" (a USB stick formatted without partitions) has a
  // boot sector sfdisk reads as an MBR with one entry running past the
  // end: partitions that do not fit the device are not partitions, and
  // with none left the device is probed as one file system.
  const size = await sizeOf(path);
  if (size !== undefined) {
    parsed = { ...parsed, parts: parsed.parts.filter((p) => p.startBytes > 0 && p.sizeBytes > 0 && p.startBytes + p.sizeBytes <= size) };
    if (parsed.parts.length === 0) delete parsed.label;
  }
  if (parsed.label) layout.partTableType = parsed.label;
  for (const p of parsed.parts) {
    const fs = await probeFs(path, p.startBytes, p.sizeBytes);
    layout.partitions.push({
      number: p.number,
      startBytes: p.startBytes,
      sizeBytes: p.sizeBytes,
      ...(p.type !== undefined && { type: p.type }),
      ...(fs.fsType !== undefined && { fsType: fs.fsType }),
      ...(fs.fsUuid !== undefined && { fsUuid: fs.fsUuid }),
      ...(fs.fsLabel !== undefined && { fsLabel: fs.fsLabel }),
    });
  }
  if (!parsed.label) {
    const whole = await probeFs(path);
    if (whole.fsType !== undefined) layout.fsType = whole.fsType;
    if (whole.fsUuid !== undefined) layout.fsUuid = whole.fsUuid;
    if (whole.fsLabel !== undefined) layout.fsLabel = whole.fsLabel;
  }
  return layout;
}
