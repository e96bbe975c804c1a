// Power loss: the repository's ext4 sits on a dm-log-writes device, which
// records every write, flush and FUA in order. The workload inits a
// repository, makes backups (full, incrementals from recorded changes),
// prunes (with compaction and index rewrite) and backs up again. Then the
// log is replayed onto a fresh disk and, at every FLUSH/FUA boundary after
// the repository was created (the moments a power cut could leave the disk
// in: writes not yet flushed are dropped), a snapshot of the replay is
// mounted (journal recovery as after a real cut) and checked: the
// repository opens, verify --data finds nothing wrong (every chunk of every
// listed point is there and hashes right), and every point it lists is one
// the workload wrote and restores to exactly the bytes that were backed up.
// Manifests and chunk lists are immutable and authenticated, so a point
// restored byte-exact at one cut restores the same at every later cut where
// verify --data is clean: each point is restored once, the first time a cut
// lists it. Many cuts leave the repository exactly as an earlier cut did
// (a journal commit of something else, a flush that added nothing): the
// checks read only the repository's files, so a cut whose files (names,
// sizes, times and bytes) equal an already checked cut's has the same
// outcome and is counted without checking it again; a flush with no write
// since the last checked cut leaves the very same disk and is counted
// without mounting it.
// vm: disks=768M,160M,160M,96M modules=dm-log-writes,dm-snapshot,ext4 memory=1536 timeout=1500 kernels=6.12
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const repoRoot = process.env.SNAPKEEP_REPO;
const { applyEntry, isDurabilityPoint, logEntries } = await import(`${repoRoot}/test/torture/dm-log-replay.mjs`);
const require = createRequire(import.meta.url);
const { engine } = require(`${repoRoot}/out/js/electron/core/engine/index.js`);

const [logDev, dataDev, replayDev, cowDev] = process.env.SNAPKEEP_DISKS.split(' ');
const results = process.env.SNAPKEEP_RESULTS;
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const sha256 = (f) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const t0 = Date.now();
const log = (m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
function fail(m) {
  console.error(`FAIL: ${m}`);
  process.exit(1);
}

// --- 1. the workload, recorded -------------------------------------------
const sectors = sh('blockdev', '--getsz', dataDev);
/** A device-mapper device and its /dev/mapper node (no udev in the guest). */
function dmCreate(name, table) {
  sh('dmsetup', 'create', '--noudevsync', name, '--table', table);
  sh('dmsetup', 'mknodes', name);
}
dmCreate('lw', `0 ${sectors} log-writes ${dataDev} ${logDev}`);
const lw = '/dev/mapper/lw';
const mark = (name) => sh('dmsetup', 'message', 'lw', '0', 'mark', name);
// No lazy init: its background writes would land anywhere in the log.
sh('mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', lw);
mark('mkfs');
const mnt = '/tmp/data';
fs.mkdirSync(mnt, { recursive: true });
sh('mount', lw, mnt);
const repoPath = path.join(mnt, 'repo');

const IMAGE = 2 << 20;
const img = '/tmp/source.img';
const fd0 = fs.openSync(img, 'w');
for (let off = 0; off < IMAGE; off += 64 * 1024) fs.writeSync(fd0, off % (1 << 20) === 0 ? Buffer.alloc(64 * 1024) : randomBytes(64 * 1024), 0, 64 * 1024, off);
fs.closeSync(fd0);
/** Point id -> the image's sha256 when it was backed up (kept off the logged disk). */
const expected = new Map();
const generation = '5f3c0000-0000-4000-8000-000000000001';
let number = 1;
let ranges = [];
function change(n) {
  const fd = fs.openSync(img, 'r+');
  for (let i = 0; i < n; i++) {
    const off = Math.floor(Math.random() * (IMAGE / 65536)) * 65536;
    fs.writeSync(fd, randomBytes(65536), 0, 65536, off);
    ranges.push([off, 65536]);
  }
  fs.closeSync(fd);
}
async function backup(h, parent) {
  const src = { source: img, readFrom: img, cbt: { generation, number: number + 1, blockSize: 65536 } };
  if (parent) src.changes = { generation, sinceNumber: number, ranges };
  const sha = sha256(img);
  const p = await h.backup({ sources: [src], jobId: 'job', compressionLevel: 1, ...(parent && { parentId: parent }) });
  expected.set(p.id, sha);
  number++;
  ranges = [];
  return p.id;
}

const h = await engine.init({ path: repoPath });
mark('init');
let last = await backup(h);
mark('backup-1');
// Two incrementals: a third took the same paths again and cost a third more cuts (CI time).
for (let i = 2; i <= 3; i++) {
  change(6);
  last = await backup(h, last);
  mark(`backup-${i}`);
}
// A day later by prune's clock: its age margins let everything go, so the
// cut points cover forgetting, compaction, the index rewrite and sweeping.
const report = await h.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false, now: new Date(Date.now() + 25 * 3600_000) });
mark('prune');
log(`prune removed ${report.removedPoints.length} point(s), ${report.removedPacks} pack(s)`);
if (report.removedPoints.length !== 2 || report.removedPacks === 0) fail(`the prune did not do its work: ${JSON.stringify(report)}`);
change(6);
last = await backup(h, last);
mark('backup-4');
await h.close();
sh('umount', mnt);
sh('dmsetup', 'remove', '--noudevsync', 'lw');
fs.writeFileSync(path.join(results, 'expected.json'), JSON.stringify([...expected]));
log(`workload recorded: ${expected.size} points`);

