// Checkpoints under power cuts (issue 15). The checkpointed device holds
// an ext4 whose store file is the checkpoint's store (as a root file
// system would), on a dm-log-writes device, so the log keeps every write,
// flush and FUA in the order the disk saw them: the file system's writes
// and the module's own (old data, log records, metadata). Writers run under
// the checkpoint; then the log is replayed and, at 10 FLUSH/FUA boundaries
// spread over the run (a moment a power cut could leave the disk in), a
// snapshot of that state is rolled back by snapkeep-boot: the device must
// equal its image at the checkpoint byte for byte, except the store file's
// own sectors, which the rollback never writes. Write-ahead is what makes
// this hold: a write that reached the disk before its chunk's old data and
// log record were durable would leave bytes no rollback restores. At every
// third cut the rollback itself is cut short twice first (the process
// stops after a few entries; the cursor persisted in the store says where
// to go on) and resumed.
// vm: disks=128M,48M,48M,32M modules=dm-log-writes,dm-snapshot,ext4 memory=1024 timeout=420 kernels=6.12,debug
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { check, disks, insmod, kmod, log, MiB, R, sh } from '../helpers/kmodlib.mjs';
import { BOOT_CONF, bootTool } from '../helpers/boot-tool.mjs';
import { makeStore } from '../helpers/persist.mjs';

const { applyEntry, isDurabilityPoint, logEntries } = await import(`${R}/test/torture/dm-log-replay.mjs`);
const [logDev, dataDev, replayDev, cowDev] = disks;
const CONF = BOOT_CONF;
const MNT = '/tmp/pc';
const CUTS = 10;
const t0 = performance.now();
insmod();
fs.mkdirSync(MNT, { recursive: true });

