// Shared locks coexist, exclusive ones exclude; a lock whose process died
// (kill -9) is stale and is removed by the next taker.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { acquireLock } from '../../../../electron/core/engine/locks';
import { tempDir } from './fixtures';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

it('lets shared locks coexist and refuses an exclusive one next to them, with REPO_LOCKED naming the holder', async () => {
  const repo = tempDir('locks');
  dirs.push(repo);
  const a = await acquireLock(repo, 'shared', 'backup');
  const b = await acquireLock(repo, 'shared', 'restore');
  const e = await acquireLock(repo, 'exclusive', 'prune').catch((x: unknown) => x);
  expect(e).toBeInstanceOf(AppError);
  expect((e as AppError).code).toBe('REPO_LOCKED');
  expect((e as AppError).message).toMatch(/backup|restore/);
  await a.release();
  await b.release();
  const x = await acquireLock(repo, 'exclusive', 'prune');
  expect(((await acquireLock(repo, 'shared', 'backup').catch((y: unknown) => y)) as AppError).code).toBe('REPO_LOCKED');
  await x.release();
  expect(fs.readdirSync(path.join(repo, 'locks'))).toEqual([]);
});

it('removes the lock of a process that died', async () => {
  const repo = tempDir('stale');
  dirs.push(repo);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(dead.stdout);
  fs.mkdirSync(path.join(repo, 'locks'), { recursive: true });
  const info = { kind: 'exclusive', host: os.hostname(), pid, startedAt: new Date().toISOString(), operation: 'prune' };
  fs.writeFileSync(path.join(repo, 'locks', 'dead.json'), JSON.stringify(info));
  // A live foreign holder on another host is not stale until it stops refreshing.
  fs.writeFileSync(path.join(repo, 'locks', 'remote.json'), JSON.stringify({ ...info, host: 'elsewhere', kind: 'shared' }));
  const l = await acquireLock(repo, 'shared', 'backup');
  expect(fs.existsSync(path.join(repo, 'locks', 'dead.json'))).toBe(false);
  expect(fs.existsSync(path.join(repo, 'locks', 'remote.json'))).toBe(true);
  await l.release();
  const old = new Date(Date.now() - 31 * 60 * 1000);
  fs.utimesSync(path.join(repo, 'locks', 'remote.json'), old, old);
  const m = await acquireLock(repo, 'exclusive', 'prune');
  expect(fs.existsSync(path.join(repo, 'locks', 'remote.json'))).toBe(false);
  await m.release();
});
