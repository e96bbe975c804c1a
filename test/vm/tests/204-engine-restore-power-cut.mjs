// A restore cut by a power loss resumes to the right bytes. The restore
// target and the file system holding the restore's progress record sit on
// one dm-log-writes device (two linear slices of it), so the log keeps
// every write, flush and FUA of both in the order the disk saw them. The
// log is then replayed and, at every FLUSH/FUA boundary (a moment a power
// cut could leave the disk in: nothing written after it survives), the
// restore is run again on a snapshot of that state, with the progress
// record it finds there: the result must be the point's bytes exactly. A
// record that named a chunk before that chunk was durable on the target
// (the checkpoint must fdatasync the target before it writes the record)
// would make the resumed restore skip a chunk the cut lost: other bytes.
// kill -9 (test/unit/core/engine/restore-resume.test.ts) cannot show this:
// the page cache survives a killed process.
// vm: disks=192M,64M,64M,64M modules=dm-log-writes,dm-snapshot,ext4 memory=1024 timeout=900 kernels=6.12
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
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const t0 = Date.now();
const log = (m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
function fail(m) {
  console.error(`FAIL: ${m}`);
  process.exit(1);
}

const MiB = 1 << 20;
// 8 MiB with a checkpoint every 1 MiB: 8 records, each a few flushes (16 and
// 2 gave the same cuts at twice the bytes restored and hashed per cut).
const IMAGE = 8 * MiB;
const EVERY = 1 * MiB;
const TARGET_SECTORS = IMAGE / 512;
// The restore target's identity includes its device number (restore-resume.ts):
// the slice is made with the same minor in the workload and at every cut, as
// the same disk would have after a reboot.
const TARGET_MINOR = '200';

const dmMajor = () => /^\s*(\d+) device-mapper$/m.exec(fs.readFileSync('/proc/devices', 'utf8'))?.[1] ?? fail('no device-mapper in /proc/devices');
/** A device-mapper device and its /dev/mapper node (no udev in the guest). */
function dmCreate(name, table, minor) {
  sh('dmsetup', 'create', '--noudevsync', ...(minor ? ['--major', dmMajor(), '--minor', minor] : []), name, '--table', table);
  sh('dmsetup', 'mknodes', name);
}
const dmRemove = (name) => sh('dmsetup', 'remove', '--noudevsync', name);
/** The two slices of `under`: the restore target, then the state file system. */
function slices(under, prefix) {
  const total = Number(sh('blockdev', '--getsz', under));
  dmCreate(`${prefix}tgt`, `0 ${TARGET_SECTORS} linear ${under} 0`, TARGET_MINOR);
  dmCreate(`${prefix}st`, `0 ${total - TARGET_SECTORS} linear ${under} ${TARGET_SECTORS}`);
  return { target: `/dev/mapper/${prefix}tgt`, state: `/dev/mapper/${prefix}st` };
}
const sha256 = (file, length) => {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(MiB);
  for (let off = 0; off < length; off += MiB) h.update(buf.subarray(0, fs.readSync(fd, buf, 0, Math.min(MiB, length - off), off)));
  fs.closeSync(fd);
  return h.digest('hex');
};

// --- 0. a point to restore (repository on the guest's tmpfs) ------------------
const img = '/tmp/source.img';
const fd0 = fs.openSync(img, 'w');
// Zero, random and repeated stretches: zero chunks are written too (a device is not a fresh file).
for (let off = 0; off < IMAGE; off += 256 * 1024)
  fs.writeSync(fd0, off % (2 * MiB) === 0 ? Buffer.alloc(256 * 1024) : randomBytes(256 * 1024), 0, 256 * 1024, off);
fs.closeSync(fd0);
const want = sha256(img, IMAGE);
const repoPath = '/tmp/repo';
const h0 = await engine.init({ path: repoPath, chunkSize: 256 * 1024 });
const pointId = (await h0.backup({ sources: [{ source: img, readFrom: img }], jobId: 'job', compressionLevel: 1 })).id;
await h0.close();
const repo = await engine.open({ path: repoPath });

// --- 1. the restore, recorded ---------------------------------------------
const dataSectors = sh('blockdev', '--getsz', dataDev);
dmCreate('lw', `0 ${dataSectors} log-writes ${dataDev} ${logDev}`);
const mark = (name) => sh('dmsetup', 'message', 'lw', '0', 'mark', name);
const live = slices('/dev/mapper/lw', 'live');
// No lazy init: its background writes would land anywhere in the log.
sh('mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', live.state);
const stateMnt = '/tmp/state';
fs.mkdirSync(stateMnt, { recursive: true });
sh('mount', live.state, stateMnt);
fs.mkdirSync(path.join(stateMnt, 'restores'));
sh('sync');
mark('ready');
const first = await repo.restore({ pointId, source: img, target: live.target, skipIdentical: false, resumeDir: path.join(stateMnt, 'restores'), resumeEveryBytes: EVERY });
mark('restored');
if (first.bytesWritten !== IMAGE) fail(`the recorded restore wrote ${first.bytesWritten} bytes, not ${IMAGE}`);
if (sha256(live.target, IMAGE) !== want) fail('the recorded restore itself is wrong');
sh('umount', stateMnt);
dmRemove('livest');
dmRemove('livetgt');
dmRemove('lw');
log(`restore recorded: ${IMAGE / MiB} MiB, a checkpoint every ${EVERY / MiB} MiB`);

// --- 2. replay; at every durability point, resume on a snapshot of it ------
const replay = fs.openSync(replayDev, 'r+');
const replaySectors = sh('blockdev', '--getsz', replayDev);
let cuts = 0;
let resumedCuts = 0;
let partialCuts = 0;
let maxResumed = 0;
let ready = false;
const spent = { dm: 0, mount: 0, restore: 0 };
const timed = async (k, fn) => {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    spent[k] += Date.now() - t;
  }
};

