// The contract's append-only fields as each process edge checks them: an
// append-only repos.init needs the owner passphrase, a different backup
// passphrase and, on a server, the owner's login on the same server (S3:
// the same bucket); the owner's key of an operation is strict; a new
// passphrase comes with the owner's key and is not the owner passphrase given.
import { describe, expect, it } from 'vitest';

import { methods, OwnerAccess, Repository } from '../../../electron/common/contract';

const init = methods['repos.init'].params;
const SFTP = 'sftp://backup@nas.local/repos/laptop';
const S3 = 's3://s3.example.com/backups/laptop';
const pw = { password: 'pw' };
const messages = (p: unknown) => {
  const r = init.safeParse(p);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('repos.init appendOnly', () => {
  it('takes the owner login on the same server, with its own user and folder', () => {
    const owner = { path: 'sftp://owner@nas.local/srv/jail/repos/laptop', remote: pw };
    expect(messages({ name: 'nas', path: SFTP, remote: pw, passphrase: 'owner pass', appendOnly: { clientPassphrase: 'backup pass', owner } })).toEqual([]);
    expect(messages({ name: 'nas', path: S3, remote: { accessKeyId: 'C' }, passphrase: 'owner pass', appendOnly: { clientPassphrase: 'backup pass', owner: { remote: { accessKeyId: 'O' } } } })).toEqual([]);
  });

  it('refuses another server, another bucket, another folder, a server without the owner login, equal passphrases, no owner passphrase', () => {
    const base = { name: 'nas', path: SFTP, remote: pw, passphrase: 'owner pass' };
    expect(messages({ ...base, appendOnly: { clientPassphrase: 'backup pass', owner: { path: 'sftp://owner@other.local/repos/laptop', remote: pw } } })).toEqual([
      "appendOnly.owner.path: the owner's location must be the same server (S3: the same bucket and folder; a folder on this computer: the same folder)",
    ]);
    expect(messages({ ...base, path: S3, appendOnly: { clientPassphrase: 'backup pass', owner: { path: 's3://s3.example.com/other/laptop', remote: pw } } })).toEqual([
      "appendOnly.owner.path: the owner's location must be the same server (S3: the same bucket and folder; a folder on this computer: the same folder)",
    ]);
    expect(messages({ ...base, appendOnly: { clientPassphrase: 'backup pass' } })).toEqual(["appendOnly.owner.remote: a server's repository needs the owner's login"]);
    // A folder on this computer: that folder, not another one root would open for the caller.
    expect(messages({ name: 'usb', path: '/media/usb/repo', passphrase: 'owner pass', appendOnly: { clientPassphrase: 'backup pass', owner: { path: '/root/repo' } } })).toEqual([
      "appendOnly.owner.path: the owner's location must be the same server (S3: the same bucket and folder; a folder on this computer: the same folder)",
    ]);
    expect(messages({ name: 'usb', path: '/media/usb/repo', passphrase: 'owner pass', appendOnly: { clientPassphrase: 'backup pass', owner: { path: '/media/usb/repo' } } })).toEqual([]);
    expect(messages({ ...base, appendOnly: { clientPassphrase: 'owner pass', owner: { remote: pw } } })).toEqual([
      'appendOnly.clientPassphrase: the backup passphrase must differ from the owner passphrase',
    ]);
    expect(messages({ name: 'nas', path: SFTP, remote: pw, appendOnly: { clientPassphrase: 'backup pass', owner: { remote: pw } } })).toEqual([
      'passphrase: an append-only repository needs the owner passphrase',
    ]);
  });
});

describe('OwnerAccess and the role', () => {
  it('the owner access is strict; the role is owner or client', () => {
    expect(OwnerAccess.safeParse({ passphrase: 'p', remote: pw }).success).toBe(true);
    expect(OwnerAccess.safeParse({ passphrase: 'p', remember: true }).success).toBe(false);
    expect(OwnerAccess.safeParse({ remote: pw }).success).toBe(false);
    const repo = { id: 'r-1', name: 'nas', path: SFTP, encrypted: true, unlocked: true, remembered: false, online: true };
    expect(Repository.safeParse({ ...repo, role: 'client' }).success).toBe(true);
    expect(Repository.safeParse({ ...repo, role: 'legacy' }).success).toBe(false);
    expect(methods['restore.start'].params.safeParse({ repositoryId: 'r-1', pointId: 'p-1', source: '/dev/sda', target: '/tmp/x', skipIdentical: false, confirm: '/tmp/x', owner: { passphrase: 'p' } }).success).toBe(true);
  });
});

describe('repos.changePassphrase', () => {
  const change = methods['repos.changePassphrase'].params;
  const issues = (p: unknown) => {
    const r = change.safeParse(p);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const owner = { passphrase: 'owner pass', path: 'sftp://owner@nas.local/repos/laptop', remote: pw };

  it("takes either role's new passphrase with the owner's key", () => {
    expect(issues({ id: 'r-1', role: 'owner', newPassphrase: 'new owner pass', owner })).toEqual([]);
    expect(issues({ id: 'r-1', role: 'client', newPassphrase: 'new backup pass', owner: { passphrase: 'owner pass' } })).toEqual([]);
  });

  it("refuses no owner's key, another role, an empty or too long passphrase, unknown keys, and the owner passphrase given as the new one", () => {
    expect(issues({ id: 'r-1', role: 'owner', newPassphrase: 'x' })).toEqual(['owner: Invalid input: expected object, received undefined']);
    expect(issues({ id: 'r-1', role: 'legacy', newPassphrase: 'x', owner })).toHaveLength(1);
    expect(issues({ id: 'r-1', role: 'client', newPassphrase: '', owner })).toHaveLength(1);
    expect(issues({ id: 'r-1', role: 'client', newPassphrase: 'x'.repeat(1025), owner })).toHaveLength(1);
    expect(issues({ id: 'r-1', role: 'client', newPassphrase: 'x', owner, remember: true })).toHaveLength(1);
    expect(issues({ id: 'r-1', role: 'client', newPassphrase: 'owner pass', owner })).toEqual(['newPassphrase: the new backup passphrase must differ from the owner passphrase']);
    expect(issues({ id: 'r-1', role: 'owner', newPassphrase: 'owner pass', owner })).toEqual(['newPassphrase: the new owner passphrase is the one in use now']);
  });
});

describe('repos.rotateKeyPair', () => {
  const rotate = methods['repos.rotateKeyPair'].params;
  const issues = (p: unknown) => {
    const r = rotate.safeParse(p);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const owner = { passphrase: 'owner pass', path: 'sftp://owner@nas.local/repos/laptop', remote: pw };

  it("takes the owner's key, the backup passphrase and, optionally, a new owner passphrase", () => {
    expect(issues({ id: 'r-1', owner, clientPassphrase: 'backup pass' })).toEqual([]);
    expect(issues({ id: 'r-1', owner: { passphrase: 'owner pass' }, clientPassphrase: 'backup pass', newOwnerPassphrase: 'new owner pass' })).toEqual([]);
  });

  it('refuses no owner key, no or an empty backup passphrase, unknown keys, and a backup passphrase equal to an owner one', () => {
    expect(issues({ id: 'r-1', clientPassphrase: 'backup pass' })).toEqual(['owner: Invalid input: expected object, received undefined']);
    expect(issues({ id: 'r-1', owner })).toHaveLength(1);
    expect(issues({ id: 'r-1', owner, clientPassphrase: '' })).toHaveLength(1);
    expect(issues({ id: 'r-1', owner, clientPassphrase: 'b', newOwnerPassphrase: '' })).toHaveLength(1);
    expect(issues({ id: 'r-1', owner, clientPassphrase: 'b', role: 'owner' })).toHaveLength(1);
    expect(issues({ id: 'r-1', owner, clientPassphrase: 'owner pass' })).toEqual(['clientPassphrase: the backup passphrase must differ from the owner passphrase']);
    expect(issues({ id: 'r-1', owner, clientPassphrase: 'b', newOwnerPassphrase: 'b' })).toEqual(['clientPassphrase: the backup passphrase must differ from the owner passphrase']);
    expect(issues({ id: 'r-1', owner, clientPassphrase: 'b', newOwnerPassphrase: 'owner pass' })).toEqual(['newOwnerPassphrase: the new owner passphrase is the one in use now']);
  });

  it('answers with the repository and both fingerprints', () => {
    const result = methods['repos.rotateKeyPair'].result;
    const repository = { id: 'r-1', name: 'nas', path: '/srv/repo', encrypted: true, unlocked: true, remembered: false, online: true, role: 'client', publicKey: 'b'.repeat(32) };
    const ok = { repository, publicKey: 'b'.repeat(32), previousPublicKey: 'a'.repeat(32), retiredKeys: 1, finished: false, clientPassphraseChanged: false, ownerPassphraseChanged: false };
    expect(result.safeParse(ok).success).toBe(true);
    expect(result.safeParse({ ...ok, publicKey: 'not hex' }).success).toBe(false);
  });
});
