// Passphrases the user asked to remember on this computer, so scheduled
// backups into encrypted repositories keep running after the service
// restarts (restic's password file, opted into per repository).
//
// One file per repository, <state>/keys/<repositoryId>: JSON
// {"version":1,"passphrase":"..."}, mode 0600, in a directory of mode 0700,
// owned by the service's user (root for the helper). Written atomically, so
// a crash leaves the old passphrase or the new one. A file that group or
// others may read is refused as well as a damaged one: a passphrase that
// leaked is not one to use silently. Nothing here logs a passphrase.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import { AppError, Id } from '../../common/contract';
import { describeIssues } from '../../common/rpc/dispatcher';
import { removeDurably, sweepTempFiles, writeFileAtomic } from '../persist/atomic-file';

const KeyFile = z.object({ version: z.literal(1), passphrase: z.string().min(1).max(1024) }).strict();

/** What reading one repository's key file found. */
export type StoredKey = { kind: 'none' } | { kind: 'key'; passphrase: string } | { kind: 'unusable'; problem: string };

export class RememberedKeys {
  constructor(readonly dir: string) {}

  fileOf(repositoryId: string): string {
    // The id is validated so a crafted one cannot point outside the directory.
    if (!Id.safeParse(repositoryId).success)
      throw new AppError('INVALID_ARGUMENT', `not a repository id: ${repositoryId}`);
    return path.join(this.dir, repositoryId);
  }

  /** Stores a passphrase, replacing the one stored before. */
  async store(repositoryId: string, passphrase: string): Promise<void> {
    const file = this.fileOf(repositoryId);
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    // mkdir leaves the mode of an existing directory alone; a looser one is tightened.
    await fs.chmod(this.dir, 0o700);
    await sweepTempFiles(this.dir);
    await writeFileAtomic(file, JSON.stringify({ version: 1, passphrase }) + '\n', { mode: 0o600 });
  }

  /** Reads one repository's key; never throws for a missing, damaged or unreadable file. */
  async read(repositoryId: string): Promise<StoredKey> {
    const file = this.fileOf(repositoryId);
    let text: string;
    try {
      // lstat: a link in place of the file is not followed to whatever it names.
      const st = await fs.lstat(file);
      if (!st.isFile()) return { kind: 'unusable', problem: `${file} is not a regular file` };
      const me = process.getuid?.();
      if (me !== undefined && st.uid !== me) return { kind: 'unusable', problem: `${file} belongs to uid ${st.uid}, not to this service's user, so it is not used` };
      if ((st.mode & 0o077) !== 0)
        return { kind: 'unusable', problem: `${file} may be read by other users (mode ${(st.mode & 0o777).toString(8)}), so it is not used` };
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
    const parsed = KeyFile.safeParse(raw);
    if (!parsed.success) return { kind: 'unusable', problem: `${file} is damaged (${describeIssues(parsed.error)})` };
    return { kind: 'key', passphrase: parsed.data.passphrase };
  }

  async forget(repositoryId: string): Promise<void> {
    await removeDurably([this.fileOf(repositoryId)]);
  }
}
