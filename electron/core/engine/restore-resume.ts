// Where a resumable restore keeps its progress, and what ties that record
// to one restore: the point, the range and the target's identity. A file
// target is known by its inode; a block device by its disk's WWID or serial
// and sizes (and, for a partition, its number and start), or by its device
// number when the disk has neither. So a different disk that took the same
// name (another USB stick of the same model) never inherits another
// restore's progress, and the same disk plugged in again under another
// name keeps its own.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Reads a sysfs attribute, or undefined when the device has none. */
async function attr(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The identity of a restore target. A missing image file is created first
 * (empty: the restore would create it anyway), so the first run and a
 * resumed one see the same inode; with `create: false` a missing target
 * has none (undefined).
 */
export async function targetIdentity(target: string, opts?: { sysRoot?: string; create?: true }): Promise<string>;
export async function targetIdentity(target: string, opts: { sysRoot?: string; create: false }): Promise<string | undefined>;
export async function targetIdentity(target: string, opts: { sysRoot?: string; create?: boolean } = {}): Promise<string | undefined> {
  const sysRoot = opts.sysRoot ?? '/sys';
  const create = opts.create ?? true;
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(target, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (create ? fs.constants.O_CREAT : 0), 0o644);
  } catch (e) {
    if (!create && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isBlockDevice()) return `file:${st.dev}:${st.ino}`;
    const major = Number(st.rdev >> 8n) & 0xfff;
    const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & 0xfff00n));
    const dir = await fs.realpath(path.join(sysRoot, 'dev/block', `${major}:${minor}`)).catch(() => undefined);
    if (!dir) return `block:${major}:${minor}`;
    const partition = await attr(path.join(dir, 'partition'));
    const disk = partition !== undefined ? path.dirname(dir) : dir;
    const size = await attr(path.join(dir, 'size'));
    const serial =
      (await attr(path.join(disk, 'device/wwid'))) ?? (await attr(path.join(disk, 'wwid'))) ?? (await attr(path.join(disk, 'device/serial'))) ?? (await attr(path.join(disk, 'serial')));
    // A disk that says who it is keeps its progress when it comes back under
    // another name (unplugged and plugged in again, another boot); one that
    // does not is known by its device number.
    if (serial === undefined) return `block:${major}:${minor}:${size ?? '?'}:?`;
    const where = partition !== undefined ? `:part${partition}@${(await attr(path.join(dir, 'start'))) ?? '?'}` : '';
    return `disk:${serial}:${(await attr(path.join(disk, 'size'))) ?? '?'}${where}:${size ?? '?'}`;
  } finally {
    await fh.close();
  }
}

export interface ResumeKeyParts {
  repositoryId: string;
  pointId: string;
  source: string;
  rangeStart: number;
  rangeLength: number;
  chunkSize: number;
  target: string;
}

/** The resume file of a target (one per target: a new restore to it replaces an old one's) and the key inside it. */
export function resumeRecord(dir: string, p: ResumeKeyParts): { file: string; key: string } {
  return { file: resumeFile(dir, p.target), key: JSON.stringify({ v: 1, ...p }) };
}

/** Where the progress of restores to the target of this identity is kept. */
export function resumeFile(dir: string, targetIdentity: string): string {
  return path.join(dir, `${createHash('sha256').update(targetIdentity).digest('hex').slice(0, 32)}.resume`);
}

/** How long the progress of an interrupted restore is kept for a resume that may never come. */
export const RESUME_RECORD_DAYS = 30;

/**
 * Removes progress records of restores interrupted more than `days` ago
 * (the target was never restored to again): they would only ever resume a
 * restore nobody retries, and they name a target's chunks. Only this
 * directory's `*.resume` files are touched; returns how many went.
 */
export async function dropStaleResumeRecords(dir: string, days = RESUME_RECORD_DAYS, now = Date.now()): Promise<number> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  let dropped = 0;
  for (const name of names) {
    if (!/^[0-9a-f]{32}\.resume$/.test(name)) continue;
    const file = path.join(dir, name);
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isFile() || now - st.mtimeMs < days * 86_400_000) continue;
    await fs.rm(file, { force: true });
    dropped++;
  }
  return dropped;
}
