// Tearing down, the hard ways (the review of seed 002 found use-after-free
// bugs in exactly these).
// 1. Destroy the snapshot while its image is mounted and being written: no
//    crash; the mounted file system sees I/O errors; the module cannot be
//    unloaded until the image is unmounted.
// 2. A second snapshot of a device already in one: EBUSY, and nothing of
//    it left behind. Two snapshots destroyed in either order.
// 3. Under load: writers on a raw disk and on a file system keep going
//    while snapshots are created, taken and destroyed, devices detached,
//    the module unloaded (refused while in use) and loaded again. The
//    writers never see an error.
// Unloading and loading the module under load patches kernel text while
// the writers run: tcg=single, whatever the kernel's default.
// vm: disks=128M,128M,128M modules=xfs timeout=420 smp=2 tcg=single
// vm-allow-log: XFS \(snapkeep-img\d+\)
import { bash, check, disks, errnoOf, insmod, kmod, log, MiB, sh, sleep, startHelper, wholeDevice } from '../helpers/kmodlib.mjs';

const [fsdisk, store, raw] = disks;
bash(`TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f ${fsdisk}`); // below 300 MB
sh('mkdir', '-p', '/tmp/o', '/tmp/img');
sh('mount', fsdisk, '/tmp/o');
sh('dd', 'if=/dev/urandom', 'of=/tmp/o/file', 'bs=1M', 'count=16', 'status=none');
const rmmodFails = () => bash('rmmod snapkeep 2>&1 && echo UNLOADED || true');
insmod();

// ---- 1. destroy under a mounted, written image ----
let id = await kmod.create([fsdisk]);
await kmod.appendStorage(id, store, wholeDevice(store));
await kmod.take(id);
const image = await kmod.imagePath(id, fsdisk);
sh('mount', '-o', 'nouuid', image, '/tmp/img');
const imgWriter = startHelper('randwrite', ['--size', `${16 * MiB}`, '--seed', '3', '/tmp/img/churn']);
await sleep(2000);
await kmod.destroy(id);
log('destroyed under the mounted image');
const code = await imgWriter.done;
log(`the writer on the image exited with ${code}`);
check(code !== 0, 'the writer on the image saw an error');
check(rmmodFails().includes('in use'), 'the module stays while the dead image is mounted');
sh('umount', '/tmp/img');
check(!bash('ls /dev/snapkeep-img* 2>/dev/null || true'), 'the image device is gone');

// ---- 2. a device in one snapshot at a time; destroy in either order ----
const s1 = await kmod.create([fsdisk]);
check((await errnoOf(kmod.create([fsdisk]))) === 'EBUSY', 'a second snapshot of the same device: EBUSY');
check((await errnoOf(kmod.create([raw, fsdisk]))) === 'EBUSY', 'a snapshot including it: EBUSY');
check((await kmod.listTrackers()).length === 1, `the failed create left no tracker of ${raw}`);
const s2 = await kmod.create([raw]);
for (const [first, second] of [
  [s1, s2],
  [null, null],
]) {
  const [x, y] = first ? [first, second] : [await kmod.create([fsdisk]), await kmod.create([raw])];
  await kmod.appendStorage(x, store, [{ start: 0, count: 65536 }]);
  await kmod.appendStorage(y, store, [{ start: 65536, count: 65536 }]);
  await kmod.take(x);
  await kmod.take(y);
  sh('dd', 'if=/dev/urandom', `of=${raw}`, 'bs=1M', 'count=4', 'oflag=direct', 'status=none');
  // First round: the older one first; second round: the newer one first.
  const order = first ? [x, y] : [y, x];
  await kmod.destroy(order[0]);
  await kmod.destroy(order[1]);
  check((await kmod.list()).length === 0, 'both destroyed');
}
log('EBUSY for a second snapshot; two snapshots destroyed in either order');

// ---- 3. teardown under load ----
const writers = [
  startHelper('randwrite', ['--seed', '11', raw]),
  startHelper('randwrite', ['--size', `${24 * MiB}`, '--seed', '12', '/tmp/o/churn']),
];
for (let round = 1; round <= 3; round++) {
  id = await kmod.create([fsdisk, raw]);
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  await sleep(1000);
  check(rmmodFails().includes('in use'), 'no unload while a snapshot exists');
  await kmod.destroy(id);
}
log('3 snapshots taken and destroyed under load');
check((await errnoOf(kmod.detach(fsdisk))) === null, 'detach under load');
check(rmmodFails().includes('in use'), 'no unload while a device is tracked');
await kmod.detach(raw);
check(rmmodFails().includes('UNLOADED'), 'unloaded under load once nothing is tracked');
insmod();
id = await kmod.create([raw, fsdisk]);
await kmod.appendStorage(id, store, wholeDevice(store));
await kmod.take(id);
await sleep(1000);
await kmod.destroy(id);
await kmod.detach(raw);
await kmod.detach(fsdisk);
check(rmmodFails().includes('UNLOADED'), 'unloaded again under load');
for (const w of writers) w.child.kill('SIGTERM');
for (const w of writers) check((await w.done) === 0, 'the writers never saw an error');
sh('umount', '/tmp/o');
sh('xfs_repair', '-n', fsdisk);
log('ok');
