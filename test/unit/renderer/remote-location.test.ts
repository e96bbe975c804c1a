// The repository dialog's server forms turned into a location and a login:
// what the service gets for complete forms, and the field blamed otherwise.
import { describe, expect, it } from 'vitest';

import { emptyS3, emptySftp, s3Choice, sftpChoice } from '../../../renderer/src/util/remote-location';

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
const FP = `SHA256:${'A'.repeat(43)}`;

describe('sftpChoice', () => {
  it('builds the canonical location and a password login', () => {
    const c = sftpChoice({ ...emptySftp(), host: ' NAS.local ', user: 'backup', path: '/srv/backup/snap keep', password: 'pw' });
    expect(c).toEqual({ location: 'sftp://backup@nas.local/srv/backup/snap keep', remote: { password: 'pw' }, problems: {} });
  });

  it('keeps a port other than 22, a private key with its passphrase, and a host key given', () => {
    const c = sftpChoice({ ...emptySftp(), host: '10.0.0.2', port: '2222', user: 'b', path: '/x/', auth: 'key', privateKey: KEY, keyPassphrase: 'kp', hostKey: FP });
    expect(c.location).toBe('sftp://b@10.0.0.2:2222/x');
    expect(c.remote).toEqual({ privateKey: `${KEY}\n`, keyPassphrase: 'kp', hostKey: FP });
  });

  it('blames the field at fault and builds nothing', () => {
    const c = sftpChoice({ ...emptySftp(), host: '-oProxyCommand=x', port: '70000', user: '', path: 'relative', auth: 'key', privateKey: 'not a key', hostKey: 'SHA256:short' });
    expect(Object.keys(c.problems).sort()).toEqual(['host', 'hostKey', 'path', 'port', 'privateKey', 'user']);
    expect(c.location).toBeUndefined();
    expect(c.remote).toBeUndefined();
    expect(sftpChoice({ ...emptySftp(), host: 'h', user: 'u', path: '/a/../b', password: 'p' }).problems['path']).toMatch(/\.\./);
    expect(sftpChoice({ ...emptySftp(), host: 'h', user: 'u', path: '/', password: 'p' }).problems['path']).toBeDefined();
    expect(sftpChoice({ ...emptySftp(), host: 'h', user: 'u', path: '/a' }).problems).toEqual({ password: expect.any(String) });
  });
});

describe('s3Choice', () => {
  it('builds s3:// or s3+http:// with the bucket and folder, and the keys', () => {
    expect(s3Choice({ ...emptyS3(), endpoint: 'https://S3.example.com/', bucket: 'backups', prefix: '/laptop/', accessKeyId: 'AKIA1', secretAccessKey: 's' })).toEqual({
      location: 's3://s3.example.com/backups/laptop',
      remote: { accessKeyId: 'AKIA1', secretAccessKey: 's' },
      problems: {},
    });
    const c = s3Choice({ ...emptyS3(), endpoint: '127.0.0.1:7480', https: false, bucket: 'b.1', accessKeyId: 'k', secretAccessKey: 's', region: 'default' });
    expect(c.location).toBe('s3+http://127.0.0.1:7480/b.1');
    expect(c.remote).toEqual({ accessKeyId: 'k', secretAccessKey: 's', region: 'default' });
  });

  it('blames the field at fault', () => {
    const c = s3Choice({ ...emptyS3(), endpoint: 'host/with/path', bucket: 'UPPER', accessKeyId: 'bad key', secretAccessKey: '', region: 'Not A Region' });
    expect(Object.keys(c.problems).sort()).toEqual(['accessKeyId', 'bucket', 'endpoint', 'region', 'secretAccessKey']);
    expect(c.location).toBeUndefined();
    expect(s3Choice({ ...emptyS3(), endpoint: 'h:99999', bucket: 'bkt', accessKeyId: 'k', secretAccessKey: 's' }).problems['endpoint']).toMatch(/port/);
    expect(s3Choice({ ...emptyS3(), endpoint: 'h', bucket: 'bkt', prefix: 'a/../b', accessKeyId: 'k', secretAccessKey: 's' }).problems['prefix']).toMatch(/\.\./);
  });
});
