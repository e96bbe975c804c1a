// The kernel module's benchmark, run in the guest by test/bench/kmod.mjs
// (npm run bench:kmod) through the VM harness. Writes bench.json into
// $SNAPKEEP_RESULTS; the host computes the ratios and prints the table.
//
// One boot, the same disks for every figure, O_DIRECT at queue depth 1:
// sequential 1 MiB writes over region A (1 GiB), 5000 random 4 KiB writes
// in region B (the rest of the disk after a 16 MiB gap that keeps the
// read-ahead of A out of it), each write in its own 64 KiB slot (one
// chunk: under a snapshot every one is a first write), sequential reads of
// each region.
//
// TCG and a host shared with other VMs make every figure drift by tens of
// percent within a boot, so the benchmark runs in ROUNDS rounds, and each
// round measures everything once, in this order:
//
//   none      module not loaded (it hooks submit_bio_noacct from load to
//             unload): writes of A and B (each twice), reads of A and B
//   filter    the disk attached and tracked, no snapshot
//   snap      a new snapshot (all chunks new): first writes of A, of B
//             (copies settled in between), image reads of A (stored in
//             order) and B (a third of its chunks stored, scattered),
//             rewrites of A and B (each twice); destroyed
//   ckpt      a new checkpoint (write-ahead: each first write waits for
//             the old data and its log page to be durable): first writes
//             of A, of B, rewrites of A and B (each twice); committed
//   dm        the same with the kernel's dm-snapshot (a new one)
//
// and a last `none` closes the last round. The host divides each figure
// by the geometric mean of the `none` figures around its round (drift
// cancels to first order) and reports the median and the spread of these
// per-round ratios. Each timed run lasts about a second or more (a 1 GiB
// first write at ~1 GB/s, 5000 random writes at ~1000-6000 IOPS).
// A host thread per vCPU, as the copies run beside the writer on real
// hardware; the module is loaded and unloaded only while no I/O runs, so
// the TCG bug with live code patching (lib/test-file.mjs) does not apply.
// vm: disks=2G,2G timeout=1200 smp=2 tcg=multi memory=1024 modules=dm-snapshot
import { writeFileSync } from 'node:fs';

import { disks, insmod, kmod, log, rmmod, runHelper, sh, sleep, wholeDevice } from '../../vm/helpers/kmodlib.mjs';

const [orig, store] = disks;
const MiB = 1 << 20;
const GiB = 1 << 30;
const ROUNDS = 7;
const A = { off: 0, bytes: GiB };
const B = { off: GiB + 16 * MiB, bytes: GiB - 16 * MiB, count: 5000, stride: 64 * 1024 };

const bench = (...args) => JSON.parse(runHelper('blkbench', ...args.map(String)));
/** Sequential 1 MiB writes over A, `passes` times, as one figure. */
function seqWrite(dev, passes = 1) {
  const r = combine(Array.from({ length: passes }, () => bench('write', dev, A.off, A.bytes, MiB)));
  return { ...r, iops: r.bytes / MiB / r.seconds };
}
/** Runs as one figure: their bytes over their time, the median of their p50. */
function combine(runs) {
  const bytes = runs.reduce((s, r) => s + r.bytes, 0);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const p50 = runs.map((r) => r.p50_us).sort((a, b) => a - b);
  return { bytes, seconds, mbps: bytes / seconds / MiB, p50_us: p50[p50.length >> 1] };
}
/**
 * 4 KiB writes, one per 64 KiB slot of B, slots in an order given by
 * `seed`, `passes` times over the same slots (first writes: once).
 */
function randWrite(dev, seed, passes = 1) {
  const r = combine(Array.from({ length: passes }, () => bench('randwrite', dev, B.off, B.bytes, 4096, B.count, seed, B.stride)));
  return { ...r, iops: r.bytes / 4096 / r.seconds };
}
const readA = (dev) => bench('read', dev, A.off, A.bytes, MiB);
const readB = (dev) => bench('read', dev, B.off, B.bytes, MiB);

const rounds = [];
let current;
function record(name, r) {
  current[name] = { mbps: r.mbps, iops: r.iops, seconds: r.seconds, p50_us: r.p50_us };
  log(`${name.padEnd(26)} ${r.mbps.toFixed(1).padStart(8)} MB/s ${r.iops.toFixed(0).padStart(7)} IOPS ${r.seconds.toFixed(2).padStart(6)} s ${r.p50_us.toFixed(0).padStart(6)} us p50`);
}

/** Waits until the copies in flight are stored (their I/O would skew the next figure). */
async function settle(id) {
  let last = -1;
  for (;;) {
    const copied = (await kmod.info(id)).devices[0].chunksCopied;
    if (copied === last) return copied;
    last = copied;
    await sleep(300);
  }
}

function none(seed) {
  record('none.seq_write', seqWrite(orig, 2));
  record('none.rand_write', randWrite(orig, seed, 2));
}

