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
import { removeDurably, sweepTempFiles, writeFileAtomic } from '../persist/atomic-file';
import { readPrivateJson } from '../persist/private-json';

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
    const r = await readPrivateJson(this.fileOf(repositoryId), KeyFile);
    return r.kind === 'data' ? { kind: 'key', passphrase: r.data.passphrase } : r;
  }

  async forget(repositoryId: string): Promise<void> {
    await removeDurably([this.fileOf(repositoryId)]);
  }
}
