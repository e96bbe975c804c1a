// File restore behind one interface, whatever opened the restore point:
// the kernel (NBD or a loop device over a FUSE export, with the file
// systems mounted read-only, or fuse2fs) gives host folders; user-space
// readers (mtools for FAT) give the same paths without a mount. The
// service's files.* methods and the comparison of points use only this.
//
// Paths are those of Mount.filesystems[].mountpoint and below, so the
// renderer does not care how a point was opened.
import { AppError, type FileEntry } from '../../common/contract';
import type { CopyOptions } from '../service/file-browser';

export interface CopyResult {
  files: number;
  bytes: number;
}

/** An entry of a walk, with its path relative to the root of its file system. */
export interface WalkEntry extends FileEntry {
  root: string;
  rel: string;
}

export interface PointFiles {
  /** One per file system that could be opened. */
  readonly roots: readonly string[];
  list(p: string): Promise<FileEntry[]>;
  /** Names containing `query` (case-insensitive), at most `limit`. */
  search(query: string, limit: number, signal?: AbortSignal): Promise<FileEntry[]>;
  /** Copies files and folders out (content, mode without setuid/setgid, times, xattrs where the source has them). */
  copy(paths: string[], destination: string, o: CopyOptions): Promise<CopyResult>;
  /** Every entry below every root (for comparing two points); links are listed, never followed. */
  walk(signal?: AbortSignal): AsyncIterable<WalkEntry>;
}

/** The part (file system) a path belongs to: its root is a prefix of the path. */
export function rootOf(roots: readonly string[], p: string): string | undefined {
  return roots.find((r) => p === r || p.startsWith(r.endsWith('/') ? r : `${r}/`));
}

/** Several file systems of one point, each with its own reader, as one. */
export class CombinedFiles implements PointFiles {
  constructor(private readonly parts: readonly PointFiles[]) {}

  get roots(): string[] {
    return this.parts.flatMap((p) => [...p.roots]);
  }

  private partFor(p: string): PointFiles | undefined {
    return this.parts.find((part) => rootOf(part.roots, p) !== undefined);
  }

  async list(p: string): Promise<FileEntry[]> {
    const part = this.partFor(p);
    if (!part) throw outside(p);
    return part.list(p);
  }

  async search(query: string, limit: number, signal?: AbortSignal): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    for (const part of this.parts) {
      if (out.length >= limit) break;
      out.push(...(await part.search(query, limit - out.length, signal)));
    }
    return out;
  }

  async copy(paths: string[], destination: string, o: CopyOptions): Promise<CopyResult> {
    const unknown = paths.find((p) => !this.partFor(p));
    if (unknown !== undefined) throw outside(unknown);
    const total = { files: 0, bytes: 0 };
    for (const part of this.parts) {
      const mine = paths.filter((p) => rootOf(part.roots, p) !== undefined);
      if (mine.length === 0) continue;
      const r = await part.copy(mine, destination, o);
      total.files += r.files;
      total.bytes += r.bytes;
    }
    return total;
  }

  async *walk(signal?: AbortSignal): AsyncIterable<WalkEntry> {
    for (const part of this.parts) yield* part.walk(signal);
  }
}

function outside(p: string): AppError {
  return new AppError('INVALID_ARGUMENT', `${p} is outside the opened restore point`, { path: p });
}
