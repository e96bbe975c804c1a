// A live lock held by another user's process is held. The tests run as
// root, which may signal and read every process, so a check that only
// works for root (kill(pid, 0) answering EPERM for a foreign process) would
// pass unnoticed: here two ordinary users take part, created for the test,
// and each side of the check runs as one of them in its own process.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { acquireLock } from '../../../../electron/core/engine/locks';
import { tempDir } from './fixtures';
import { Holder } from './locks-holder';

const USERS = ['snapkeep-lock-a', 'snapkeep-lock-b'] as const;
const ids: Record<string, { uid: number; gid: number }> = {};
const dirs: string[] = [];
const holders: Holder[] = [];
const FAST = { SNAPKEEP_TEST_LOCK_SETTLE_MS: '20' };

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('this test creates users and runs processes as them: run it as root (npm test does)');
  for (const u of USERS) {
    try {
      execFileSync('id', ['-u', u], { stdio: 'ignore' });
    } catch {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', u]);
    }
    ids[u] = { uid: Number(execFileSync('id', ['-u', u], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', u], { encoding: 'utf8' })) };
  }
});
afterEach(() => holders.splice(0).forEach((h) => h.kill()));
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A repository every user may take locks in (a shared NAS folder). */
function sharedRepo(): string {
  const r = tempDir('lockuser');
  dirs.push(r);
  fs.chmodSync(r, 0o755);
  fs.mkdirSync(path.join(r, 'locks'), { mode: 0o777 });
  fs.chmodSync(path.join(r, 'locks'), 0o777);
  return r;
}

function as(user: (typeof USERS)[number], r: string, kind: 'shared' | 'exclusive', op: string): Holder {
  const id = ids[user];
  if (!id) throw new Error(`no user ${user}`);
  const h = new Holder(r, kind, op, { ...id, env: FAST });
  holders.push(h);
  return h;
}

it("root does not take the lock of another user's live process", async () => {
  const r = sharedRepo();
  const a = as('snapkeep-lock-a', r, 'shared', 'backup');
  const got = await a.next();
  expect(got.event).toBe('acquired');
  const e = (await acquireLock(r, 'exclusive', 'prune').catch((x: unknown) => x)) as AppError;
  expect(e).toBeInstanceOf(AppError);
  expect(e.code).toBe('REPO_LOCKED');
  expect(e.message).toContain(`pid ${got.pid}`);
});

it("an ordinary user does not take root's lock, nor another user's", async () => {
  const r = sharedRepo();
  const root = await acquireLock(r, 'shared', 'backup');
  const b = as('snapkeep-lock-b', r, 'exclusive', 'prune');
  const refused = await b.next();
  expect(refused).toMatchObject({ event: 'refused', code: 'REPO_LOCKED' });
  // Repository files are 0600: the user cannot even read root's lock, and a
  // lock it cannot read counts as held.
  expect(refused.message).toMatch(new RegExp(`pid ${process.pid}|lock file it cannot read`));
  await root.release();

  const a = as('snapkeep-lock-a', r, 'shared', 'backup');
  expect((await a.next()).event).toBe('acquired');
  const b2 = as('snapkeep-lock-b', r, 'exclusive', 'prune');
  expect(await b2.next()).toMatchObject({ event: 'refused', code: 'REPO_LOCKED' });
  expect(fs.readdirSync(path.join(r, 'locks')).filter((n) => !n.startsWith('.'))).toHaveLength(1);
});

it('a lock file the user may not read counts as held', async () => {
  const r = sharedRepo();
  const root = await acquireLock(r, 'shared', 'backup');
  for (const n of fs.readdirSync(path.join(r, 'locks'))) fs.chmodSync(path.join(r, 'locks', n), 0o600);
  const b = as('snapkeep-lock-b', r, 'shared', 'verify');
  expect(await b.next()).toMatchObject({ event: 'refused', code: 'REPO_LOCKED', reason: 'lock-unreadable' });
  await root.release();
});
