// Shared by the engine's native tests: scratch directories and a plain or
// encrypted NativeRepo with random keys, or a format-3 (append-only) one.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { boxKeypair, type NativeRepo, type NativeRepoOptions, openNativeRepo } from '../../engine';

export function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'snapkeep-native-'));
}

/** Format 3: what the owner holds (a client gets all but the secret keys). */
export interface Format3Keys {
  idKey: Buffer;
  metaKey: Buffer;
  publicKey: Buffer;
  /** The current pair's first, retired ones after. */
  secretKeys: Buffer[];
}

export function format3Keys(): Format3Keys {
  const pair = boxKeypair();
  return { idKey: randomBytes(32), metaKey: randomBytes(32), publicKey: pair.publicKey, secretKeys: [pair.secretKey] };
}

/** A format-3 repository at <dir>/repo, as its owner (with the secret keys) or as an append-only client. */
export function openFormat3(dir: string, keys: Format3Keys, role: 'owner' | 'client', extra: Partial<NativeRepoOptions> = {}): NativeRepo {
  fs.mkdirSync(path.join(dir, 'repo'), { recursive: true });
  return openNativeRepo({
    path: path.join(dir, 'repo'),
    idKey: keys.idKey,
    metaKey: keys.metaKey,
    publicKey: keys.publicKey,
    ...(role === 'owner' && { secretKeys: keys.secretKeys }),
    version: 3,
    ...extra,
  });
}

/** Version 3: a format-3 repository opened by its owner (always encrypted). */
export function newRepo(dir: string, encrypted: boolean, opts: { version?: number; cacheDir?: string; idKey?: Buffer; encKey?: Buffer } = {}): NativeRepo {
  if (opts.version === 3) {
    const keys = { ...format3Keys(), ...(opts.idKey && { idKey: opts.idKey }) };
    return openFormat3(dir, keys, 'owner', opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {});
  }
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
