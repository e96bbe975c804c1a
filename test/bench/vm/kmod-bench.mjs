// The kernel module's benchmark, run in the guest by test/bench/kmod.mjs
// (npm run bench:kmod) through the VM harness. Writes bench.json into
// $SNAPKEEP_RESULTS; the host prints the table.
//
// One boot, the same disks for every figure: O_DIRECT at queue depth 1,
// sequential 1 MiB writes over 256 MiB (region A) and random 4 KiB writes
// (4000, region B of 256 MiB), each measured without the module, with the
// filter and change tracking (no snapshot), and under a snapshot (first
// writes, which copy, then rewrites of the same places); sequential reads
// of the whole image against the raw device, once with region A copied in
// order and B untouched, once more after B's random first writes scattered
// its chunks; the same with the kernel's dm-snapshot (writes through
// snapshot-origin, reads of the snapshot).
// Throughput figures are the best of two or three runs; first writes are
// repeated on a new snapshot each time. The runs without the module come
// before and after those with the filter. A third, never tracked disk is
// written right before the snapshot's rewrites and dm's, as a control:
// guest and host slow down after gigabytes of copies (TCG, a shared host),
// and the control shows how much of a ratio is that drift.
// vm: disks=512M,1G,512M timeout=1500 smp=2 memory=1024 modules=dm-snapshot
import { writeFileSync } from 'node:fs';

import { disks, insmod, kmod, log, rmmod, runHelper, sh, sleep, wholeDevice } from '../../vm/helpers/kmodlib.mjs';

const [orig, store, control] = disks;
const MiB = 1 << 20;
const A = { off: 0, bytes: 256 * MiB };
const B = { off: 256 * MiB, bytes: 256 * MiB, count: 4000 };

const bench = (...args) => JSON.parse(runHelper('blkbench', ...args.map(String)));
const seqWrite = (dev) => bench('write', dev, A.off, A.bytes, MiB);
const randWrite = (dev, seed) => bench('randwrite', dev, B.off, B.bytes, 4096, B.count, seed);
const seqRead = (dev) => bench('read', dev, 0, 512 * MiB, MiB);
const best = (fn, n = 2) => Array.from({ length: n }, fn).reduce((x, y) => (y.mbps > x.mbps ? y : x));

const figures = {};
function record(name, r) {
  figures[name] = { mbps: r.mbps, iops: r.iops, seconds: r.seconds };
  log(`${name.padEnd(22)} ${r.mbps.toFixed(1).padStart(8)} MB/s ${r.iops.toFixed(0).padStart(7)} IOPS`);
}

// Real blocks behind every sector, on both disks (the host files are sparse).
sh('dd', 'if=/dev/urandom', `of=${orig}`, 'bs=1M', 'count=512', 'oflag=direct', 'status=none');
sh('dd', 'if=/dev/zero', `of=${store}`, 'bs=1M', 'count=1024', 'oflag=direct', 'status=none');
sh('dd', 'if=/dev/urandom', `of=${control}`, 'bs=1M', 'count=512', 'oflag=direct', 'status=none');
figures.load = sh('cat', '/proc/loadavg');
seqWrite(orig); // warm-up: the first pass of a boot is slower
randWrite(orig, 1);

// Without the module, before and after the filter runs: the best counts.
const none = { seq: [best(() => seqWrite(orig))], rand: [best(() => randWrite(orig, 1))] };
record('raw.seq_read', best(() => seqRead(orig)));
insmod();
await kmod.attach(orig);
record('filter.seq_write', best(() => seqWrite(orig), 3));
record('filter.rand_write', best(() => randWrite(orig, 1), 3));
await kmod.detach(orig);
rmmod();
none.seq.push(best(() => seqWrite(orig)));
none.rand.push(best(() => randWrite(orig, 1)));
record('none.seq_write', none.seq.reduce((x, y) => (y.mbps > x.mbps ? y : x)));
record('none.rand_write', none.rand.reduce((x, y) => (y.mbps > x.mbps ? y : x)));
record('control.seq_write', best(() => seqWrite(control)));
record('control.rand_write', best(() => randWrite(control, 1)));
insmod();

/** Waits until the copies in flight are stored (their I/O would skew the next figure). */
async function settle(id) {
  let last = -1;
  for (;;) {
    const copied = (await kmod.info(id)).devices[0].chunksCopied;
    if (copied === last) return;
    last = copied;
    await sleep(300);
  }
}

/** A snapshot of the original with all of the storage disk. */
async function snapshot() {
  const id = await kmod.create([orig]);
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  return { id, image: await kmod.imagePath(id, orig) };
}

// First writes, each on a new snapshot: the best of three.
const firsts = { seq: [], rand: [] };
for (let i = 0; i < 3; i++) {
  const s = await snapshot();
  firsts.seq.push(seqWrite(orig));
  await settle(s.id);
  firsts.rand.push(randWrite(orig, 2));
  await settle(s.id);
  await kmod.destroy(s.id);
}
const top = (list) => list.reduce((x, y) => (y.mbps > x.mbps ? y : x));
record('snap.first_seq_write', top(firsts.seq));
record('snap.first_rand_write', top(firsts.rand));

const { id, image } = await snapshot();
seqWrite(orig);
await settle(id);
// Region A stored in order, region B untouched.
record('snap.image_seq_read', best(() => seqRead(image)));
randWrite(orig, 2);
await settle(id);
record('control.seq_write_late', best(() => seqWrite(control)));
record('control.rand_write_late', best(() => randWrite(control, 1)));
record('snap.rewrite_seq_write', best(() => seqWrite(orig), 3));
record('snap.rewrite_rand_write', best(() => randWrite(orig, 2), 3));
// Region B now stored in random order: 64 KiB pieces all over.
record('snap.image_read_fragmented', best(() => seqRead(image)));
const info = await kmod.info(id);
figures.snap_storage_used_mib = info.storageUsedSectors / 2048;
await kmod.destroy(id);
await kmod.detach(orig);
rmmod();

// dm-snapshot, 64 KiB chunks like ours, persistent exceptions as LVM does
// (a new exception store starts with a zeroed header).
sh('dd', 'if=/dev/zero', `of=${store}`, 'bs=1M', 'count=1', 'oflag=direct', 'status=none');
const sectors = sh('blockdev', '--getsz', orig);
sh('dmsetup', 'create', 'bench-origin', '--table', `0 ${sectors} snapshot-origin ${orig}`);
sh('dmsetup', 'create', 'bench-snap', '--table', `0 ${sectors} snapshot ${orig} ${store} P 128`);
sh('dmsetup', 'mknodes');
const dmOrigin = '/dev/mapper/bench-origin';
const dmSnap = '/dev/mapper/bench-snap';
record('dm.first_seq_write', seqWrite(dmOrigin));
record('dm.image_seq_read', best(() => seqRead(dmSnap)));
record('dm.first_rand_write', randWrite(dmOrigin, 2));
record('control.seq_write_dm', best(() => seqWrite(control)));
record('control.rand_write_dm', best(() => randWrite(control, 1)));
record('dm.rewrite_seq_write', best(() => seqWrite(dmOrigin), 3));
record('dm.rewrite_rand_write', best(() => randWrite(dmOrigin, 2), 3));
record('dm.image_read_fragmented', best(() => seqRead(dmSnap)));
sh('dmsetup', 'remove', 'bench-snap');
sh('dmsetup', 'remove', 'bench-origin');
figures.load_after = sh('cat', '/proc/loadavg');

writeFileSync(`${process.env.SNAPKEEP_RESULTS}/bench.json`, JSON.stringify(figures, null, 1));
log('done');
