// Logical block sizes (review A5). Storage on a device with 4096-byte
// logical blocks under an origin with 512-byte blocks: image I/O at
// 512-byte granularity and the short last chunk of an origin whose size is
// no multiple of 4 KiB would reach it misaligned, so the module refuses it
// (EINVAL) or, if it takes it, must keep the image exact and never fail
// with EIO. An origin of odd size (a partition of 4 KiB and 7 sectors
// more) with 512-byte storage: its last, short chunk is copied and read
// back exactly. Origin and storage both with 4096-byte blocks: an xfs on
// the origin is written during the snapshot, the image is exact and mounts.
// vm: disks=96M,64M:4k,96M:4k,96M:4k modules=xfs timeout=240
import { bash, check, devsum, disks, errnoOf, insmod, kmod, log, MiB, rmmod, sh, sleep, spawnLogged, HELPERS, wholeDevice } from '../helpers/kmodlib.mjs';

const [disk512, store4k, orig4k, spare4k] = disks;
const lbs = (d) => Number(sh('blockdev', '--getss', d));
log(`logical block sizes: ${disks.map((d) => `${d}=${lbs(d)}`).join(' ')}`);
check(lbs(disk512) === 512 && lbs(store4k) === 4096 && lbs(orig4k) === 4096, 'the disks have the block sizes asked for');

// A partition of odd size: 16 MiB + 7 sectors.
bash(`printf 'label: dos\\nstart=2048, size=${16 * 2048 + 7}\\n' | sfdisk -q ${disk512}`);
const odd = `${disk512}1`;
for (let i = 0; i < 50 && !bash(`[ -b ${odd} ] && echo y || true`); i++) await sleep(100);
check(Number(sh('blockdev', '--getsz', odd)) % 8 === 7, `${odd} is 7 sectors past a 4 KiB multiple`);
sh('dd', 'if=/dev/urandom', `of=${odd}`, 'bs=512', `count=${16 * 2048 + 7}`, 'oflag=direct', 'status=none');
insmod();

// ---- 4 KiB storage under a 512-byte origin ----
let ref = devsum(odd);
let id = await kmod.create([odd]);
const err = await errnoOf(kmod.appendStorage(id, store4k, wholeDevice(store4k)));
log(`storage with 4096-byte blocks for an origin with 512-byte blocks: ${err ?? 'accepted'}`);
if (err === null) {
  await kmod.take(id);
  sh('dd', 'if=/dev/urandom', `of=${odd}`, 'bs=512', `count=${16 * 2048 + 7}`, 'oflag=direct', 'status=none');
  const info = await kmod.info(id);
  check(!info.corrupted, `the snapshot is intact (errno ${info.errno})`);
  check(devsum(await kmod.imagePath(id, odd)) === ref, 'the image is exact');
} else {
  check(err === 'EINVAL', `refused with EINVAL (got ${err})`);
}
await kmod.destroy(id);

// ---- an origin of odd size, 512-byte storage (a partition of the same disk's neighbour) ----
ref = devsum(odd);
id = await kmod.create([odd]);
await kmod.appendStorage(id, disk512, [{ start: 40960, count: 32768 }]);
await kmod.take(id);
const last = 16 * 2048 + 7 - 3;
sh('dd', 'if=/dev/urandom', `of=${odd}`, 'bs=512', `seek=${last}`, 'count=3', 'oflag=direct', 'status=none');
sh('dd', 'if=/dev/urandom', `of=${odd}`, 'bs=512', 'seek=5', 'count=3', 'oflag=direct', 'status=none');
let info = await kmod.info(id);
log(`odd-sized origin: ${info.devices[0].chunksCopied} chunk(s) copied, the last one short`);
check(!info.corrupted, `the snapshot is intact (errno ${info.errno})`);
check(devsum(await kmod.imagePath(id, odd)) === ref, 'the image of the odd-sized origin is exact, its last sectors too');
await kmod.destroy(id);
await kmod.detach(odd);

// ---- 4 KiB origin, 4 KiB storage, xfs ----
bash(`TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f ${orig4k}`);
sh('mkdir', '-p', '/tmp/o', '/tmp/i');
sh('mount', orig4k, '/tmp/o');
sh('dd', 'if=/dev/urandom', 'of=/tmp/o/f', 'bs=1M', 'count=24', 'status=none');
const fileSum = sh('md5sum', '/tmp/o/f').split(' ')[0];
id = await kmod.create([orig4k]);
await kmod.appendStorage(id, spare4k, wholeDevice(spare4k));
await kmod.take(id);
const image = await kmod.imagePath(id, orig4k);
check(lbs(image) === 4096, 'the image has 4096-byte blocks');
const atTake = devsum(image);
const writer = spawnLogged(`${HELPERS}/randwrite`, ['--seconds', '8', '--size', `${16 * MiB}`, '--seed', '7', '/tmp/o/churn']);
check((await writer.done) === 0, 'the writer saw no error');
sh('sync');
info = await kmod.info(id);
log(`4 KiB origin and storage: ${info.devices[0].chunksCopied} chunk(s) copied`);
check(!info.corrupted, `the snapshot is intact (errno ${info.errno})`);
check(devsum(image) === atTake, 'the image did not change');
// Mounted read-write (the image takes writes at 4 KiB): the freeze's log
// cover is replayed, then the unmounted file system checks clean.
sh('mount', '-o', 'nouuid', image, '/tmp/i');
check(sh('md5sum', '/tmp/i/f').split(' ')[0] === fileSum, 'a file of the xfs image reads back');
sh('umount', '/tmp/i');
sh('xfs_repair', '-n', image);
await kmod.destroy(id);
await kmod.detach(orig4k);
sh('umount', '/tmp/o');
rmmod();
log('ok');
