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

export function newRepo(dir: string, encrypted: boolean): NativeRepo {
  // The repository's root exists before the engine writes below it, as after init.
  fs.mkdirSync(path.join(dir, 'repo'), { recursive: true });
  return openNativeRepo({ path: path.join(dir, 'repo'), idKey: randomBytes(32), ...(encrypted && { encKey: randomBytes(32) }) });
}

export function writeFile(dir: string, name: string, data: Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}
