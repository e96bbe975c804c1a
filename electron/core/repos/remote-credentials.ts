// How this computer reaches its remote repositories: the login (password,
// or private key and its passphrase) and the server's host key pinned at
// first use. Kept like remembered passphrases (remembered-keys.ts): one
// file per location, <state>/remotes/<hash of the location>, JSON, mode
// 0600 in a directory of mode 0700, owned by the service's user (root for
// the helper), written atomically; a file others may read, a link, or a
// damaged one is not used. Nothing here logs a secret.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import { RemoteAccessFields } from '../../common/contract';
import { removeDurably, sweepTempFiles, writeFileAtomic } from '../persist/atomic-file';
import { systemDirs, userDirs } from '../persist/dirs';
import { readPrivateJson } from '../persist/private-json';
import { canonicalLocation } from '../engine/storage/location';

const EntryFile = z.object({ version: z.literal(1), location: z.string().max(2100) }).extend(RemoteAccessFields.shape).strict();

export type RemoteLogin = z.infer<typeof RemoteAccessFields>;
export type StoredRemote = { kind: 'none' } | { kind: 'login'; login: RemoteLogin } | { kind: 'unusable'; problem: string };

/** $SNAPKEEP_REMOTES_DIR, else <state>/remotes of the system (root) or of the user. */
export function defaultRemotesDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['SNAPKEEP_REMOTES_DIR'];
  if (fromEnv && path.isAbsolute(fromEnv)) return fromEnv;
  return path.join(process.getuid?.() === 0 ? systemDirs().state : userDirs(env).state, 'remotes');
}

export class RemoteCredentials {
  constructor(readonly dir: string = defaultRemotesDir()) {}

  fileOf(location: string): string {
    // Named by a hash of the canonical location: no user text in a path.
    return path.join(this.dir, createHash('sha256').update(canonicalLocation(location)).digest('hex').slice(0, 40));
  }

  async store(location: string, login: RemoteLogin): Promise<void> {
    const entry = EntryFile.parse({ version: 1, location: canonicalLocation(location), ...login });
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await fs.chmod(this.dir, 0o700);
    await sweepTempFiles(this.dir);
    await writeFileAtomic(this.fileOf(location), JSON.stringify(entry) + '\n', { mode: 0o600 });
  }

  /** Never throws for a missing, damaged or unreadable file. */
  async read(location: string): Promise<StoredRemote> {
    const file = this.fileOf(location);
    const r = await readPrivateJson(file, EntryFile);
    if (r.kind !== 'data') return r;
    if (r.data.location !== canonicalLocation(location)) return { kind: 'unusable', problem: `${file} is for ${r.data.location}` };
    const { version: _v, location: _l, ...login } = r.data;
    return { kind: 'login', login };
  }

  async forget(location: string): Promise<void> {
    await removeDurably([this.fileOf(location)]);
  }
}
