// /etc/snapkeep/boot.conf as the app needs it: which devices have a kept
// change map and where its store is. The boot tool (kmod/boot) is the
// file's real reader and writer (mkstore appends a line); the app only
// lists entries and removes one when tracking across reboots is turned off.
// Format: docs/kernel-module.md, "Boot integration".
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { writeFileAtomic } from '../persist/atomic-file';

export interface BootEntry {
  /** The device as the config names it (a stable /dev/disk/... link when there is one). */
  device: string;
  identity: string;
  /** The block device the store's ranges are on. */
  store: string;
  /** The line, for removing it. */
  line: number;
}

/** The `track` lines; lines the app does not understand are left for the tool to report. */
export function parseBootConfig(text: string): BootEntry[] {
  const out: BootEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const words = raw.trim().split(/\s+/);
    if (words[0] !== 'track' || words.length < 3) return;
    const device = words[1] ?? '';
    const field = (k: string) => words.slice(2).find((w) => w.startsWith(`${k}=`))?.slice(k.length + 1);
    const identity = field('identity');
    const store = field('store');
    if (!device.startsWith('/') || identity === undefined || store === undefined) return;
    out.push({ device, identity, store, line: i + 1 });
  });
  return out;
}

export async function readBootConfig(file: string): Promise<BootEntry[]> {
  try {
    return parseBootConfig(await fs.readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Removes the given lines (1-based), atomically: the boot reads either the
 * old file or the new one. The file keeps root-only write permission (the
 * tool refuses anything else at boot).
 */
export async function removeBootLines(file: string, lines: ReadonlySet<number>): Promise<void> {
  const text = await fs.readFile(file, 'utf8');
  const kept = text.split('\n').filter((_, i) => !lines.has(i + 1));
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await writeFileAtomic(file, kept.join('\n'), { mode: 0o644 });
}
