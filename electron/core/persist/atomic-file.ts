// Crash-safe file replacement: a reader sees the old content or the new
// content, never a torn mix, even when the process is killed (or the power
// fails) in the middle of a write. The recipe is the classic one: write a
// temporary file in the same directory, fsync it, rename it over the target,
// then fsync the directory so the rename itself is durable.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o600: state may name devices and paths). */
  mode?: number;
  /** Create the parent directory first. */
  mkdir?: boolean;
}

/** Prefix of temporary files; leftovers of a killed writer are swept by sweepTempFiles. */
export const TEMP_PREFIX = '.snapkeep-tmp-';

export function isTempFile(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  if (options.mkdir) await fs.mkdir(dir, { recursive: true });
  // Same directory as the target: rename is atomic only within one file system.
  const tmp = path.join(dir, `${TEMP_PREFIX}${path.basename(file)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const handle = await fs.open(tmp, 'wx', options.mode ?? 0o600);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/** Removes temporary files a killed writer left behind; returns their names. */
export async function sweepTempFiles(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const stale = names.filter(isTempFile);
  await Promise.all(stale.map((n) => fs.rm(path.join(dir, n), { force: true })));
  return stale;
}

/** Removes files and makes the removal durable, directory by directory. */
export async function removeDurably(files: string[]): Promise<void> {
  const touched = new Set<string>();
  for (const f of files) {
    await fs.rm(f, { force: true });
    touched.add(path.dirname(f));
  }
  for (const d of touched) await fsyncDir(d).catch(() => undefined);
}

/** Names in a directory, [] when it does not exist; hidden files (temp files among them) excluded. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
