// The repository dialog's server forms (SFTP, S3) turned into what the
// service takes: a location string and the login that goes with it. The
// location is checked with the contract's own parsers, so the dialog
// refuses exactly what the service would, next to the field at fault.
import { HostKeyFingerprint, parseS3Location, parseSftpLocation, RemoteAccessFields } from '@common/contract';

export type Where = 'local' | 'sftp' | 's3';

export interface SftpForm {
  host: string;
  port: string;
  user: string;
  path: string;
  auth: 'password' | 'key';
  password: string;
  privateKey: string;
  keyPassphrase: string;
  hostKey: string;
}

export interface S3Form {
  /** host or host:port */
  endpoint: string;
  https: boolean;
  bucket: string;
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export const emptySftp = (): SftpForm => ({ host: '', port: '22', user: '', path: '', auth: 'password', password: '', privateKey: '', keyPassphrase: '', hostKey: '' });
export const emptyS3 = (): S3Form => ({ endpoint: '', https: true, bucket: '', prefix: '', accessKeyId: '', secretAccessKey: '', region: '' });

export interface RemoteChoice {
  /** The location for repos.init / repos.add, when the form is complete. */
  location?: string;
  remote?: RemoteAccessFields;
  /** Field name -> what is wrong with it. */
  problems: Record<string, string>;
}

const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/i;

function reason(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  // "\"sftp://...\" is not a repository location: the port must be 1-65535"
  const i = m.indexOf('is not a repository location: ');
  return i < 0 ? m : m.slice(i + 'is not a repository location: '.length);
}

/** The path on the server as a URL path: each component percent-encoded. */
function urlPath(p: string): string {
  return p
    .split('/')
    .map((c) => encodeURIComponent(c))
    .join('/');
}

export function sftpChoice(f: SftpForm): RemoteChoice {
  const problems: Record<string, string> = {};
  const host = f.host.trim();
  const user = f.user.trim();
  const path = f.path.trim();
  const port = f.port.trim() === '' ? 22 : Number(f.port.trim());
  if (!HOST.test(host)) problems['host'] = 'Enter the server as a host name or address, such as nas.local.';
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems['port'] = 'The port is a number from 1 to 65535 (SSH uses 22).';
  if (!/^[a-z_][a-z0-9_.-]{0,31}$/i.test(user)) problems['user'] = 'Enter the login name on the server.';
  if (!path.startsWith('/') || path === '/') problems['path'] = 'Enter the folder on the server as an absolute path, such as /srv/backup/snapkeep.';
  if (f.auth === 'password' && !f.password) problems['password'] = 'Enter the password of this login.';
  if (f.auth === 'key' && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(f.privateKey)) problems['privateKey'] = 'Paste the private key, from -----BEGIN to -----END.';
  const hostKey = f.hostKey.trim();
  if (hostKey && !HostKeyFingerprint.safeParse(hostKey).success) problems['hostKey'] = 'A host key fingerprint looks like SHA256: and 43 characters; leave it empty to be shown the key the server presents, and asked.';
  let location: string | undefined;
  if (!problems['host'] && !problems['port'] && !problems['user'] && !problems['path']) {
    try {
      location = parseSftpLocation(`sftp://${user}@${host}${port === 22 ? '' : `:${port}`}${urlPath(path)}`).url;
    } catch (e) {
      problems['path'] = reason(e);
    }
  }
  const remote: RemoteAccessFields =
    f.auth === 'password'
      ? { password: f.password }
      : { privateKey: f.privateKey.trim() + '\n', ...(f.keyPassphrase ? { keyPassphrase: f.keyPassphrase } : {}) };
  if (hostKey) remote.hostKey = hostKey;
  return Object.keys(problems).length ? { problems } : { location, remote, problems };
}

export function s3Choice(f: S3Form): RemoteChoice {
  const problems: Record<string, string> = {};
  const endpoint = f.endpoint
    .trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/+$/, '');
  const bucket = f.bucket.trim();
  const prefix = f.prefix.trim().replace(/^\/+|\/+$/g, '');
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i.test(endpoint)) problems['endpoint'] = 'Enter the server as host or host:port, such as s3.example.com or 192.168.1.5:7480.';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) problems['bucket'] = 'A bucket name is 3-63 lower-case letters, digits, dots or hyphens.';
  if (!RemoteAccessFields.shape.accessKeyId.safeParse(f.accessKeyId.trim()).success || !f.accessKeyId.trim()) problems['accessKeyId'] = 'Enter the access key id.';
  if (!f.secretAccessKey) problems['secretAccessKey'] = 'Enter the secret key.';
  const region = f.region.trim();
  if (region && !RemoteAccessFields.shape.region.safeParse(region).success) problems['region'] = 'A region looks like us-east-1; leave it empty if the server does not care.';
  let location: string | undefined;
  if (!problems['endpoint'] && !problems['bucket']) {
    try {
      location = parseS3Location(`${f.https ? 's3' : 's3+http'}://${endpoint}/${bucket}${prefix ? `/${urlPath(prefix)}` : ''}`).url;
    } catch (e) {
      problems[/port|host/.test(reason(e)) ? 'endpoint' : 'prefix'] = reason(e);
    }
  }
  if (Object.keys(problems).length) return { problems };
  return { location, remote: { accessKeyId: f.accessKeyId.trim(), secretAccessKey: f.secretAccessKey, ...(region ? { region } : {}) }, problems };
}
