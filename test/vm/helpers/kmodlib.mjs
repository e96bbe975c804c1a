// Shared by the kernel module tests (test/vm/tests/1xx-kmod-*.mjs), in the
// guest: the module's typed bindings (out/js/native), shell helpers, device
// checksums and the module's log lines. Not compiled (only *.c are).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

export const R = process.env.SNAPKEEP_REPO;
export const KO = process.env.SNAPKEEP_KO;
export const HELPERS = process.env.SNAPKEEP_HELPERS;
export const disks = (process.env.SNAPKEEP_DISKS ?? '').split(' ').filter(Boolean);

const require = createRequire(import.meta.url);
/** The addon's typed API (native/kmod.ts, built into out/js). */
export const native = require(`${R}/out/js/native/index.js`);
export const kmod = native.kmod;

export const MiB = 1 << 20;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs a command; its stdout, trimmed. Throws with stderr on failure. */
export function sh(cmd, ...args) {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MiB }).trim();
}

/** Like sh() through bash -c, for pipes. */
export function bash(script) {
  return execFileSync('bash', ['-o', 'pipefail', '-c', script], { encoding: 'utf8', maxBuffer: 64 * MiB }).trim();
}

export function check(cond, msg) {
  if (!cond) {
    console.error(`FAIL: ${msg}`);
    process.exit(1);
  }
}

export function log(msg) {
  const t = (performance.now() / 1000).toFixed(1).padStart(6);
  console.log(`[${t}s] ${msg}`);
}

/** Loads snapkeep.ko with module parameters. */
export function insmod(params = {}) {
  sh('insmod', KO, ...Object.entries(params).map(([k, v]) => `${k}=${v}`));
}

export function rmmod() {
  sh('rmmod', 'snapkeep');
}

/** The errno name an async call rejects with (or null when it resolves). */
export async function errnoOf(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return e.code ?? String(e);
  }
}

/** Sectors of a block device. */
export function sectors(dev) {
  return Number(sh('blockdev', '--getsz', dev));
}

/**
 * MD5 of a device (or of `bytes` of it from `offset`): a fingerprint to compare
 * images with, not a security measure (it is 3x faster than sha256 under
 * TCG). The device's page cache is dropped first, so pages cached before
 * file systems wrote around it cannot be served stale.
 */
export function devsum(dev, bytes = Infinity, offset = 0) {
  sh('blockdev', '--flushbufs', dev);
  const fd = openSync(dev, 'r');
  const hash = createHash('md5');
  const buf = Buffer.alloc(4 * MiB);
  let done = 0;
  try {
    while (done < bytes) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, bytes - done), offset + done);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The whole snapshot storage device as one range. */
export function wholeDevice(dev) {
  return [{ start: 0, count: sectors(dev) }];
}

/** Runs a command in the background, output to the test's; `done` resolves to its exit code. */
export function spawnLogged(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const done = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));
  return { child, done };
}

/** Runs a helper from test/vm/helpers in the background; resolves to its exit code. */
export function startHelper(name, args) {
  return spawnLogged(`${HELPERS}/${name}`, args);
}

/**
 * Runs a command in the background and fails the test when it does not
 * exit 0 within `seconds` (a task stuck in the kernel cannot be killed:
 * this reports the hang instead of waiting for the test's timeout).
 */
export async function finishes(what, cmd, args, seconds = 90) {
  const started = Date.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const done = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  const timer = new Promise((resolve) => setTimeout(() => resolve('hung'), seconds * 1000).unref());
  const code = await Promise.race([done, timer]);
  if (code === 'hung') {
    // Where it hangs, for the report: the blocked tasks' stacks.
    bash('echo w > /proc/sysrq-trigger');
    check(false, `${what} did not finish within ${seconds} s`);
  }
  check(code === 0, `${what} exited with ${code}`);
  const took = (Date.now() - started) / 1000;
  log(`${what}: ${took.toFixed(1)} s`);
  return took;
}

/**
 * Resolves to the exit code of a command started with spawnLogged(), or
 * fails the test when it has not exited within `seconds`, showing where
 * it hangs: the blocked tasks' stacks (kernel log) and the writes the
 * module holds (/sys/kernel/snapkeep/inflight).
 */
export async function exitsWithin(what, done, seconds) {
  const timer = new Promise((resolve) => setTimeout(() => resolve('hung'), seconds * 1000).unref());
  const code = await Promise.race([done, timer]);
  if (code === 'hung') {
    bash('echo w > /proc/sysrq-trigger');
    log(`where the writes are:\n${bash('cat /sys/kernel/snapkeep/inflight')}`);
    check(false, `${what} did not finish within ${seconds} s`);
  }
  return code;
}

export function runHelper(name, ...args) {
  return sh(`${HELPERS}/${name}`, ...args);
}

/** Kernel log lines of the module so far. */
export function moduleLog() {
  return sh('dmesg').split('\n').filter((l) => l.includes('snapkeep'));
}

/** Kernel name (vda) of a /dev path. */
export function kname(dev) {
  return dev.replace(/^\/dev\//, '');
}
