// Repository locations: an absolute local path, `sftp://user@host[:port]/path`,
// or an S3 bucket: `s3://host[:port]/bucket[/prefix]` (HTTPS) or
// `s3+http://host[:port]/bucket[/prefix]` (plain HTTP, for a self-hosted
// server on a trusted network or loopback). The scheme carries the
// transport so that the canonical string alone says where the bytes go; the
// access key, secret and region are credentials, kept with the logins.
// Parsed and validated here, once, at every process edge that takes a
// repository (contract schemas, CLI), so nothing below sees a host or user
// name that could be read as an option or a path that climbs out of the
// repository.
import { z } from 'zod';

import { AppError } from './errors';

export interface SftpLocation {
  kind: 'sftp';
  user: string;
  host: string;
  port: number;
  /** Absolute path on the server (inside the account's chroot, if any). */
  path: string;
  /** The canonical form: `sftp://user@host[:port]/path`, the port only when not 22. */
  url: string;
}

export interface S3Location {
  kind: 's3';
  /** HTTPS (s3://) or plain HTTP (s3+http://). */
  secure: boolean;
  host: string;
  port: number;
  /** The endpoint the client talks to: http(s)://host[:port]. */
  endpoint: string;
  bucket: string;
  /** Key prefix of the repository inside the bucket, without slashes at either end ('' for the bucket's root). */
  prefix: string;
  /** The canonical form: `s3[+http]://host[:port]/bucket[/prefix]`, the port only when not the scheme's default. */
  url: string;
}

export type ParsedLocation = { kind: 'local'; path: string } | SftpLocation | S3Location;

const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;
// A DNS name (labels of letters, digits, hyphens), an IPv4 address, or an
// IPv6 address in brackets. Never starts with '-' (no option injection).
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const HOST_V6 = /^\[[0-9a-f:.]{2,45}\]$/i;

// S3's bucket naming rules (3-63 characters of lower-case letters, digits,
// dots and hyphens, starting and ending with a letter or digit): a name that
// is also safe as the first component of a path-style URL.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isRemoteLocation(s: string): boolean {
  return s.startsWith('sftp://') || isS3Location(s);
}

export function isS3Location(s: string): boolean {
  return s.startsWith('s3://') || s.startsWith('s3+http://');
}

/** The part of a location a fault is in (details.field), for forms that build one from fields. */
export type LocationField = 'form' | 'user' | 'host' | 'port' | 'path' | 'bucket';

function bad(s: string, why: string, field: LocationField = 'form'): AppError {
  return new AppError('INVALID_ARGUMENT', `${JSON.stringify(s.slice(0, 200))} is not a repository location: ${why}`, { location: s.slice(0, 200), field, why });
}

/** A path below the root: absolute, no "." or ".." components, no control characters. */
function checkPath(s: string, p: string): string {
  if (!p.startsWith('/')) throw bad(s, 'the path must be absolute', 'path');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(p) || p.length > 1024) throw bad(s, 'the path holds characters a repository path cannot', 'path');
  const parts = p.split('/').filter((x) => x !== '');
  if (parts.some((x) => x === '.' || x === '..')) throw bad(s, 'the path must not contain . or ..', 'path');
  return `/${parts.join('/')}`;
}

export function parseSftpLocation(s: string): SftpLocation {
  const m = /^sftp:\/\/([^@/]+)@(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?(\/.*)?$/.exec(s);
  if (!m) throw bad(s, 'expected sftp://user@host[:port]/path');
  const [, user = '', host = '', portText, rawPath] = m;
  if (!USER.test(user)) throw bad(s, 'the user name is not a valid login name', 'user');
  if (!HOST_NAME.test(host) && !HOST_V6.test(host)) throw bad(s, 'the host is not a host name or address', 'host');
  const port = portText === undefined ? 22 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(s, 'the port must be 1-65535', 'port');
  if (rawPath === undefined || rawPath === '/') throw bad(s, 'a path on the server is needed (sftp://user@host/path)', 'path');
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw bad(s, 'the path is not valid percent-encoding', 'path');
  }
  const path = checkPath(s, decoded);
  const lowerHost = host.toLowerCase();
  const url = `sftp://${user}@${lowerHost}${port === 22 ? '' : `:${port}`}${path}`;
  return { kind: 'sftp', user, host: lowerHost, port, path, url };
}

