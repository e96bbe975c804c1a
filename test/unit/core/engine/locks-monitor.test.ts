// The holder's side: a lock is refreshed by rewriting its time, a holder
// notices when its lock file was removed or cannot be rewritten (the error
// is the reason, not swallowed), and after a pause longer than the stale
// limit (SIGSTOP here, suspend in life) it re-proves the lock before the
// next write and stops when another process took the repository
// meanwhile. Timings are shortened through the test-only
// SNAPKEEP_TEST_LOCK_* variables; the second process is a real one
// (test/torture/lock-holder.mjs, from the build).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { acquireLock } from '../../../../electron/core/engine/locks';
import { tempDir } from './fixtures';
import { Holder } from './locks-holder';

const TIMING = { SNAPKEEP_TEST_LOCK_STALE_MS: '1500', SNAPKEEP_TEST_LOCK_REFRESH_MS: '200', SNAPKEEP_TEST_LOCK_SETTLE_MS: '20' };
const OTHER_MACHINE = { ...TIMING, SNAPKEEP_TEST_MACHINE_ID: 'b'.repeat(32) };
const dirs: string[] = [];
const holders: Holder[] = [];
const unmounts: string[] = [];

beforeEach(() => Object.assign(process.env, TIMING));
afterEach(() => {
  for (const k of Object.keys(TIMING)) delete process.env[k];
  holders.splice(0).forEach((h) => h.kill());
  for (const m of unmounts.splice(0)) execFileSync('umount', ['-l', m]);
});
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function repo(): string {
  const r = tempDir('lockmon');
  dirs.push(r);
  fs.mkdirSync(path.join(r, 'locks'));
  fs.mkdirSync(path.join(r, 'index'));
  fs.writeFileSync(path.join(r, 'index', 'a'.repeat(64)), 'index');
  return r;
}

const lockFiles = (r: string) => fs.readdirSync(path.join(r, 'locks')).filter((n) => !n.startsWith('.'));
const lockJson = (r: string) => JSON.parse(fs.readFileSync(path.join(r, 'locks', lockFiles(r)[0] ?? ''), 'utf8')) as { time: string };

async function lostReason(signal: AbortSignal, ms: number): Promise<AppError> {
  const deadline = Date.now() + ms;
  while (!signal.aborted && Date.now() < deadline) await sleep(20);
  expect(signal.aborted).toBe(true);
  const e = signal.reason as AppError;
  expect(e).toBeInstanceOf(AppError);
  expect(e.code).toBe('REPO_LOCKED');
  expect(e.details?.['reason']).toBe('lock-lost');
  return e;
}

