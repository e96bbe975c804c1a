// Repository locations at the process edge: sftp://user@host[:port]/path or
// an absolute path, nothing that could be read as an option, a path that
// climbs out, or a name a server should never send.
import { describe, expect, it } from 'vitest';

import { HostKeyFingerprint, RepoLocation, canonicalLocation, isAppError, parseLocation } from '../../../electron/common/contract';
import { checkName, checkRelPath } from '../../../electron/core/engine/storage/storage';

describe('repository locations', () => {
  it('parses sftp locations to one canonical form', () => {
    expect(parseLocation('sftp://backup@NAS.local/srv/snap')).toMatchObject({ kind: 'sftp', user: 'backup', host: 'nas.local', port: 22, path: '/srv/snap' });
    expect(canonicalLocation('sftp://backup@nas.local:22//srv//snap/')).toBe('sftp://backup@nas.local/srv/snap');
    expect(canonicalLocation('sftp://b@127.0.0.1:2222/r')).toBe('sftp://b@127.0.0.1:2222/r');
    expect(canonicalLocation('sftp://b@[::1]:2222/r')).toBe('sftp://b@[::1]:2222/r');
    expect(canonicalLocation('sftp://b@h/a%20b')).toBe('sftp://b@h/a b');
    expect(parseLocation('/mnt/backup')).toEqual({ kind: 'local', path: '/mnt/backup' });
  });

  it('parses s3 locations to one canonical form', () => {
    expect(parseLocation('s3://S3.Example.com/backups/office/pc1')).toEqual({
      kind: 's3',
      secure: true,
      host: 's3.example.com',
      port: 443,
      endpoint: 'https://s3.example.com',
      bucket: 'backups',
      prefix: 'office/pc1',
      url: 's3://s3.example.com/backups/office/pc1',
    });
    expect(parseLocation('s3+http://127.0.0.1:7480/bkt')).toMatchObject({ secure: false, endpoint: 'http://127.0.0.1:7480', bucket: 'bkt', prefix: '' });
    expect(canonicalLocation('s3://h:443//bkt//a/b/')).toBe('s3://h/bkt/a/b');
    expect(canonicalLocation('s3+http://h:80/bkt')).toBe('s3+http://h/bkt');
    expect(canonicalLocation('s3+http://[::1]:7480/bkt/r')).toBe('s3+http://[::1]:7480/bkt/r');
    expect(RepoLocation.safeParse('s3+http://127.0.0.1:7480/bkt/r').success).toBe(true);
  });

  it.each([
    ['sftp://-oProxyCommand=x@h/r', 'user name'],
    ['sftp://u@-oProxyCommand=x/r', 'host'],
    ['sftp://u@h:0/r', 'port'],
    ['sftp://u@h:70000/r', 'port'],
    ['sftp://u@h', 'a path on the server'],
    ['sftp://u@h/', 'a path on the server'],
    ['sftp://u@h/a/../b', '. or ..'],
    ['sftp://u@h/a%2F..%2F..%2Fetc', '. or ..'],
    ['sftp://u@h/a%00b', 'characters'],
    ['sftp://h/r', 'expected'],
    ['gs://bucket/x', 'only local paths, sftp:// and s3://'],
    ['s3://h', 'a bucket is needed'],
    ['s3://h/', 'a bucket is needed'],
    ['s3://h/Bucket', 'bucket name'],
    ['s3://h/ab', 'bucket name'],
    ['s3://h/b..c/r', 'bucket name'],
    ['s3://-oX/bkt', 'host'],
    ['s3://user@h/bkt', 'expected s3://'],
    ['s3://h:0/bkt', 'port'],
    ['s3://h/bkt/a/../b', '. or ..'],
    ['s3://h/bkt/a%0Ab', 'characters'],
    ['s3+https://h/bkt', 'only local paths'],
    ['relative/path', 'absolute'],
  ])('refuses %s', (s, why) => {
    expect(() => parseLocation(s)).toThrow(why);
    expect(RepoLocation.safeParse(s).success).toBe(false);
  });

  it('names the part at fault, for forms that build a location from fields', () => {
    const fieldOf = (s: string) => {
      try {
        parseLocation(s);
      } catch (e) {
        return isAppError(e) ? [e.details?.['field'], e.details?.['why']] : ['not an AppError'];
      }
      return ['accepted'];
    };
    expect(fieldOf('sftp://-o@h/x')).toEqual(['user', 'the user name is not a valid login name']);
    expect(fieldOf('sftp://u@-oProxyCommand=x/x')[0]).toBe('host');
    expect(fieldOf('sftp://u@h:70000/x')[0]).toBe('port');
    expect(fieldOf('sftp://u@h/a/../b')).toEqual(['path', 'the path must not contain . or ..']);
    expect(fieldOf('s3://h/UPPER')[0]).toBe('bucket');
    expect(fieldOf('s3://h:0/b1c')[0]).toBe('port');
    expect(fieldOf('ftp://h/x')[0]).toBe('form');
  });

  it('keeps the local path rules at the edge', () => {
    expect(RepoLocation.safeParse('/a/../b').success).toBe(false);
    expect(RepoLocation.safeParse('/srv/backup').success).toBe(true);
    expect(RepoLocation.safeParse('sftp://u@h/srv').success).toBe(true);
  });

  it('takes only OpenSSH SHA256 fingerprints as host keys', () => {
    expect(HostKeyFingerprint.safeParse(`SHA256:${'A'.repeat(43)}`).success).toBe(true);
    expect(HostKeyFingerprint.safeParse('MD5:aa:bb').success).toBe(false);
    expect(HostKeyFingerprint.safeParse(`SHA256:${'A'.repeat(44)}`).success).toBe(false);
  });
});

describe('names a storage listing may hold', () => {
  it.each(['', '.', '..', 'a/b', 'a\\b', 'new\nline', 'nul\0', 'x'.repeat(256)])('refuses %j', (name) => {
    expect(() => checkName('sftp://u@h/r', 'points', name)).toThrow(/cannot be a file name/);
  });

  it('accepts the repository names', () => {
    for (const n of ['config', '20261205T101010000Z-a1b2c3', 'ab', '0'.repeat(64), '.snapkeep-tmp-x-1']) expect(checkName('l', 'd', n)).toBe(n);
    expect(checkRelPath('l', 'packs/ab/' + 'a'.repeat(32))).toBe('packs/ab/' + 'a'.repeat(32));
    expect(() => checkRelPath('l', 'packs/../../etc')).toThrow(/cannot be a file name/);
  });
});
