// flock(2) through the addon, between real processes: a second process
// waits until the first releases, a holder killed with SIGKILL releases at
// once (the kernel closes its descriptors), and two opens in one process
// conflict as two processes do.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { isNativeSysError, tryLockFile, unlockFile } from '../index';

const dir = mkdtempSync(path.join(tmpdir(), 'snapkeep-flock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ADDON = path.resolve(__dirname, '../build/Release/snapkeep.node');

/**
 * A child that polls for the lock every 20 ms, says "locked" once it has it,
 * then releases it when told "release" on stdin and says "released".
 */
function locker(file: string): { child: ChildProcess; said: (word: string) => Promise<number> } {
  const script = `
    const a = require(${JSON.stringify(ADDON)});
    let fd = null;
    const tick = setInterval(() => {
      fd = a.tryLockFile(${JSON.stringify(file)}, JSON.stringify({ pid: process.pid, operation: 'test' }));
      if (fd === null) return;
      clearInterval(tick);
      process.stdout.write('locked\\n');
    }, 20);
    process.stdin.on('data', () => { a.unlockFile(fd); process.stdout.write('released\\n'); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const said = (word: string) =>
    new Promise<number>((resolve, reject) => {
      const check = () => {
        if (out.split('\n').includes(word)) resolve(Date.now());
        else if (child.exitCode !== null || child.signalCode !== null) reject(new Error(`child gone before "${word}"`));
        else waiters.push(check);
      };
      check();
    });
  return { child, said };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('file lock binding', () => {
  it('makes a second process wait until the first releases', async () => {
    const file = path.join(dir, 'a.lock');
    const first = locker(file);
    await first.said('locked');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ pid: first.child.pid, operation: 'test' });
    const second = locker(file);
    const got = second.said('locked');
    let early = false;
    void got.then(() => (early = true), () => undefined);
    await sleep(400);
    expect(early).toBe(false);
    // This process is refused too while the child holds it.
    expect(tryLockFile(file, '')).toBeNull();
    first.child.stdin?.write('release\n');
    const released = await first.said('released');
    const at = await got;
    // The second polls every 20 ms.
    expect(at - released).toBeLessThan(1000);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ pid: second.child.pid, operation: 'test' });
    first.child.kill();
    second.child.kill();
  });

  it('is released at once when the holder is killed with SIGKILL', async () => {
    const file = path.join(dir, 'b.lock');
    const holder = locker(file);
    await holder.said('locked');
    expect(tryLockFile(file, '')).toBeNull();
    const gone = new Promise<void>((r) => holder.child.on('exit', () => r()));
    holder.child.kill('SIGKILL');
    await gone;
    const t0 = Date.now();
    const fd = tryLockFile(file, 'me');
    console.log(`lock free ${Date.now() - t0} ms after the holder's exit was seen`);
    expect(fd).not.toBeNull();
    expect(fs.readFileSync(file, 'utf8')).toBe('me');
    unlockFile(fd as number);
  });

  it('conflicts between two opens in one process, closes on exec, and refuses links and FIFOs', () => {
    const file = path.join(dir, 'c.lock');
    const fd = tryLockFile(file, 'one');
    expect(fd).not.toBeNull();
    // A lock belongs to an open file description, not to a process.
    expect(tryLockFile(file, 'two')).toBeNull();
    const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    expect(parseInt(flags ?? '0', 8) & 0o2000000).toBe(0o2000000); // O_CLOEXEC
    unlockFile(fd as number);
    const again = tryLockFile(file, 'three');
    expect(again).not.toBeNull();
    unlockFile(again as number);

    const link = path.join(dir, 'link.lock');
    fs.symlinkSync(file, link);
    let linkErr: unknown;
    try {
      tryLockFile(link, '');
    } catch (e) {
      linkErr = e;
    }
    expect(isNativeSysError(linkErr) && linkErr.code).toBe('ELOOP');
    const fifo = path.join(dir, 'fifo.lock');
    execFileSync('mkfifo', [fifo]);
    expect(() => tryLockFile(fifo, '')).toThrow(/not a regular file/);
    expect(() => unlockFile(-1)).toThrow(TypeError);
  });
});
