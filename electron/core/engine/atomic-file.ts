// Every file of the repository is written whole or not at all: temp file
// in the same directory, fsync, rename, fsync of the directory. A reader
// (or a crash) never sees a torn file under its final name.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export async function writeFileAtomic(file: string, data: Buffer | string): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
  const h = await fs.open(tmp, 'wx', 0o644);
  try {
    await h.writeFile(data);
    await h.sync();
  } catch (e) {
    await h.close();
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await h.close();
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
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

/** Names in a directory, [] when it does not exist; hidden temp files excluded. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
