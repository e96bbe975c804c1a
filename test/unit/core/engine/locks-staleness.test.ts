// When is someone else's lock stale? Only when its holder is provably gone
// (this machine, this boot, and its pid + start time no longer exist; or a
// lock from before this machine booted) or when it has not been refreshed
// for longer than the stale limit by the lock's own time and by its mtime.
// A lock that cannot be read counts as held. The lock files here are
// written by hand, the way another process or machine would leave them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { acquireLock } from '../../../../electron/core/engine/locks';
import { tempDir } from './fixtures';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  children.forEach((c) => c.kill('SIGKILL'));
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

const MIN = 60 * 1000;
const machineId = fs.readFileSync('/etc/machine-id', 'utf8').trim();
const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const pidNs = fs.readlinkSync('/proc/self/ns/pid');
const bootTime = Date.now() - Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;

/** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
function procStart(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

function sleeper(): number {
  const c = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(c);
  if (c.pid === undefined) throw new Error('could not start sleep');
  return c.pid;
}

function repoWithLock(name: string, fields: Record<string, unknown>, ageMs = 0, mtimeAgeMs = ageMs): string {
  const repo = tempDir('lockstale');
  dirs.push(repo);
  fs.mkdirSync(path.join(repo, 'locks'), { recursive: true });
  const file = path.join(repo, 'locks', name);
  const time = new Date(Date.now() - ageMs).toISOString();
  const lock = {
    version: 2,
    kind: 'exclusive',
    operation: 'prune',
    host: os.hostname(),
    pid: 1,
    startedAt: time,
    time,
    machineId,
    bootId,
    pidNs,
    pidStart: 0,
    uid: 0,
    token: 'f00d',
    ...fields,
  };
  fs.writeFileSync(file, JSON.stringify(lock));
  const m = new Date(Date.now() - mtimeAgeMs);
  fs.utimesSync(file, m, m);
  return repo;
}

async function taken(repo: string): Promise<boolean> {
  try {
    const l = await acquireLock(repo, 'shared', 'backup');
    await l.release();
    return true;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('REPO_LOCKED');
    return false;
  }
}

const present = (repo: string, name: string) => fs.existsSync(path.join(repo, 'locks', name));

it('treats a lock file it cannot parse as held, however old, and names it', async () => {
  const repo = tempDir('lockstale');
  dirs.push(repo);
  fs.mkdirSync(path.join(repo, 'locks'));
  const file = path.join(repo, 'locks', 'torn.json');
  fs.writeFileSync(file, '{"kind":"exclusive","ho');
  const old = new Date(Date.now() - 600 * MIN);
  fs.utimesSync(file, old, old);
  const e = (await acquireLock(repo, 'shared', 'backup').catch((x: unknown) => x)) as AppError;
  expect(e).toBeInstanceOf(AppError);
  expect(e.code).toBe('REPO_LOCKED');
  expect(e.details?.['reason']).toBe('lock-unreadable');
  expect(e.message).toContain('torn.json');
  expect(present(repo, 'torn.json')).toBe(true);
});

it('holds a lock of a live process of this machine and boot, however long ago it was refreshed (a suspended laptop)', async () => {
  const pid = sleeper();
  const repo = repoWithLock('live.json', { pid, pidStart: procStart(pid) }, 600 * MIN);
  expect(await taken(repo)).toBe(false);
  expect(present(repo, 'live.json')).toBe(true);
});

it('removes the lock of a dead process of this machine and boot at once', async () => {
  const repo = repoWithLock('dead.json', { pid: deadPid(), pidStart: 1 });
  expect(await taken(repo)).toBe(true);
  expect(present(repo, 'dead.json')).toBe(false);
});

it('removes a lock whose pid now belongs to another process (the start time differs)', async () => {
  const pid = sleeper();
  const repo = repoWithLock('reused.json', { pid, pidStart: procStart(pid) + 1 });
  expect(await taken(repo)).toBe(true);
  expect(present(repo, 'reused.json')).toBe(false);
});

it('holds the lock of another machine with the same host name and a pid that is dead here, until it is stale by its time and its mtime', async () => {
  const pid = deadPid();
  const other = { machineId: 'a'.repeat(32), bootId: '00000000-0000-4000-8000-000000000000', pid, pidStart: 5 };
  expect(await taken(repoWithLock('clone.json', other))).toBe(false);
  // Old by its own time but the file was written just now (clock skew): held.
  expect(await taken(repoWithLock('skewed.json', other, 31 * MIN, 0))).toBe(false);
  // Old by mtime only (a server whose clock is behind): held.
  expect(await taken(repoWithLock('skewed2.json', other, 0, 31 * MIN))).toBe(false);
  const stale = repoWithLock('gone.json', other, 31 * MIN);
  expect(await taken(stale)).toBe(true);
  expect(present(stale, 'gone.json')).toBe(false);
});

it('removes a lock from an earlier boot of this machine, but holds one refreshed after this boot (a cloned machine id)', async () => {
  const earlier = repoWithLock('earlier.json', { bootId: '11111111-1111-4111-8111-111111111111', pid: process.pid, pidStart: 3 }, Date.now() - bootTime + 10 * MIN);
  expect(await taken(earlier)).toBe(true);
  expect(present(earlier, 'earlier.json')).toBe(false);
  const clone = repoWithLock('clone.json', { bootId: '11111111-1111-4111-8111-111111111111', pid: deadPid(), pidStart: 3 });
  expect(await taken(clone)).toBe(false);
});

it('holds a lock from another pid namespace of this machine (a container) while it is fresh', async () => {
  const repo = repoWithLock('ns.json', { pidNs: 'pid:[1]', pid: deadPid(), pidStart: 3 });
  expect(await taken(repo)).toBe(false);
});

it('still understands the lock files of earlier versions (kind, host, pid, startedAt)', async () => {
  const repo = tempDir('lockstale');
  dirs.push(repo);
  fs.mkdirSync(path.join(repo, 'locks'));
  const v1 = { kind: 'exclusive', host: os.hostname(), pid: deadPid(), startedAt: new Date().toISOString(), operation: 'prune' };
  fs.writeFileSync(path.join(repo, 'locks', 'v1dead.json'), JSON.stringify(v1));
  fs.writeFileSync(path.join(repo, 'locks', 'v1remote.json'), JSON.stringify({ ...v1, host: 'elsewhere', kind: 'shared' }));
  const l = await acquireLock(repo, 'shared', 'backup');
  expect(present(repo, 'v1dead.json')).toBe(false);
  expect(present(repo, 'v1remote.json')).toBe(true);
  await l.release();
  expect(((await acquireLock(repo, 'exclusive', 'prune').catch((e: unknown) => e)) as AppError).code).toBe('REPO_LOCKED');
});