export function parseS3Location(s: string): S3Location {
  const m = /^(s3|s3\+http):\/\/(\[[^\]]+\]|[^:/@]+)(?::(\d{1,5}))?(\/.*)?$/.exec(s);
  if (!m) throw bad(s, 'expected s3://host[:port]/bucket[/prefix] (or s3+http:// for plain HTTP)');
  const [, scheme = '', host = '', portText, rawPath] = m;
  const secure = scheme === 's3';
  if (!HOST_NAME.test(host) && !HOST_V6.test(host)) throw bad(s, 'the host is not a host name or address', 'host');
  const defaultPort = secure ? 443 : 80;
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(s, 'the port must be 1-65535', 'port');
  if (rawPath === undefined || rawPath === '/') throw bad(s, 'a bucket is needed (s3://host/bucket[/prefix])', 'bucket');
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw bad(s, 'the path is not valid percent-encoding', 'path');
  }
  const [bucket = '', ...rest] = checkPath(s, decoded).slice(1).split('/');
  if (!BUCKET.test(bucket) || bucket.includes('..')) throw bad(s, 'the bucket name must be 3-63 lower-case letters, digits, dots or hyphens', 'bucket');
  const prefix = rest.join('/');
  const lowerHost = host.toLowerCase();
  const hostPort = `${lowerHost}${port === defaultPort ? '' : `:${port}`}`;
  const url = `${scheme}://${hostPort}/${bucket}${prefix === '' ? '' : `/${prefix}`}`;
  return { kind: 's3', secure, host: lowerHost, port, endpoint: `${secure ? 'https' : 'http'}://${hostPort}`, bucket, prefix, url };
}

export function parseLocation(s: string): ParsedLocation {
  if (isS3Location(s)) return parseS3Location(s);
  if (isRemoteLocation(s)) return parseSftpLocation(s);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) throw bad(s, 'only local paths, sftp:// and s3:// are supported');
  if (!s.startsWith('/')) throw bad(s, 'the path must be absolute', 'path');
  return { kind: 'local', path: s };
}

/** The canonical string of a location: what registries store and compare. */
export function canonicalLocation(s: string): string {
  const l = parseLocation(s);
  return l.kind === 'local' ? l.path : l.url;
}

/** A repository location as it crosses a process edge: an absolute path, sftp://user@host[:port]/path, or s3[+http]://host[:port]/bucket[/prefix]. */
export const RepoLocation = z
  .string()
  .min(1)
  .max(2100)
  .superRefine((s, ctx) => {
    try {
      parseLocation(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : 'not a repository location' });
    }
    // Local paths keep AbsPath's rules (no NUL, no "..").
    if (!isRemoteLocation(s) && (s.includes('\0') || s.split('/').includes('..'))) ctx.addIssue({ code: 'custom', message: 'must be an absolute path without ".."' });
  });

/** OpenSSH's fingerprint form: SHA256 and 43 characters of unpadded base64. */
export const HostKeyFingerprint = z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be a SHA256:... host key fingerprint');

/**
 * How to log in to a remote repository's server, and the host key pinned
 * for it. Secrets travel only towards the helper (which keeps them
 * root-only, core/repos/remote-credentials.ts), never back.
 */
export const RemoteAccessFields = z.object({
  password: z.string().min(1).max(1024).optional(),
  /** An OpenSSH or PEM private key, as text. */
  privateKey: z.string().min(1).max(64 * 1024).optional(),
  keyPassphrase: z.string().min(1).max(1024).optional(),
  /** The host key seen before; absent: pinned at first use (and reported). */
  hostKey: HostKeyFingerprint.optional(),
  /** S3: the access key id and its secret. */
  accessKeyId: z.string().regex(/^[A-Za-z0-9+/=_-]{1,128}$/, 'must be an S3 access key id').optional(),
  secretAccessKey: z.string().min(1).max(1024).optional(),
  /** S3: the region the server signs for (radosgw: its zonegroup; default us-east-1). */
  region: z.string().regex(/^[a-z0-9-]{1,64}$/, 'must be a region name like us-east-1').optional(),
});
export type RemoteAccessFields = z.infer<typeof RemoteAccessFields>;

/**
 * What a connection test found at a remote location (repos.probe): the
 * server's host key to show before it is trusted (SFTP; S3 servers are
 * checked by TLS), and whether a repository is there already.
 */
export const RemoteProbe = z
  .object({
    hostKey: HostKeyFingerprint.optional(),
    repository: z.enum(['none', 'found']),
    /** Only when found. */
    encrypted: z.boolean().optional(),
  })
  .strict();
export type RemoteProbe = z.infer<typeof RemoteProbe>;