// --- 2. replay and check at every durability point ------------------------
// The checks run "after the reboot" a power cut means: another boot, booted
// now. Locks the workload left on the disk are then from an earlier boot of
// this machine, stale by the lock rules (docs/repository-format.md, Locks).
// (Two minutes later: a lock refreshed within a minute of a boot is not
// taken for one of an earlier boot, lock-identity.ts.)
process.env.SNAPKEEP_TEST_BOOT_ID = '0badb007-0000-4000-8000-000000000000';
process.env.SNAPKEEP_TEST_BOOT_TIME = String(Date.now() + 120_000);
const spent = { dm: 0, mount: 0, umount: 0, digest: 0, open: 0, verify: 0, restore: 0 };
const timed = async (k, fn) => {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    spent[k] += Date.now() - t;
  }
};
const target = fs.openSync(replayDev, 'r+');
const snapMnt = '/tmp/snap';
fs.mkdirSync(snapMnt, { recursive: true });
const out = '/tmp/restored.img';
let checked = 0;
let afterInit = false;
const seenPoints = new Set();
const marks = [];
/** Digest of the repository's files at a cut -> the cut that checked it. */
const checkedStates = new Map();
let sameAsEarlier = 0;

/** Names, types, sizes, modification times and contents of every file under `dir`. */
function treeDigest(dir) {
  const h = createHash('sha256');
  const walk = (rel) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name);
      const st = fs.lstatSync(path.join(dir, r));
      h.update(`${r}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0`);
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) h.update(fs.readFileSync(path.join(dir, r)));
    }
  };
  if (fs.existsSync(dir)) walk('');
  return h.digest('hex');
}

async function checkCut(e) {
  fs.fsyncSync(target);
  await timed('dm', () => dmCreate('cut', `0 ${sectors} snapshot ${replayDev} ${cowDev} N 8`));
  try {
    await timed('mount', () => sh('mount', '/dev/mapper/cut', snapMnt));
    try {
      const where = `cut after log entry ${e.index} of ${e.count} (last mark ${marks.at(-1)})`;
      const state = await timed('digest', () => treeDigest(path.join(snapMnt, 'repo')));
      if (checkedStates.has(state)) {
        sameAsEarlier++;
        checked++;
        return;
      }
      checkedStates.set(state, where);
      let repo;
      try {
        repo = await timed('open', () => engine.open({ path: path.join(snapMnt, 'repo') }));
      } catch (x) {
        fail(`${where}: the repository does not open: ${x.code} ${x.message}`);
      }
      try {
        await checkRepo(repo, where);
      } catch (x) {
        fail(`${where}: ${x.code ?? ''} ${x.message}`);
      } finally {
        await repo.close();
      }
    } finally {
      await timed('umount', () => sh('umount', snapMnt));
    }
  } finally {
    await timed('dm', () => sh('dmsetup', 'remove', '--noudevsync', 'cut'));
  }
  checked++;
}

async function checkRepo(repo, where) {
  const v = await timed('verify', () => repo.verify({ data: true }));
  if (!v.ok) fail(`${where}: verify --data: ${JSON.stringify(v.problems.slice(0, 3))}`);
  for (const p of await repo.listPoints()) {
    const want = expected.get(p.id);
    if (want === undefined) fail(`${where}: point ${p.id} was never written by the workload`);
    if (seenPoints.has(p.id)) continue;
    fs.rmSync(out, { force: true });
    await timed('restore', () => repo.restore({ pointId: p.id, source: img, target: out, skipIdentical: false }));
    if (sha256(out) !== want) fail(`${where}: point ${p.id} restores to other bytes than were backed up`);
    seenPoints.add(p.id);
  }
}

let durability = 0;
let writtenSinceCheck = true;
let sameDisk = 0;
for (const e of logEntries(logDev)) {
  applyEntry(e, target);
  if (e.mark === undefined && e.nrSectors > 0) writtenSinceCheck = true;
  if (e.mark !== undefined) {
    marks.push(e.mark);
    if (e.mark === 'init') afterInit = true;
    continue;
  }
  if (!isDurabilityPoint(e)) continue;
  durability++;
  if (afterInit && !writtenSinceCheck) {
    sameDisk++;
    checked++;
  } else if (afterInit) {
    writtenSinceCheck = false;
    await checkCut(e);
    if (checked % 25 === 0) log(`${checked} cuts checked (log entry ${e.index} of ${e.count}, after mark ${marks.at(-1)}); ms spent ${JSON.stringify(spent)}`);
  }
}
fs.closeSync(target);
log(`${durability} flush/FUA points in the log, ${checked} cuts after init checked (${sameDisk} with no write since the cut before, ${sameAsEarlier} more with the repository's files as an earlier cut left them); marks ${marks.join(', ')}`);
if (checked < 20) fail(`only ${checked} cuts: the log did not record the workload`);
if (checkedStates.size < 20) fail(`only ${checkedStates.size} different repository states at ${checked} cuts: the log did not record the workload`);
// The final state must hold every point the prune kept and the last one.
const finalPoints = [...expected.keys()].filter((id) => !report.removedPoints.includes(id));
for (const id of finalPoints) if (!seenPoints.has(id)) fail(`point ${id} was never seen restoring at any cut`);
console.log(`ok: ${checked} power cuts, each: repository opens, verify --data clean, every listed point restores byte-identical`);
