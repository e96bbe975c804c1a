// Where decoded index files are kept on this machine, so a repository's
// index is read from the destination once, not by every job, and is used
// in place (mmap) instead of living on the heap (native/src/engine/
// index_table.h). One directory per repository; what is in it is
// rebuildable at any time and bound to the repository's key.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The cache root: $SNAPKEEP_CACHE_DIR (a relative one taken from the
 * working directory, as a user typing it means), /var/cache/snapkeep for
 * root, else the XDG cache (a relative XDG_CACHE_HOME is ignored, as the
 * XDG spec says).
 */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['SNAPKEEP_CACHE_DIR'];
  if (fromEnv) return path.resolve(fromEnv);
  if (process.getuid?.() === 0) return '/var/cache/snapkeep';
  const xdg = env['XDG_CACHE_HOME'];
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(env['HOME'] ?? os.homedir(), '.cache'), 'snapkeep');
}

/**
 * The index cache of repository `repoId` under `root` (created 0700), or
 * undefined when it cannot be had: the engine then keeps the index in memory.
 */
export async function indexCacheDir(repoId: string, root: string | null | undefined): Promise<string | undefined> {
  if (root === null || !/^[0-9a-f]{16}$/.test(repoId)) return undefined;
  const dir = path.join(root ?? defaultCacheRoot(), 'index', repoId);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await fs.lstat(dir);
    if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) return undefined;
    await fs.chmod(dir, 0o700);
    return dir;
  } catch {
    return undefined;
  }
}
