// How much a repository takes, counted the way `du -sb` counts it: the
// apparent size of every entry below the folder (files, folders, links;
// a hard-linked file once). The repository is untrusted input: nothing is
// followed (lstat only), and the walk stops at other file systems.
//
// The engine's own figure covers the packs its index knows; packs a failed
// or cancelled run left behind, and everything else in the folder, count
// too, so what the app says matches what the disk says until a clean-up
// removes them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export async function treeBytes(root: string): Promise<number> {
  const top = await fs.lstat(root);
  const seen = new Set<string>();
  let total = 0;
  const count = (st: { dev: number; ino: number; size: number; nlink: number }) => {
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    total += st.size;
  };
  count(top);
  if (!top.isDirectory()) return total;
  const queue = [root];
  while (queue.length > 0) {
    const dir = queue.pop() as string;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      continue; // vanished meanwhile (a prune, a temp file) or unreadable
    }
    for (const n of names) {
      const p = path.join(dir, n);
      const st = await fs.lstat(p).catch(() => null);
      if (!st) continue;
      count(st);
      if (st.isDirectory() && st.dev === top.dev) queue.push(p);
    }
  }
  return total;
}
