// Shared by the engine's native tests: scratch directories and a plain or
// encrypted NativeRepo with random keys.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { type NativeRepo, openNativeRepo } from '../../engine';

export function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'snapkeep-native-'));
}

export function newRepo(dir: string, encrypted: boolean, opts: { version?: number; cacheDir?: string; idKey?: Buffer; encKey?: Buffer } = {}): NativeRepo {
  const encKey = opts.encKey ?? (encrypted ? randomBytes(32) : undefined);
  // The repository's root exists before the engine writes below it, as after init.
  fs.mkdirSync(path.join(dir, 'repo'), { recursive: true });
  return openNativeRepo({ path: path.join(dir, 'repo'), idKey: opts.idKey ?? randomBytes(32), ...(encKey && { encKey }), version: opts.version ?? 1, ...(opts.cacheDir !== undefined && { cacheDir: opts.cacheDir }) });
}

/** Every pack id on disk. */
export function packsOf(dir: string): string[] {
  const root = path.join(dir, 'repo', 'packs');
  return fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d)));
}

export function packFile(dir: string, id: string): string {
  return path.join(dir, 'repo', 'packs', id.slice(0, 2), id);
}

export function writeFile(dir: string, name: string, data: Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}
