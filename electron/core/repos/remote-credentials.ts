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
import { describeIssues } from '../../common/rpc/dispatcher';
import { removeDurably, sweepTempFiles, writeFileAtomic } from '../persist/atomic-file';
import { systemDirs, userDirs } from '../persist/dirs';
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
    let text: string;
    try {
      const st = await fs.lstat(file);
      if (!st.isFile()) return { kind: 'unusable', problem: `${file} is not a regular file` };
      const me = process.getuid?.();
      if (me !== undefined && st.uid !== me) return { kind: 'unusable', problem: `${file} belongs to uid ${st.uid}, not to this service's user, so it is not used` };
      if ((st.mode & 0o077) !== 0) return { kind: 'unusable', problem: `${file} may be read by other users (mode ${(st.mode & 0o777).toString(8)}), so it is not used` };
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'none' };
      return { kind: 'unusable', problem: `${file} could not be read (${code ?? String(e)})` };
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return { kind: 'unusable', problem: `${file} is damaged (not JSON)` };
    }
    const parsed = EntryFile.safeParse(raw);
    if (!parsed.success) return { kind: 'unusable', problem: `${file} is damaged (${describeIssues(parsed.error)})` };
    if (parsed.data.location !== canonicalLocation(location)) return { kind: 'unusable', problem: `${file} is for ${parsed.data.location}` };
    const { version: _v, location: _l, ...login } = parsed.data;
    return { kind: 'login', login };
  }

  async forget(location: string): Promise<void> {
    await removeDurably([this.fileOf(location)]);
  }
}
