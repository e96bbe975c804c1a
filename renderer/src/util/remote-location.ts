// The repository dialog's server forms (SFTP, S3) turned into what the
// service takes: a location string and the login that goes with it. Each
// field is checked by the contract's own parser, in a location where every
// other part is known good, so the dialog refuses exactly what the service
// would, next to the field at fault, all faults at once; no rule is written
// twice. The parser's fault names its part (details.field, details.why).
import { HostKeyFingerprint, isAppError, parseS3Location, parseSftpLocation, RemoteAccessFields } from '@common/contract';

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

/** Why the parser refused `location`, in its words; undefined when it took it. */
function fault(parse: (location: string) => unknown, location: string): string | undefined {
  try {
    parse(location);
    return undefined;
  } catch (e) {
    const why = isAppError(e) ? e.details?.['why'] : undefined;
    return typeof why === 'string' ? why : e instanceof Error ? e.message : String(e);
  }
}

/** A parser's fault as a sentence under a field. */
function sentence(why: string): string {
  return `${why.charAt(0).toUpperCase()}${why.slice(1)}.`;
}

/** The path on the server as a URL path: each component percent-encoded. */
export function urlPath(p: string): string {
  return p
    .split('/')
    .map((c) => encodeURIComponent(c))
    .join('/');
}

/** What is wrong with a pasted private key, if anything. */
export function privateKeyProblem(text: string): string | undefined {
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) ? undefined : 'Paste the private key, from -----BEGIN to -----END.';
}

/** An SSH login as the service takes it: a password, or a private key (and its passphrase). */
export function sftpLogin(auth: 'password' | 'key', password: string, privateKey: string, keyPassphrase: string): RemoteAccessFields {
  return auth === 'password' ? { password } : { privateKey: `${privateKey.trim()}\n`, ...(keyPassphrase ? { keyPassphrase } : {}) };
}

export function sftpChoice(f: SftpForm): RemoteChoice {
  const problems: Record<string, string> = {};
  const host = f.host.trim();
  const user = f.user.trim();
  const path = f.path.trim();
  const port = f.port.trim() === '' ? '22' : f.port.trim();
  const at = (u: string, h: string, p: string, dir: string) => `sftp://${u}@${h}:${p}${dir}`;
  if (!host || fault(parseSftpLocation, at('u', host, '22', '/x'))) problems['host'] = 'Enter the server as a host name or address, such as nas.local.';
  if (fault(parseSftpLocation, at('u', 'h', port, '/x'))) problems['port'] = 'The port is a number from 1 to 65535 (SSH uses 22).';
  if (!user || fault(parseSftpLocation, at(user, 'h', '22', '/x'))) problems['user'] = 'Enter the login name on the server.';
  if (!path.startsWith('/') || path === '/') problems['path'] = 'Enter the folder on the server as an absolute path, such as /srv/backup/snapkeep.';
  else {
    const why = fault(parseSftpLocation, at('u', 'h', '22', urlPath(path)));
    if (why) problems['path'] = sentence(why);
  }
  if (f.auth === 'password' && !f.password) problems['password'] = 'Enter the password of this login.';
  const keyProblem = f.auth === 'key' ? privateKeyProblem(f.privateKey) : undefined;
  if (keyProblem) problems['privateKey'] = keyProblem;
  const hostKey = f.hostKey.trim();
  if (hostKey && !HostKeyFingerprint.safeParse(hostKey).success) problems['hostKey'] = 'A host key fingerprint looks like SHA256: and 43 characters; leave it empty to be shown the key the server presents, and asked.';
  if (Object.keys(problems).length) return { problems };
  const location = parseSftpLocation(at(user, host, port, urlPath(path))).url;
  const remote = sftpLogin(f.auth, f.password, f.privateKey, f.keyPassphrase);
  if (hostKey) remote.hostKey = hostKey;
  return { location, remote, problems };
}

export function s3Choice(f: S3Form): RemoteChoice {
  const problems: Record<string, string> = {};
  const endpoint = f.endpoint
    .trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/+$/, '');
  const bucket = f.bucket.trim();
  const prefix = f.prefix.trim().replace(/^\/+|\/+$/g, '');
  const scheme = f.https ? 's3' : 's3+http';
  const at = (e: string, b: string, p: string) => `${scheme}://${e}/${b}${p ? `/${urlPath(p)}` : ''}`;
  // A path typed into the server field would read as bucket and folder.
  const endpointWhy = !endpoint || endpoint.includes('/') ? 'not a host' : fault(parseS3Location, at(endpoint, 'bkt', ''));
  if (endpointWhy)
    problems['endpoint'] = /port/.test(endpointWhy) ? sentence(endpointWhy) : 'Enter the server as host or host:port, such as s3.example.com or 192.168.1.5:7480.';
  if (!bucket || fault(parseS3Location, at('h', bucket, ''))) problems['bucket'] = 'A bucket name is 3-63 lower-case letters, digits, dots or hyphens.';
  const prefixWhy = prefix ? fault(parseS3Location, at('h', 'bkt', prefix)) : undefined;
  if (prefixWhy) problems['prefix'] = sentence(prefixWhy);
  if (!RemoteAccessFields.shape.accessKeyId.safeParse(f.accessKeyId.trim()).success || !f.accessKeyId.trim()) problems['accessKeyId'] = 'Enter the access key id.';
  if (!f.secretAccessKey) problems['secretAccessKey'] = 'Enter the secret key.';
  const region = f.region.trim();
  if (region && !RemoteAccessFields.shape.region.safeParse(region).success) problems['region'] = 'A region looks like us-east-1; leave it empty if the server does not care.';
  if (Object.keys(problems).length) return { problems };
  const location = parseS3Location(at(endpoint, bucket, prefix)).url;
  return { location, remote: { accessKeyId: f.accessKeyId.trim(), secretAccessKey: f.secretAccessKey, ...(region ? { region } : {}) }, problems };
}
