// FAT restore points read in user space with mtools (Debian's mtools):
// the host kernel may have no vfat (this CI machine has none) and a user
// may not mount. mdir lists, mcopy copies into a private staging folder,
// and the copy out goes through file-browser.ts like every other copy.
//
// The image is the point's disk exported as a file (fuse-export.ts); a
// partition is addressed as image@@offset. mtools' own configuration is
// ignored (MTOOLSRC=/dev/null) so a user's ~/.mtoolsrc cannot change the
// output format parsed here.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type FileEntry } from '../../common/contract';
import { type CopyOptions, copyFiles } from '../service/file-browser';
import type { CopyResult, PointFiles, WalkEntry } from './point-files';
import { run } from './run';

const ENV = { MTOOLSRC: '/dev/null', MTOOLS_SKIP_CHECK: '1', MTOOLS_NO_VFAT: '0' };

/** One entry of `mdir -a` output; null for headers, totals and "." / "..". */
export function parseMdirLine(line: string): { name: string; dir: boolean; size: number; modified: Date } | null {
  const m = /^(.{8}) (.{3}) +(<DIR>|\d+) +(\d{4})-(\d\d)-(\d\d) +(\d{1,2}):(\d\d)(.*)$/.exec(line);
  if (!m) return null;
  const [, short, ext, size, y, mo, d, h, mi, rest] = m as unknown as string[];
  // A long name follows the time after two spaces; else the 8.3 name is the name.
  const long = rest!.startsWith('  ') ? rest!.slice(2) : '';
  const name = long || (ext!.trim() ? `${short!.trim()}.${ext!.trim()}` : short!.trim());
  if (name === '.' || name === '..' || name === '') return null;
  // FAT keeps local time without a zone: read it as this computer's local time.
  const modified = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi));
  return { name, dir: size === '<DIR>', size: size === '<DIR>' ? 0 : Number(size), modified };
}

/** `mdir -/ -a` output: every entry with its folder ("Directory for ::/x" headers). */
export function parseMdirTree(text: string): Array<{ dir: string; name: string; isDir: boolean; size: number; modified: Date }> {
  const out: Array<{ dir: string; name: string; isDir: boolean; size: number; modified: Date }> = [];
  let current: string | null = null;
  for (const line of text.split('\n')) {
    const h = /^Directory for ::(.*)$/.exec(line);
    if (h) {
      current = h[1] === '' ? '/' : (h[1] as string);
      continue;
    }
    if (current === null) continue;
    const e = parseMdirLine(line);
    if (e) out.push({ dir: current, name: e.name, isDir: e.dir, size: e.size, modified: e.modified });
  }
  return out;
}

export class MtoolsTree implements PointFiles {
  readonly roots: readonly string[];

  /**
   * image: the exported disk; offset: the partition's start; root: the
   * path it answers under; staging: a private folder for copies.
   */
  constructor(
    private readonly image: string,
    private readonly offset: number,
    root: string,
    private readonly staging: string,
  ) {
    this.roots = [root];
  }

  private get root(): string {
    return this.roots[0] as string;
  }

  private drive(): string {
    return this.offset > 0 ? `${this.image}@@${this.offset}` : this.image;
  }

  /** The path inside the FAT file system ("::/a/b"), or INVALID_ARGUMENT outside the root. */
  private inner(p: string): string {
    const rel = p === this.root ? '/' : p.startsWith(`${this.root}/`) ? p.slice(this.root.length) : null;
    if (rel === null || rel.split('/').includes('..')) throw new AppError('INVALID_ARGUMENT', `${p} is outside the opened restore point`, { path: p });
    return `::${rel}`;
  }

  private async mdir(args: string[]): Promise<string> {
    const r = await run('mdir', ['-a', '-i', this.drive(), ...args], { env: ENV });
    if (!r.ok) {
      if (/not found/i.test(r.stderr)) throw new AppError('NOT_FOUND', `${args.at(-1)} does not exist in the restore point`, { path: args.at(-1) });
      throw new AppError('IO_ERROR', `mdir failed: ${r.stderr.trim()}`, { image: this.image });
    }
    return r.stdout;
  }

  private entry(dir: string, e: { name: string; isDir: boolean; size: number; modified: Date }): WalkEntry {
    const rel = path.posix.join(dir, e.name);
    return { name: e.name, path: this.root + rel, type: e.isDir ? 'dir' : 'file', sizeBytes: e.size, modifiedAt: e.modified.toISOString(), root: this.root, rel };
  }

  async list(p: string): Promise<FileEntry[]> {
    const inner = this.inner(p);
    const all = parseMdirTree(await this.mdir([inner]));
    // mdir on a file lists its folder with that one entry: the contract wants the entry itself.
    return all.map((e) => this.entry(e.dir, e)).map(({ root: _r, rel: _l, ...f }) => f);
  }

  private async all(): Promise<WalkEntry[]> {
    return parseMdirTree(await this.mdir(['-/', '::/'])).map((e) => this.entry(e.dir, e));
  }

  async search(query: string, limit: number, signal?: AbortSignal): Promise<FileEntry[]> {
    const q = query.toLowerCase();
    const out: FileEntry[] = [];
    for (const e of await this.all()) {
      if (signal?.aborted) throw new AppError('CANCELLED', 'search cancelled');
      if (e.name.toLowerCase().includes(q)) out.push({ name: e.name, path: e.path, type: e.type, sizeBytes: e.sizeBytes, modifiedAt: e.modifiedAt });
      if (out.length >= limit) break;
    }
    return out;
  }

  async copy(paths: string[], destination: string, o: CopyOptions): Promise<CopyResult> {
    const inner = paths.map((p) => this.inner(p));
    const stage = await fs.mkdtemp(path.join(this.staging, 'copy-'));
    try {
      const staged: string[] = [];
      for (const src of inner) {
        if (o.signal?.aborted) throw new AppError('CANCELLED', 'copy cancelled');
        // One folder per item: two selected items may share a name.
        const slot = await fs.mkdtemp(path.join(stage, 'i-'));
        // -s folders with their contents, -p -m attributes and times, -n never ask.
        const r = await run('mcopy', ['-s', '-p', '-m', '-n', '-i', this.drive(), src, `${slot}/`], { env: ENV, timeoutMs: 3_600_000 });
        if (!r.ok) throw new AppError(/not found/i.test(r.stderr) ? 'NOT_FOUND' : 'IO_ERROR', `mcopy ${src}: ${r.stderr.trim()}`, { path: src });
        const [name] = await fs.readdir(slot);
        if (name !== undefined) staged.push(path.join(slot, name));
      }
      return await copyFiles(staged, [stage], destination, o);
    } finally {
      await fs.rm(stage, { recursive: true, force: true });
    }
  }

  async *walk(signal?: AbortSignal): AsyncIterable<WalkEntry> {
    for (const e of await this.all()) {
      if (signal?.aborted) throw new AppError('CANCELLED', 'cancelled');
      yield e;
    }
  }
}
