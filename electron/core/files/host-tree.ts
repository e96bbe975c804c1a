// A restore point's file systems as host folders (mounted by the kernel
// from an NBD or loop device, or by fuse2fs): browsing, searching and
// copying go through file-browser.ts, which confines every path to the
// mounts and never follows a link found in the backup.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError, type FileEntry } from '../../common/contract';
import { type CopyOptions, copyFiles, listFiles, searchFiles } from '../service/file-browser';
import type { CopyResult, PointFiles, WalkEntry } from './point-files';

export class HostTree implements PointFiles {
  constructor(readonly roots: readonly string[]) {}

  list(p: string): Promise<FileEntry[]> {
    return listFiles(p, [...this.roots]);
  }

  search(query: string, limit: number, signal?: AbortSignal): Promise<FileEntry[]> {
    return searchFiles([...this.roots], query, limit, signal);
  }

  copy(paths: string[], destination: string, o: CopyOptions): Promise<CopyResult> {
    return copyFiles(paths, [...this.roots], destination, o);
  }

  async *walk(signal?: AbortSignal): AsyncIterable<WalkEntry> {
    for (const root of this.roots) {
      const top = await fs.lstat(root);
      const queue = [root];
      while (queue.length > 0) {
        if (signal?.aborted) throw new AppError('CANCELLED', 'cancelled');
        const dir = queue.shift() as string;
        const names = await fs.readdir(dir).catch(() => [] as string[]);
        names.sort();
        for (const n of names) {
          const full = path.join(dir, n);
          const st = await fs.lstat(full).catch(() => null);
          if (!st) continue;
          const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
          yield { name: n, path: full, type, sizeBytes: st.isFile() ? st.size : 0, modifiedAt: st.mtime.toISOString(), root, rel: full.slice(root.length) };
          // Never leave the restored file system.
          if (st.isDirectory() && st.dev === top.dev) queue.push(full);
        }
      }
    }
  }
}
