// Loads the native addon once and hands out its raw functions. Only the
// typed wrappers in this folder (kmod.ts, engine.ts, ...) call it; the rest
// of the code base imports those.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** An error from a system call inside the addon: `code` is the errno name. */
export interface NativeSysError extends Error {
  code: string;
  errno: number;
  syscall?: string;
}

export function isNativeSysError(e: unknown): e is NativeSysError {
  return e instanceof Error && typeof (e as Partial<NativeSysError>).code === 'string';
}

const ADDON_FILE = 'snapkeep.node';

/** Where the built addon may be: env override, source tree, packaged app. */
function candidatePaths(): string[] {
  const fromEnv = process.env['SNAPKEEP_NATIVE_PATH'];
  const list: string[] = [];
  if (fromEnv) list.push(fromEnv);
  // out/js/native/addon.js -> <repo>/native/build/Release
  list.push(path.resolve(__dirname, '../../../native/build/Release', ADDON_FILE));
  // running from sources through a TS loader (vitest): native/addon.ts
  list.push(path.resolve(__dirname, 'build/Release', ADDON_FILE));
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (resources) list.push(path.join(resources, 'app.asar.unpacked/native/build/Release', ADDON_FILE));
  return list;
}

let cached: unknown;

/**
 * The raw addon, typed by the caller's view of it. Each wrapper module
 * declares the part of the addon it uses.
 */
export function loadAddon<T>(): T {
  if (cached) return cached as T;
  const tried = candidatePaths();
  const found = tried.find((p) => fs.existsSync(p));
  if (!found) {
    const err = new Error(`native addon not built (looked in ${tried.join(', ')}): run npm run build:native`) as NativeSysError;
    err.code = 'ENATIVE';
    err.errno = 0;
    throw err;
  }
  // The path is computed, so a static import cannot be used here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cached = require(found) as unknown;
  return cached as T;
}
