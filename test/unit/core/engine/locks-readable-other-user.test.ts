// On a file system that ignores file modes (a vfat or exFAT backup disk, a
// CIFS share mounted with file_mode=0777) an ordinary user can read root's
// lock file, so its pid is judged: kill(pid, 0) answers EPERM for another
// user's live process, and that must count as alive. Modes are loosened by
// hand here (the host has no vfat); the user's process is real (setuid in
// the holder child).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { acquireLock } from '../../../../electron/core/engine/locks';
import { tempDir } from './fixtures';
import { Holder } from './locks-holder';

const USER = 'snapkeep-lock-b';
let id = { uid: -1, gid: -1 };
const dirs: string[] = [];
const holders: Holder[] = [];

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('this test runs a process as another user: run it as root (npm test does)');
  try {
    execFileSync('id', ['-u', USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  }
  id = { uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' })) };
});
afterEach(() => holders.splice(0).forEach((h) => h.kill()));
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

it("an ordinary user who can read root's lock does not take root's live process for dead (EPERM)", async () => {
  const r = tempDir('lockread');
  dirs.push(r);
  fs.chmodSync(r, 0o755);
  fs.mkdirSync(path.join(r, 'locks'), { mode: 0o777 });
  fs.chmodSync(path.join(r, 'locks'), 0o777);
  const root = await acquireLock(r, 'shared', 'backup');
  try {
    const names = fs.readdirSync(path.join(r, 'locks')).filter((n) => !n.startsWith('.'));
    for (const n of names) fs.chmodSync(path.join(r, 'locks', n), 0o644);
    const b = new Holder(r, 'exclusive', 'prune', { ...id, env: { SNAPKEEP_TEST_LOCK_SETTLE_MS: '20' } });
    holders.push(b);
    const refused = await b.next();
    expect(refused).toMatchObject({ event: 'refused', code: 'REPO_LOCKED' });
    expect(refused.message).toContain(`pid ${process.pid}`);
    expect(fs.readdirSync(path.join(r, 'locks')).filter((n) => !n.startsWith('.'))).toEqual(names);
  } finally {
    await root.release();
  }
});
