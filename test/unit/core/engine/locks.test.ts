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

it('`snapkeep locks` shows the holders, removes stale ones, and a held or unreadable one only with --force', async () => {
  const { spawnSync: run } = await import('node:child_process');
  const CLI = path.resolve(__dirname, '../../../../out/js/electron/cli/snapkeep.js');
  const cli = (...args: string[]) => {
    const r = run(process.execPath, [CLI, 'locks', ...args, '--json'], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout ? (JSON.parse(r.stdout) as { locks: Array<{ name: string; stale: boolean }>; removed: string[]; error?: { code: string } }) : undefined };
  };
  const repo = tempDir('lockcli');
  dirs.push(repo);
  const held = await acquireLock(repo, 'shared', 'backup');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const v1 = { kind: 'exclusive', host: os.hostname(), pid: Number(dead.stdout), startedAt: new Date().toISOString(), operation: 'prune' };
  fs.writeFileSync(path.join(repo, 'locks', 'dead.json'), JSON.stringify(v1));
  fs.writeFileSync(path.join(repo, 'locks', 'torn.json'), '{"kin');
  const listed = cli(repo).out;
  expect(listed?.locks.map((l) => [l.name, l.stale]).sort()).toEqual(
    [[fs.readdirSync(path.join(repo, 'locks')).find((n) => n !== 'dead.json' && n !== 'torn.json' && !n.startsWith('.')), false], ['dead.json', true], ['torn.json', false]].sort(),
  );
  expect(cli(repo, '--remove-stale').out?.removed).toEqual(['dead.json']);
  const refused = cli(repo, '--remove', 'torn.json');
  expect(refused.code).toBe(5);
  expect(refused.out?.error?.code).toBe('REPO_LOCKED');
  expect(cli(repo, '--remove', 'torn.json', '--force').out?.removed).toEqual(['torn.json']);
  expect(fs.readdirSync(path.join(repo, 'locks')).filter((n) => !n.startsWith('.'))).toHaveLength(1);
  await held.release();
  expect(cli(repo).out?.locks).toEqual([]);
});