function dmCreate(name, table) {
  sh('dmsetup', 'create', '--noudevsync', name, '--table', table);
  sh('dmsetup', 'mknodes', name);
}
const dmRemove = (name) => sh('dmsetup', 'remove', '--noudevsync', name);
const tool = (args, env = {}) => bootTool(args, { env, quiet: true });
/** MD5 of a device with the store's sectors read as zeros (cache dropped first). */
function sumMasked(dev, ranges) {
  sh('blockdev', '--flushbufs', dev);
  const fd = fs.openSync(dev, 'r');
  const hash = createHash('md5');
  const buf = Buffer.alloc(MiB);
  const bytes = Number(sh('blockdev', '--getsize64', dev));
  try {
    for (let off = 0; off < bytes; off += MiB) {
      const n = fs.readSync(fd, buf, 0, MiB, off);
      for (const r of ranges) {
        const a = Math.max(r.start * 512, off);
        const b = Math.min((r.start + r.count) * 512, off + n);
        if (a < b) buf.fill(0, a - off, b - off);
      }
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

// ---- 1. the workload, recorded ----
const dataSectors = sh('blockdev', '--getsz', dataDev);
dmCreate('lw', `0 ${dataSectors} log-writes ${dataDev} ${logDev}`);
const mark = (name) => sh('dmsetup', 'message', 'lw', '0', 'mark', name);
const dev = '/dev/mapper/lw';
sh('mkfs.ext4', '-q', '-F', '-b', '4096', '-E', 'lazy_itable_init=0,lazy_journal_init=0', dev);
sh('mount', dev, MNT);
for (let i = 0; i < 12; i++) sh('dd', 'if=/dev/urandom', `of=${MNT}/base${i}`, 'bs=64k', 'count=2', 'status=none');
sh('dd', 'if=/dev/urandom', `of=${MNT}/big`, 'bs=1M', 'count=4', 'status=none');
const store = await makeStore(`${MNT}/ckpt.store`, 10 * MiB);
sh('sync');
sh('fsfreeze', '-f', MNT);
const ref = sumMasked(dev, store.ranges);
const id = await kmod.checkpointCreate([{ device: dev, identity: 'pc-disk' }], { file: store.file, ranges: store.ranges }, 'power-cut');
mark('active');
sh('fsfreeze', '-u', MNT);
check(spawnSync('rm', ['-f', store.file]).status !== 0 && fs.existsSync(store.file), 'the store file is pinned: it cannot be deleted');
// Two writers with fsync, while the main loop overwrites, deletes and syncs.
const writers = [0, 1].map((w) => spawn('bash', ['-c',
  `for i in $(seq 1 6); do dd if=/dev/urandom of=${MNT}/w${w}-$i bs=64k count=3 conv=fsync status=none; done`], { stdio: 'inherit' }));
for (let round = 0; round < 5; round++) {
  sh('dd', 'if=/dev/urandom', `of=${MNT}/big`, 'bs=64k', `seek=${round * 11}`, 'count=6', 'conv=notrunc,fsync', 'status=none');
  sh('rm', '-f', `${MNT}/base${round * 2}`);
  sh('sync');
}
await Promise.all(writers.map((w) => new Promise((resolve) => w.on('exit', resolve))));
mark('done');
const info = await kmod.checkpointInfo(id);
check(info.state === 'active' && info.entries > 40, `the checkpoint saved ${info.entries} chunks in ${info.records} records`);
await kmod.checkpointCommit(id);
sh('umount', MNT);
dmRemove('lw');
log(`workload recorded: ${info.entries} chunks saved in ${info.records} records (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

// ---- 2. replay; at 10 durability points, roll a snapshot back ----
const t1 = performance.now();
// A first pass finds the points (an entry reads its data through the
// log's descriptor, which lives as long as its pass).
const points = [];
let phase = 0;
let total = 0;
for (const e of logEntries(logDev)) {
  total = e.count;
  if (e.mark === 'active' || e.mark === 'done') phase++;
  else if (phase === 1 && isDurabilityPoint(e)) points.push(e.index);
}
check(phase === 2, 'the marks are in the log');
check(points.length >= CUTS, `${points.length} durability points while the checkpoint was active`);
const chosen = new Set(Array.from({ length: CUTS }, (_, k) => points[Math.floor(((k + 1) * points.length) / CUTS) - 1]));
const replay = fs.openSync(replayDev, 'r+');
const replaySectors = sh('blockdev', '--getsz', replayDev);
fs.writeFileSync(CONF, `checkpoint /dev/mapper/cut identity=pc-disk store=/dev/mapper/cut ranges=${store.ranges.map((r) => `${r.start}+${r.count}`).join(',')}\n`, { mode: 0o600 });
let cuts = 0;
let applied = 0;
for (const e of logEntries(logDev)) {
  applyEntry(e, replay);
  if (!chosen.has(e.index)) continue;
  fs.fsyncSync(replay);
  dmCreate('cut', `0 ${replaySectors} snapshot ${replayDev} ${cowDev} N 8`);
  const where = `cut after log entry ${e.index} of ${total}`;
  try {
    if (cuts % 3 === 2) {
      for (const n of [2, 5]) {
        const c = tool(['rollback'], { SNAPKEEP_BOOT_TEST_CUT_AFTER: String(n) });
        check(c.status === 9 || c.status === 0, `${where}: a rollback cut short (${c.status}: ${c.out})`);
      }
    }
    const r = tool(['rollback']);
    check(r.status === 0, `${where}: rolled back (${r.out})`);
    const n = Number(/rolled back: (\d+) chunk/.exec(r.out)?.[1] ?? 0);
    applied = Math.max(applied, n);
    check(sumMasked('/dev/mapper/cut', store.ranges) === ref, `${where}: the device equals its image at the checkpoint (${n} chunks written back)`);
  } finally {
    dmRemove('cut');
  }
  cuts++;
}
fs.closeSync(replay);
check(cuts === CUTS, `${cuts} cuts rolled back`);
log(`replay and cuts: ${((performance.now() - t1) / 1000).toFixed(1)} s`);
check(applied > 20, `late cuts rolled back many chunks (${applied})`);
log(`${cuts} cuts, each rolled back byte-exact (up to ${applied} chunks written back); total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
