#!/usr/bin/env node
// Concurrency torture of one repository with real processes (worker.mjs):
// two backup loops of different jobs, a prune loop and a verify loop, while
// this script SIGSTOPs random workers for longer than the lock stale limit
// (shortened to seconds through the test-only SNAPKEEP_TEST_LOCK_* variables)
// and kills random ones with SIGKILL (restarted at once). With --machines 2
// the workers act as two machines sharing the repository directory
// (different SNAPKEEP_TEST_MACHINE_ID, and host names through a UTS
// namespace), so a stopped holder's lock really goes stale for the other.
//
// Afterwards, with everything stopped: verify --data passes, every listed
// point restores, and those whose image hash was recorded restore to those
// exact bytes; the verify loop never saw a problem; and a new backup of
// each job works. Exit 0 when all holds, 1 otherwise; a JSON summary on
// stdout (last line).
//
//   node test/torture/torture.mjs [--seconds 60] [--machines 1|2] [--build DIR] [--keep]
//
// --build DIR runs the workers from another checkout's build (to show the
// old code failing). Needs root (unshare for --machines 2) and `npm run build`.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    machines: { type: 'string', default: '1' },
    build: { type: 'string', default: path.resolve(here, '../..') },
    keep: { type: 'boolean', default: false },
    seed: { type: 'string' },
  },
});
const seconds = Number(args.seconds);
const machines = Number(args.machines);
const buildRoot = path.resolve(args.build);
const STALE_MS = 3000;
const TIMING = { SNAPKEEP_TEST_LOCK_STALE_MS: String(STALE_MS), SNAPKEEP_TEST_LOCK_REFRESH_MS: '500', SNAPKEEP_TEST_LOCK_SETTLE_MS: '50' };
Object.assign(process.env, TIMING);

const require = createRequire(import.meta.url);
const { engine } = require(path.join(buildRoot, 'out/js/electron/core/engine/index.js'));

const base = process.env.SNAPKEEP_TEST_SCRATCH ?? os.tmpdir();
const work = fs.mkdtempSync(path.join(base, 'snapkeep-torture-'));
const repoPath = path.join(work, 'repo');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(`[torture ${((Date.now() - t0) / 1000).toFixed(1)}s] ${a.join(' ')}\n`);
const t0 = Date.now();

const JOBS = ['job-a', 'job-b'];
const IMAGE_BYTES = 4 << 20;
function makeImage(file) {
  const fd = fs.openSync(file, 'w');
  for (let off = 0; off < IMAGE_BYTES; off += 64 * 1024) fs.writeSync(fd, off % (512 * 1024) === 0 ? Buffer.alloc(64 * 1024) : randomBytes(64 * 1024), 0, 64 * 1024, off);
  fs.closeSync(fd);
}

// Which worker acts as which machine: with two, each backup job on its own
// machine, prune beside job A and verify beside job B.
const ROLES = [
  { name: 'backup-a', role: 'backup', job: 'job-a', machine: 1 },
  { name: 'backup-b', role: 'backup', job: 'job-b', machine: 2 },
  { name: 'prune', role: 'prune', machine: 1 },
  { name: 'verify', role: 'verify', machine: 2 },
];
const machineEnv = (m) => (machines === 2 ? { SNAPKEEP_TEST_MACHINE_ID: `${m}`.repeat(32), SNAPKEEP_TEST_BOOT_ID: `0000000${m}-0000-4000-8000-000000000000` } : {});

const workers = new Map();
const counts = { kills: 0, stops: 0, stopsOfHolders: 0 };

