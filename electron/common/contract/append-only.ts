// What the app sends for append-only repositories (format 3,
// docs/append-only-design.md): the owner's login and passphrase, given for
// one request (creating the repository, a restore, a clean-up) and never
// kept; the backup login and the client passphrase are the repository's
// usual ones (kept, remembered).
import { z } from 'zod';

import { RemoteAccessFields, RepoLocation, isRemoteLocation, parseLocation } from './location';

const Passphrase = z.string().min(1).max(1024);

/** The key a computer holds for a format-3 repository: 'client' adds backups only. */
export const RepositoryRole = z.enum(['owner', 'client']);
export type RepositoryRole = z.infer<typeof RepositoryRole>;

/**
 * How the owner reaches the repository. `path`: SFTP, the location as the
 * owner's account sees it (its own user; its own folder when the backup
 * account is chrooted); absent: the repository's own location (S3: the
 * same bucket, other keys). `remote`: the owner's server login (none for a
 * folder on this computer).
 */
export const OwnerLogin = z.object({ path: RepoLocation.optional(), remote: RemoteAccessFields.optional() }).strict();
export type OwnerLogin = z.infer<typeof OwnerLogin>;

/** The owner passphrase and login for one owner operation on a client's repository. */
export const OwnerAccess = OwnerLogin.extend({ passphrase: Passphrase }).strict();
export type OwnerAccess = z.infer<typeof OwnerAccess>;

/**
 * repos.init's append-only choice: `passphrase` is the owner's (used to
 * create, not kept), this the backup (client) passphrase, which `remember`
 * then stores; `owner` the login that creates the repository.
 */
export const AppendOnlyInit = z.object({ clientPassphrase: Passphrase, owner: OwnerLogin.optional() }).strict();
export type AppendOnlyInit = z.infer<typeof AppendOnlyInit>;

/**
 * The problems of an owner login for a repository at `path`, as messages
 * by field: one kind of location for both, and a server login for a server.
 */
export function ownerLoginProblems(path: string, owner: OwnerLogin | undefined): Array<{ path: string[]; message: string }> {
  const out: Array<{ path: string[]; message: string }> = [];
  const remote = isRemoteLocation(path);
  if (remote && owner?.remote === undefined) out.push({ path: ['remote'], message: "a server's repository needs the owner's login" });
  if (!remote && owner?.remote !== undefined) out.push({ path: ['remote'], message: 'a folder on this computer has no server login' });
  if (owner?.path !== undefined) {
    let same = false;
    try {
      const a = parseLocation(path);
      const b = parseLocation(owner.path);
      // S3: one bucket for both (the owner differs by keys only); SFTP: the
      // same server; a folder on this computer: that folder (another one
      // would let a member have root open what the member cannot read).
      same =
        a.kind === 's3' && b.kind === 's3'
          ? a.url === b.url
          : a.kind === 'sftp' && b.kind === 'sftp'
            ? a.host === b.host && a.port === b.port
            : a.kind === 'local' && b.kind === 'local' && a.path === b.path;
    } catch {
      // RepoLocation reports the location itself.
    }
    if (!same) out.push({ path: ['path'], message: "the owner's location must be the same server (S3: the same bucket and folder; a folder on this computer: the same folder)" });
  }
  return out;
}
