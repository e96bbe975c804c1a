// File-system calls as another user, for real: the tests run as root (host
// and VM) and act as nobody, with and without a group that opens a file.
// What the kernel allows nobody is what the calls allow; the process itself
// keeps root's identity throughout.
import { chmodSync, chownSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

import { afterAll, describe, expect, it } from 'vitest';

import { accessAs, copyUserXattrs, FileType, mkdirAs, O, openAs, symlinkAs, userIdentity } from '../index';

const NOBODY = { uid: 65534, gid: 65534, groups: [65534] };
const USERS_GID = 100;
const dir = mkdtempSync(path.join(tmpdir(), 'snapkeep-callerfs-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string, mode: number, uid = 0, gid = 0) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  chownSync(p, uid, gid);
  chmodSync(p, mode);
  return p;
};

describe('openAs', () => {
  it('refuses nobody a root-only file that root opens', async () => {
    const secret = file('secret', 'shadow', 0o600);
    await expect(openAs(NOBODY, secret, { flags: O.RDONLY })).rejects.toMatchObject({ code: 'EACCES', syscall: 'openat' });
    const fd = await openAs(null, secret, { flags: O.RDONLY });
    expect(readFileSync(fd, 'utf8')).toBe('shadow');
    closeSync(fd);
  });

  it('honours supplementary groups: the group opens a group-readable file', async () => {
    const shared = file('shared', 'for users', 0o640, 0, USERS_GID);
    await expect(openAs(NOBODY, shared, { flags: O.RDONLY })).rejects.toMatchObject({ code: 'EACCES' });
    const fd = await openAs({ ...NOBODY, groups: [65534, USERS_GID] }, shared, { flags: O.RDONLY });
    expect(readFileSync(fd, 'utf8')).toBe('for users');
    closeSync(fd);
  });

  it('creates files owned by the user, only where the user may write', async () => {
    const own = path.join(dir, 'nobody-dir');
    mkdirSync(own, { mode: 0o755 });
    chownSync(own, NOBODY.uid, NOBODY.gid);
    const fd = await openAs(NOBODY, path.join(own, 'new'), { flags: O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, mode: 0o644 });
    const st = fstatSync(fd);
    closeSync(fd);
    expect([st.uid, st.gid]).toEqual([NOBODY.uid, NOBODY.gid]);
    await expect(openAs(NOBODY, path.join(dir, 'in-root-dir'), { flags: O.WRONLY | O.CREAT | O.EXCL })).rejects.toMatchObject({ code: 'EACCES' });
    expect(() => lstatSync(path.join(dir, 'in-root-dir'))).toThrow();
  });

  it('does not follow a symlink in the last component with O_NOFOLLOW', async () => {
    const pub = path.join(dir, 'pub');
    mkdirSync(pub, { mode: 0o777 });
    chmodSync(pub, 0o777);
    const target = file('target', 'x', 0o666);
    await symlinkAs(NOBODY, target, path.join(pub, 'link'));
    await expect(openAs(NOBODY, path.join(pub, 'link'), { flags: O.WRONLY | O.NOFOLLOW })).rejects.toMatchObject({ code: 'ELOOP' });
    expect(lstatSync(path.join(pub, 'link')).uid).toBe(NOBODY.uid);
  });

  it('refuses the wrong kind of file without blocking on a FIFO', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(openAs(null, fifo, { flags: O.RDONLY, types: FileType.file | FileType.block })).rejects.toMatchObject({ code: 'EMEDIUMTYPE' });
    await expect(openAs(null, dir, { flags: O.RDONLY, types: FileType.file })).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(openAs(null, file('plain', '', 0o644), { flags: O.RDONLY, types: FileType.dir })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('opens relative to a directory descriptor the user opened', async () => {
    const own = path.join(dir, 'at');
    mkdirSync(own);
    chownSync(own, NOBODY.uid, NOBODY.gid);
    const dfd = await openAs(NOBODY, own, { flags: O.RDONLY | O.DIRECTORY, types: FileType.dir });
    await mkdirAs(NOBODY, 'sub', 0o700, dfd);
    const fd = await openAs(NOBODY, 'sub/f', { dirfd: dfd, flags: O.WRONLY | O.CREAT | O.EXCL, mode: 0o600 });
    closeSync(fd);
    closeSync(dfd);
    expect(lstatSync(path.join(own, 'sub/f')).uid).toBe(NOBODY.uid);
    expect(lstatSync(path.join(own, 'sub')).uid).toBe(NOBODY.uid);
  });

  it('checks access with the user identity, not the process one', async () => {
    const rootOnly = path.join(dir, 'root-only');
    mkdirSync(rootOnly, { mode: 0o700 });
    await expect(accessAs(NOBODY, rootOnly, 2 /* W_OK */)).rejects.toMatchObject({ code: 'EACCES' });
    await accessAs(null, rootOnly, 2);
  });

  it('leaves the process as it was: other threads keep root', async () => {
    const secret = file('secret2', 's', 0o600);
    await Promise.all(Array.from({ length: 16 }, () => openAs(NOBODY, secret, { flags: O.RDONLY }).catch(() => null)));
    expect(readFileSync(secret, 'utf8')).toBe('s');
    // A child started now is still root with no supplementary groups changed.
    expect(execFileSync('id', ['-u']).toString().trim()).toBe('0');
  });

  it('rejects bad arguments before any system call', async () => {
    expect(() => openAs({ uid: -1, gid: 0, groups: [] }, '/x', { flags: 0 })).toThrow(TypeError);
    expect(() => openAs(NOBODY, '', { flags: 0 })).toThrow(TypeError);
    expect(() => openAs(NOBODY, '/x', { flags: 0o100000000 /* O_TMPFILE-ish bit */ })).toThrow(/unsupported open flags/);
  });
});

describe('copyUserXattrs', () => {
  it('copies user.* attributes through the descriptors and nothing of the other namespaces', async () => {
    const src = file('xsrc', 'x', 0o644);
    execFileSync('setfattr', ['-n', 'user.a', '-v', 'one', src]);
    execFileSync('setfattr', ['-n', 'user.b', '-v', 'two', src]);
    execFileSync('setfattr', ['-n', 'trusted.c', '-v', 'three', src]);
    const dst = file('xdst', '', 0o644);
    const [s, d] = [await openAs(null, src, { flags: O.RDONLY }), await openAs(null, dst, { flags: O.WRONLY })];
    try {
      expect(await copyUserXattrs(s, d)).toBe(2);
    } finally {
      closeSync(s);
      closeSync(d);
    }
    const got = execFileSync('getfattr', ['-d', '-m', '-', dst]).toString();
    expect(got).toContain('user.a="one"');
    expect(got).toContain('user.b="two"');
    expect(got).not.toContain('trusted.c');
  });
});

describe('userIdentity', () => {
  it('reads the user database', () => {
    expect(userIdentity(0)).toMatchObject({ uid: 0, gid: 0, name: 'root' });
    expect(userIdentity(65534)).toMatchObject({ uid: 65534, name: 'nobody' });
    expect(userIdentity(0x7ffffff0)).toBeNull();
  });
});