function spawnWorker(w) {
  const argv = [path.join(here, 'worker.mjs'), buildRoot, repoPath, work, w.role, ...(w.job ? [w.job] : [])];
  const env = { ...process.env, ...TIMING, ...machineEnv(w.machine) };
  // Two machines: their own host name too (old lock files carried only that).
  const child =
    machines === 2
      ? spawn('unshare', ['--uts', 'sh', '-c', `hostname torture-m${w.machine} && exec "$0" "$@"`, process.execPath, ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d.toString()).slice(-2000)));
  const rec = { w, child, stopped: false, err };
  child.on('exit', (code, sig) => {
    if (workers.get(w.name)?.child === child && !stopping && sig !== 'SIGKILL') log(`${w.name} exited ${code ?? sig}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  });
  workers.set(w.name, rec);
  return rec;
}

/** Whether a worker holds a lock right now (its pid in a lock file). */
function holdsLock(pid) {
  try {
    return fs.readdirSync(path.join(repoPath, 'locks')).some((n) => {
      try {
        return JSON.parse(fs.readFileSync(path.join(repoPath, 'locks', n), 'utf8')).pid === pid;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

let stopping = false;
async function chaos(deadline) {
  while (Date.now() < deadline) {
    await sleep(300 + Math.random() * 1200);
    const list = [...workers.values()].filter((r) => !r.stopped);
    const dice = Math.random();
    // Stops go to lock holders when there are any: that is where it hurts.
    const holders = dice < 0.35 ? list.filter((x) => holdsLock(x.child.pid)) : [];
    const pool = holders.length ? holders : list;
    const r = pool[Math.floor(Math.random() * pool.length)];
    if (!r) continue;
    if (dice < 0.35) {
      // Stop it for longer than the stale limit (suspend, SIGSTOP, a hung NAS).
      const pid = r.child.pid;
      const holder = holdsLock(pid);
      r.stopped = true;
      r.child.kill('SIGSTOP');
      counts.stops++;
      if (holder) counts.stopsOfHolders++;
      const ms = STALE_MS + 500 + Math.random() * 2000;
      setTimeout(() => {
        r.child.kill('SIGCONT');
        r.stopped = false;
      }, ms);
    } else if (dice < 0.55) {
      r.child.kill('SIGKILL');
      counts.kills++;
      await sleep(100 + Math.random() * 300);
      spawnWorker(r.w);
    }
  }
}

function events() {
  const f = path.join(work, 'events.jsonl');
  return fs.existsSync(f)
    ? fs
        .readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((l) => {
          try {
            return [JSON.parse(l)];
          } catch {
            return []; // a line cut by SIGKILL
          }
        })
    : [];
}

function ledger(job) {
  const f = path.join(work, `ledger-${job}.jsonl`);
  const out = new Map();
  if (!fs.existsSync(f)) return out;
  for (const l of fs.readFileSync(f, 'utf8').split('\n').filter(Boolean))
    try {
      const e = JSON.parse(l);
      out.set(e.pointId, e.sha256);
    } catch {
      /* cut by SIGKILL */
    }
  return out;
}

const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

async function check() {
  const failures = [];
  const h = await engine.open({ path: repoPath });
  try {
    const v = await h.verify({ data: true });
    if (!v.ok) failures.push(`verify --data: ${v.problems.length} problem(s): ${JSON.stringify(v.problems.slice(0, 3))}`);
    const points = await h.listPoints();
    const hashes = new Map([...ledger('job-a'), ...ledger('job-b')]);
    let compared = 0;
    for (const p of points) {
      const out = path.join(work, 'restore.img');
      fs.rmSync(out, { force: true });
      try {
        await h.restore({ pointId: p.id, source: p.devices[0].source, target: out, skipIdentical: false });
        const want = hashes.get(p.id);
        if (want !== undefined) {
          compared++;
          if (sha256(out) !== want) failures.push(`point ${p.id} restores to other bytes than were backed up`);
        }
      } catch (e) {
        failures.push(`point ${p.id} does not restore: ${e.code} ${e.message}`);
      }
    }
    for (const job of JOBS) {
      const img = path.join(work, `${job}.img`);
      try {
        const p = await h.backup({ sources: [{ source: img, readFrom: img }], jobId: job, compressionLevel: 1 });
        const out = path.join(work, 'restore.img');
        fs.rmSync(out, { force: true });
        await h.restore({ pointId: p.id, source: img, target: out, skipIdentical: false });
        if (sha256(out) !== sha256(img)) failures.push(`a new backup of ${job} restores to other bytes`);
      } catch (e) {
        failures.push(`a new backup of ${job} fails: ${e.code} ${e.message}`);
      }
    }
    return { failures, points: points.length, compared };
  } finally {
    await h.close();
  }
}

async function main() {
  const repo = await engine.init({ path: repoPath });
  await repo.close();
  for (const j of JOBS) makeImage(path.join(work, `${j}.img`));
  log(`repository ${repoPath}, ${machines} machine(s), ${seconds} s, workers from ${buildRoot}`);
  for (const w of ROLES) spawnWorker(w);
  await chaos(Date.now() + seconds * 1000);
  stopping = true;
  for (const r of workers.values()) {
    r.child.kill('SIGCONT');
    r.child.kill('SIGKILL');
  }
  await sleep(500);
  // Locks of killed "remote" workers age out by the stale limit.
  await sleep(STALE_MS + 500);
  const ev = events();
  const count = (op, ok) => ev.filter((e) => e.op === op && e.ok === ok).length;
  const lockLost = ev.filter((e) => e.reason === 'lock-lost').length;
  const verifyProblems = fs.existsSync(path.join(work, 'verify-problems.jsonl')) ? fs.readFileSync(path.join(work, 'verify-problems.jsonl'), 'utf8').split('\n').filter(Boolean) : [];
  const result = await check();
  const summary = {
    machines,
    seconds,
    backups: { ok: count('backup', true), failed: count('backup', false) },
    prunes: { ok: count('prune', true), failed: count('prune', false), removedPoints: ev.filter((e) => e.op === 'prune' && e.ok).reduce((n, e) => n + e.removedPoints, 0) },
    verifies: { ok: count('verify', true), failed: count('verify', false), problems: verifyProblems.length },
    lockLost,
    ...counts,
    points: result.points,
    comparedWithRecordedHash: result.compared,
    failures: [...result.failures, ...verifyProblems.slice(0, 3).map((l) => `the verify loop found problems: ${l.slice(0, 300)}`)],
    workDir: args.keep ? work : undefined,
  };
  // The run must have done something worth checking.
  for (const j of JOBS) if (ev.filter((e) => e.op === 'backup' && e.ok && e.job === j).length < 2) summary.failures.push(`too few backups of ${j} succeeded to judge`);
  if (summary.prunes.removedPoints < 1) summary.failures.push('no prune removed a point: nothing to judge');
  if (counts.stopsOfHolders < 1) summary.failures.push('no lock holder was stopped past the stale limit: nothing to judge');
  process.stdout.write(JSON.stringify(summary) + '\n');
  if (!args.keep) fs.rmSync(work, { recursive: true, force: true });
  process.exit(summary.failures.length ? 1 : 0);
}

process.on('SIGINT', () => {
  for (const r of workers.values()) r.child.kill('SIGKILL');
  process.exit(130);
});
main().catch((e) => {
  for (const r of workers.values()) r.child.kill('SIGKILL');
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(2);
});
