// The working copy's lock (remote/working-copy-lock.ts): operations of one
// process queue in order, a wait says who holds the lock and is cancelled
// by its token, and a holder in another process killed with SIGKILL frees
// the lock at once.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { isAppError } from '../../../../../electron/common/contract';
import { LOCK_FILE, lockWorkingCopy, tryLockWorkingCopy } from '../../../../../electron/core/engine/remote/working-copy-lock';
import { createCancelToken } from '../../../../../native';
import { tempDir } from '../../../../support/temp-dirs';

const tmp = tempDir('snapkeep-wclock-');
afterAll(() => tmp.remove());
const ADDON = path.resolve(__dirname, '../../../../../native/build/Release/snapkeep.node');
const sub = (name: string) => {
  const d = path.join(tmp.dir, name);
  fs.mkdirSync(d);
  return d;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Another process holding the lock file's flock until killed. */
async function holderProcess(file: string): Promise<ChildProcess> {
  const script = `
    const a = require(${JSON.stringify(ADDON)});
    const fd = a.tryLockFile(${JSON.stringify(file)}, JSON.stringify({ pid: process.pid, operation: 'backup' }));
    process.stdout.write(fd === null ? 'busy\\n' : 'locked\\n');
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const said = await new Promise<string>((resolve) => child.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim())));
  expect(said).toBe('locked');
  return child;
}

describe('the working copy lock', () => {
  it('runs the operations of one process one after another, in order', async () => {
    const dir = sub('a');
    const order: string[] = [];
    const messages: string[] = [];
    const first = await lockWorkingCopy(dir, { operation: 'backup', location: 'sftp://x/r' });
    expect(tryLockWorkingCopy(dir, 'index load')).toBeUndefined();
    const waits = ['restore', 'verify'].map(async (operation) => {
      const l = await lockWorkingCopy(dir, { operation, location: 'sftp://x/r', onWait: (m) => messages.push(m) });
      order.push(operation);
      await sleep(20);
      l.release();
    });
    await sleep(300);
    expect(order).toEqual([]);
    expect(messages).toEqual([`waiting for another Snapkeep operation on sftp://x/r (pid ${process.pid}, backup)`, expect.stringContaining('waiting for another')]);
    first.release();
    first.release(); // a second release does nothing
    await Promise.all(waits);
    expect(order).toEqual(['restore', 'verify']);
    const free = tryLockWorkingCopy(dir, 'index load');
    expect(free).toBeDefined();
    free?.release();
  });

  it('cancels a wait with its token, and the queue goes on', async () => {
    const dir = sub('b');
    const first = await lockWorkingCopy(dir, { operation: 'backup', location: 'L' });
    const token = createCancelToken();
    const cancelled = lockWorkingCopy(dir, { operation: 'restore', location: 'L', cancel: token, onWait: () => undefined }).then(
      () => 'locked',
      (e: unknown) => (isAppError(e) ? `${e.code}: ${e.message}` : String(e)),
    );
    const next = lockWorkingCopy(dir, { operation: 'verify', location: 'L', onWait: () => undefined });
    await sleep(50);
    const t0 = Date.now();
    token.cancel();
    expect(await cancelled).toBe(`CANCELLED: restore cancelled while waiting for another Snapkeep operation on L (pid ${process.pid}, backup)`);
    expect(Date.now() - t0).toBeLessThan(1000);
    first.release();
    (await next).release();
  });

  it('waits for a holder in another process, named in the message, until it is killed', async () => {
    const dir = sub('c');
    const child = await holderProcess(path.join(dir, LOCK_FILE));
    const messages: string[] = [];
    expect(tryLockWorkingCopy(dir, 'index load')).toBeUndefined();
    let gotAt = 0;
    const got = lockWorkingCopy(dir, { operation: 'restore', location: 'sftp://h/r', onWait: (m) => messages.push(m), pollMs: 50 }).then((l) => {
      gotAt = Date.now();
      return l;
    });
    await sleep(300);
    expect(gotAt).toBe(0);
    expect(messages).toEqual([`waiting for another Snapkeep operation on sftp://h/r (pid ${child.pid}, backup)`]);
    const gone = new Promise<number>((r) => child.on('exit', () => r(Date.now())));
    child.kill('SIGKILL');
    const goneAt = await gone;
    const lock = await got;
    console.log(`the lock was taken ${gotAt - goneAt} ms after the holder's death was seen (polling every 50 ms)`);
    expect(gotAt - goneAt).toBeLessThan(500);
    lock.release();
  });
});