async function round(seed) {
  none(seed);
  record('raw.seq_read', readA(orig));
  record('raw.read_b', readB(orig));

  insmod();
  await kmod.attach(orig);
  record('filter.seq_write', seqWrite(orig, 2));
  record('filter.rand_write', randWrite(orig, seed, 2));

  const id = await kmod.create([orig]);
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  const image = await kmod.imagePath(id, orig);
  const chunk = (await kmod.info(id)).devices[0].chunkSize;
  if (chunk !== B.stride) throw new Error(`chunk size ${chunk}, the benchmark assumes ${B.stride}`);
  record('snap.first_seq_write', seqWrite(orig));
  await settle(id);
  record('snap.first_rand_write', randWrite(orig, seed));
  const copied = await settle(id);
  // A's, B's, and what the read-ahead copied past the end of A.
  const expected = A.bytes / chunk + B.count;
  if (copied < expected || copied > expected + 256) throw new Error(`${copied} chunks copied, expected ${expected}`);
  record('snap.image_seq_read', readA(image));
  record('snap.image_read_fragmented', readB(image));
  record('snap.rewrite_seq_write', seqWrite(orig, 2));
  record('snap.rewrite_rand_write', randWrite(orig, seed, 2));
  const info = await kmod.info(id);
  if (info.corrupted) throw new Error('the snapshot is corrupted');
  current.snap_storage_used_mib = info.storageUsedSectors / 2048;
  await kmod.destroy(id);
  await kmod.detach(orig);

  // A checkpoint (issue 15): the first write to each chunk waits until the
  // chunk's old data and its log page are durable in the store
  // (write-ahead), unlike a snapshot, which releases it after the read.
  const cid = await kmod.checkpointCreate([{ device: orig, identity: 'bench' }], { device: store, ranges: wholeDevice(store) }, 'bench');
  record('ckpt.first_seq_write', seqWrite(orig));
  record('ckpt.first_rand_write', randWrite(orig, seed));
  record('ckpt.rewrite_seq_write', seqWrite(orig, 2));
  record('ckpt.rewrite_rand_write', randWrite(orig, seed, 2));
  const ck = await kmod.checkpointInfo(cid);
  if (ck.state !== 'active') throw new Error(`the checkpoint became ${ck.state} (${ck.reason})`);
  if (ck.entries < A.bytes / chunk + B.count) throw new Error(`${ck.entries} chunks saved, expected at least ${A.bytes / chunk + B.count}`);
  current.ckpt_store_used_mib = (ck.usedPages * 4096) / MiB;
  await kmod.checkpointCommit(cid);
  rmmod();

  // dm-snapshot, 64 KiB chunks like ours, persistent exceptions as LVM
  // does (a new exception store starts with a zeroed header).
  sh('dd', 'if=/dev/zero', `of=${store}`, 'bs=1M', 'count=1', 'oflag=direct', 'status=none');
  const sectors = sh('blockdev', '--getsz', orig);
  sh('dmsetup', 'create', 'bench-origin', '--table', `0 ${sectors} snapshot-origin ${orig}`);
  sh('dmsetup', 'create', 'bench-snap', '--table', `0 ${sectors} snapshot ${orig} ${store} P 128`);
  sh('dmsetup', 'mknodes');
  const dmOrigin = '/dev/mapper/bench-origin';
  const dmSnap = '/dev/mapper/bench-snap';
  record('dm.first_seq_write', seqWrite(dmOrigin));
  record('dm.first_rand_write', randWrite(dmOrigin, seed));
  record('dm.image_seq_read', readA(dmSnap));
  record('dm.image_read_fragmented', readB(dmSnap));
  record('dm.rewrite_seq_write', seqWrite(dmOrigin, 2));
  record('dm.rewrite_rand_write', randWrite(dmOrigin, seed, 2));
  sh('dmsetup', 'remove', 'bench-snap');
  sh('dmsetup', 'remove', 'bench-origin');
}

// Real blocks behind every sector of both disks (the host files are sparse).
bench('write', orig, 0, 2 * GiB, MiB);
bench('write', store, 0, 2 * GiB, MiB);
const load = sh('cat', '/proc/loadavg');
// Warm-up: the first passes of a boot are slower.
insmod();
rmmod();
seqWrite(orig);
randWrite(orig, 100);

for (let i = 0; i < ROUNDS; i++) {
  log(`round ${i + 1} of ${ROUNDS}`);
  current = {};
  rounds.push(current);
  await round(i + 1);
}
log('closing none');
current = {};
none(ROUNDS + 1);
const closing = current;

const figures = { load, load_after: sh('cat', '/proc/loadavg'), rounds, closing };
writeFileSync(`${process.env.SNAPKEEP_RESULTS}/bench.json`, JSON.stringify(figures, null, 1));
log('done');
