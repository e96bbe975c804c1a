import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { isAppError } from '../../../../electron/common/contract';
import { InstanceLock } from '../../../../electron/core/persist/instance-lock';

const dir = () => mkdtempSync(path.join(os.tmpdir(), 'snapkeep-lock-'));

async function conflict(p: Promise<unknown>): Promise<string> {
  const e: unknown = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(isAppError(e) && e.code).toBe('CONFLICT');
  return (e as Error).message;
}

describe('InstanceLock', () => {
  it('lets one owner in and names it to the next', async () => {
    const d = dir();
    const lock = await InstanceLock.acquire(d);
    expect(await conflict(InstanceLock.acquire(d))).toContain(`pid ${process.pid}`);
    await lock.release();
    await (await InstanceLock.acquire(d)).release();
  });

  it('takes over from a dead owner', async () => {
    const d = dir();
    // A pid that existed and is gone for sure: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    writeFileSync(path.join(d, 'service.lock'), JSON.stringify({ pid, host: os.hostname(), since: '2020-01-01T00:00:00Z' }));
    const lock = await InstanceLock.acquire(d);
    expect(JSON.parse(readFileSync(path.join(d, 'service.lock'), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over a torn lock file', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'service.lock'), '{"pid": 12');
    await (await InstanceLock.acquire(d)).release();
  });

  it('release leaves a lock it does not own alone', async () => {
    const d = dir();
    const lock = await InstanceLock.acquire(d);
    writeFileSync(path.join(d, 'service.lock'), JSON.stringify({ pid: 1, host: os.hostname(), since: 'x' }));
    await lock.release();
    expect(readFileSync(path.join(d, 'service.lock'), 'utf8')).toContain('"pid":1');
  });
});