async function resumeAtCut(e) {
  fs.fsyncSync(replay);
  const where = `cut after log entry ${e.index} of ${e.count}`;
  await timed('dm', () => dmCreate('cut', `0 ${replaySectors} snapshot ${replayDev} ${cowDev} N 8`));
  const s = slices('/dev/mapper/cut', 'cut');
  try {
    await timed('mount', () => sh('mount', s.state, stateMnt));
    try {
      const r = await timed('restore', () =>
        repo.restore({ pointId, source: img, target: s.target, skipIdentical: false, resumeDir: path.join(stateMnt, 'restores'), resumeEveryBytes: EVERY }),
      );
      if (r.resumeIgnored) fail(`${where}: the progress record was not used: ${r.resumeIgnored}`);
      const resumed = r.bytesResumed ?? 0;
      if (resumed + r.bytesWritten + r.bytesSkipped !== IMAGE) fail(`${where}: resumed ${resumed} + written ${r.bytesWritten} + skipped ${r.bytesSkipped} is not ${IMAGE}`);
      if (sha256(s.target, IMAGE) !== want) fail(`${where}: resuming from the record found there (${resumed} bytes resumed) gives other bytes than the point`);
      if (resumed > 0) resumedCuts++;
      if (resumed > 0 && resumed < IMAGE) partialCuts++;
      maxResumed = Math.max(maxResumed, resumed);
    } finally {
      await timed('mount', () => sh('umount', stateMnt));
    }
  } finally {
    await timed('dm', () => {
      dmRemove('cutst');
      dmRemove('cuttgt');
      dmRemove('cut');
    });
  }
  cuts++;
}

for (const e of logEntries(logDev)) {
  applyEntry(e, replay);
  if (e.mark !== undefined) {
    if (e.mark === 'ready') ready = true;
    continue;
  }
  if (!ready || !isDurabilityPoint(e)) continue;
  await resumeAtCut(e);
  if (cuts % 25 === 0) log(`${cuts} cuts resumed (log entry ${e.index} of ${e.count}); ms spent ${JSON.stringify(spent)}`);
}
fs.closeSync(replay);
await repo.close();
log(`${cuts} cuts: ${resumedCuts} resumed from a record (${partialCuts} part-way, at most ${maxResumed / MiB} MiB), every one byte-exact; ms spent ${JSON.stringify(spent)}`);
// The test proves something only if records were found and used at many cuts.
if (cuts < 20) fail(`only ${cuts} cuts: the log did not record the restore`);
if (partialCuts < 5) fail(`only ${partialCuts} cuts resumed part-way: the checkpoints did not reach the disk`);
console.log('PASS');