/** Blocks this process's event loop, as a stopped or suspended process would stand still. */
function freeze(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

it('refreshes by rewriting the time inside the lock', async () => {
  const r = repo();
  const l = await acquireLock(r, 'shared', 'backup');
  const t0 = Date.parse(lockJson(r).time);
  await sleep(700);
  expect(Date.parse(lockJson(r).time)).toBeGreaterThan(t0);
  await l.release();
  expect(lockFiles(r)).toEqual([]);
});

it('stops the work when its lock file was removed by someone else', async () => {
  const r = repo();
  const l = await acquireLock(r, 'shared', 'backup');
  fs.rmSync(path.join(r, 'locks', lockFiles(r)[0] ?? ''));
  // Before the next refresh, the check before a write already sees it.
  const e = (await l.assertHeld().catch((x: unknown) => x)) as AppError;
  expect(e.details?.['reason']).toBe('lock-lost');
  expect((await lostReason(l.signal, 100)).message).toMatch(/removed by another process/);
  await l.release();
});

it('does not swallow refresh errors: a lock it cannot rewrite stops the work with the error as the reason', async () => {
  const r = repo();
  const l = await acquireLock(r, 'shared', 'backup');
  const locks = path.join(r, 'locks');
  execFileSync('mount', ['--bind', locks, locks]);
  unmounts.push(locks);
  execFileSync('mount', ['-o', 'remount,bind,ro', locks]);
  expect(l.signal.aborted).toBe(false);
  const e = await lostReason(l.signal, 3000);
  expect(e.message).toMatch(/could not be refreshed \(.*(EROFS|read-only).*\)/i);
  await expect(l.assertHeld()).rejects.toBe(e);
  await l.release().catch(() => undefined);
});

it('after a pause longer than the stale limit, re-proves the lock before the next write and goes on when nobody took it', async () => {
  const r = repo();
  const l = await acquireLock(r, 'shared', 'backup');
  const before = Date.parse(lockJson(r).time);
  freeze(2000);
  await l.assertHeld();
  expect(Date.parse(lockJson(r).time)).toBeGreaterThan(before + 1900);
  expect(l.signal.aborted).toBe(false);
  await l.release();
});

it('a shared holder whose starting index files vanished knows a prune ran, and stops', async () => {
  const r = repo();
  const l = await acquireLock(r, 'shared', 'backup');
  fs.rmSync(path.join(r, 'index', 'a'.repeat(64)));
  fs.writeFileSync(path.join(r, 'index', 'c'.repeat(64)), 'new index');
  const e = (await l.assertHeld().catch((x: unknown) => x)) as AppError;
  expect(e.code).toBe('REPO_LOCKED');
  expect(e.message).toMatch(/pruned meanwhile/);
  await l.release();
});

it('a stopped holder on another machine loses its lock to a prune, and on SIGCONT stops instead of writing', async () => {
  const r = repo();
  const h = new Holder(r, 'shared', 'backup', { env: OTHER_MACHINE });
  holders.push(h);
  expect((await h.next()).event).toBe('acquired');
  h.child.kill('SIGSTOP');
  await sleep(1800);
  // The prune: the stopped holder's lock is stale by age; it takes the
  // repository, replaces the index and finishes.
  const prune = await acquireLock(r, 'exclusive', 'prune');
  expect(lockFiles(r)).toHaveLength(1);
  fs.rmSync(path.join(r, 'index', 'a'.repeat(64)));
  fs.writeFileSync(path.join(r, 'index', 'd'.repeat(64)), 'pruned index');
  await prune.release();
  h.child.kill('SIGCONT');
  h.send('assert');
  const e = await h.next();
  expect(e.event).toBe('lost');
  expect(e.code).toBe('REPO_LOCKED');
  expect(e.reason).toBe('lock-lost');
  h.send('release');
});

it('a stopped holder on another machine that wakes while the prune still runs stops too', async () => {
  const r = repo();
  const h = new Holder(r, 'shared', 'backup', { env: OTHER_MACHINE });
  holders.push(h);
  expect((await h.next()).event).toBe('acquired');
  h.child.kill('SIGSTOP');
  await sleep(1800);
  const prune = await acquireLock(r, 'exclusive', 'prune');
  h.child.kill('SIGCONT');
  h.send('assert');
  const e = await h.next();
  expect(e.event).toBe('lost');
  expect(e.message).toMatch(/removed by another process|holds the repository now/);
  await prune.release();
});

it('a stopped holder on this machine keeps its lock however long it sleeps (its process lives), and goes on after SIGCONT', async () => {
  const r = repo();
  const h = new Holder(r, 'shared', 'backup', { env: TIMING });
  holders.push(h);
  expect((await h.next()).event).toBe('acquired');
  h.child.kill('SIGSTOP');
  await sleep(1800);
  const refused = (await acquireLock(r, 'exclusive', 'prune').catch((x: unknown) => x)) as AppError;
  expect(refused.code).toBe('REPO_LOCKED');
  expect(refused.message).toMatch(/backup \(pid \d+ on this computer\)/);
  h.child.kill('SIGCONT');
  h.send('assert');
  expect((await h.next()).event).toBe('held');
  h.send('release');
  expect((await h.next()).event).toBe('released');
});
