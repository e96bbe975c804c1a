// Typed loader of the native addon. Everything that crosses into C++ goes
// through the functions exported here, so argument shapes are checked once at
// this boundary and the rest of the code base never sees `any`.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The ABI version the kernel module reports through its control device. */
export interface ModuleVersion {
  abiMajor: number;
  abiMinor: number;
  moduleVersion: string;
}

export interface LibraryVersions {
  zstd: string;
  sodium: string;
}

/** An error from a system call inside the addon: `code` is the errno name. */
export interface NativeSysError extends Error {
  code: string;
  errno: number;
  syscall?: string;
}

interface Addon {
  moduleVersion(): ModuleVersion;
  libraryVersions(): LibraryVersions;
  headerAbi: { major: number; minor: number };
}

const ADDON_FILE = 'snapkeep.node';

/** Where the built addon may be: env override, source tree, packaged app. */
function candidatePaths(): string[] {
  const fromEnv = process.env['SNAPKEEP_NATIVE_PATH'];
  const list: string[] = [];
  if (fromEnv) list.push(fromEnv);
  // out/js/native/index.js -> <repo>/native/build/Release
  list.push(path.resolve(__dirname, '../../../native/build/Release', ADDON_FILE));
  // running from sources through a TS loader (vitest): native/index.ts
  list.push(path.resolve(__dirname, 'build/Release', ADDON_FILE));
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (resources) list.push(path.join(resources, 'app.asar.unpacked/native/build/Release', ADDON_FILE));
  return list;
}

let cached: Addon | undefined;

function addon(): Addon {
  if (cached) return cached;
  const tried = candidatePaths();
  const found = tried.find((p) => fs.existsSync(p));
  if (!found) {
    const err = new Error(
      `native addon not built (looked in ${tried.join(', ')}): run npm run build:native`,
    ) as NativeSysError;
    err.code = 'ENATIVE';
    throw err;
  }
  // The path is computed, so a static import cannot be used here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cached = require(found) as Addon;
  return cached;
}

export function isNativeSysError(e: unknown): e is NativeSysError {
  return e instanceof Error && typeof (e as Partial<NativeSysError>).code === 'string';
}

/** ABI version of the loaded kernel module; throws code ENOENT when not loaded. */
export function moduleVersion(): ModuleVersion {
  return addon().moduleVersion();
}

/** The ABI version this addon was compiled against (the uapi header). */
export function headerAbi(): { major: number; minor: number } {
  return { ...addon().headerAbi };
}

export function libraryVersions(): LibraryVersions {
  return addon().libraryVersions();
}
