// The owner's login of an append-only repository (docs/append-only-design.md
// §2.1), as the dialogs take it: on the same server as the backup login, for
// the one request that needs it (creating the repository, a restore, a
// clean-up), never kept. Turned into the contract's OwnerLogin here, with
// what is wrong by field, as remote-location.ts does for the backup login.
import { type OwnerLogin, parseLocation, parseSftpLocation, RemoteAccessFields } from '@common/contract';

import { privateKeyProblem, sftpLogin, urlPath } from './remote-location';

export interface OwnerForm {
  /** SFTP: the owner's account, and its folder when not the backup login's (a chrooted backup account sees another path). */
  user: string;
  path: string;
  auth: 'password' | 'key';
  password: string;
  privateKey: string;
  keyPassphrase: string;
  /** S3: the owner's keys for the same bucket. */
  accessKeyId: string;
  secretAccessKey: string;
}

export const emptyOwner = (): OwnerForm => ({ user: '', path: '', auth: 'password', password: '', privateKey: '', keyPassphrase: '', accessKeyId: '', secretAccessKey: '' });

export interface OwnerChoice {
  /** What the service takes, when the form is complete. */
  login?: OwnerLogin;
  /** Field name -> what is wrong with it. */
  problems: Record<string, string>;
}

/**
 * The owner's login for the repository at `location` (the backup login's).
 * `backup`: what is known of the backup login (its S3 key id and region),
 * so the owner's is not the same one and signs for the same region.
 */
export function ownerChoice(location: string, f: OwnerForm, backup: { accessKeyId?: string; region?: string } = {}): OwnerChoice {
  const problems: Record<string, string> = {};
  let where;
  try {
    where = parseLocation(location);
  } catch {
    return { problems: { form: 'The location of the repository is not complete yet.' } };
  }
  if (where.kind === 'local') return { login: {}, problems };
  if (where.kind === 's3') {
    const id = f.accessKeyId.trim();
    if (!id || !RemoteAccessFields.shape.accessKeyId.safeParse(id).success) problems['accessKeyId'] = "Enter the owner's access key id.";
    else if (id === backup.accessKeyId) problems['accessKeyId'] = 'Use the owner\'s keys, not the backup keys: the backup keys are kept on this computer, where malware could use them.';
    if (!f.secretAccessKey) problems['secretAccessKey'] = "Enter the owner's secret key.";
    if (Object.keys(problems).length) return { problems };
    return { login: { remote: { accessKeyId: id, secretAccessKey: f.secretAccessKey, ...(backup.region ? { region: backup.region } : {}) } }, problems };
  }
  const user = f.user.trim();
  const dir = f.path.trim() || where.path;
  const at = (u: string, p: string) => `sftp://${u}@${where.host}:${where.port}${urlPath(p)}`;
  const valid = (s: string) => {
    try {
      return parseSftpLocation(s).url;
    } catch {
      return undefined;
    }
  };
  if (!user || !valid(at(user, '/x'))) problems['user'] = "Enter the owner's login name on the server.";
  else if (user === where.user) problems['user'] = "Use the owner's own login, not the backup login: the backup login is kept on this computer, where malware could use it.";
  if (!dir.startsWith('/') || dir === '/' || !valid(at('u', dir))) problems['path'] = 'Enter the folder as the owner sees it, as an absolute path; leave it empty when it is the same.';
  if (f.auth === 'password' && !f.password) problems['password'] = 'Enter the password of the owner login.';
  const keyProblem = f.auth === 'key' ? privateKeyProblem(f.privateKey) : undefined;
  if (keyProblem) problems['privateKey'] = keyProblem;
  if (Object.keys(problems).length) return { problems };
  const path = valid(at(user, dir));
  return { login: { ...(path !== undefined && { path }), remote: sftpLogin(f.auth, f.password, f.privateKey, f.keyPassphrase) }, problems };
}
