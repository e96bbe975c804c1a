// Two snapshots at the same time (review B2). Snapshot A of a raw disk runs
// on little storage: a writer overwrites 64 MiB, the module asks for more
// storage (low-space events) and waits at most 3 s for it. Meanwhile
// snapshot B is taken of a file system with 96 MiB of dirty data on a
// device that delays every write by 1.5 s: freezing it takes many seconds.
// A's events and appends must not wait for B's take: A never overflows and
// its image is exact. Then both are taken, appended to and destroyed at
// once, five times.
// vm: disks=128M,256M,256M modules=ext4,dm-mod,dm-delay timeout=300 smp=2
import { bash, check, devsum, disks, insmod, kmod, log, rmmod, sh, sleep } from '../helpers/kmodlib.mjs';

const [raw, slowDisk, store] = disks;
const range = (fromMiB, mib) => [{ start: fromMiB * 2048, count: mib * 2048 }];
sh('dd', 'if=/dev/urandom', `of=${raw}`, 'bs=1M', 'count=128', 'oflag=direct', 'status=none');
sh('dd', 'if=/dev/urandom', 'of=/tmp/data', 'bs=1M', 'count=64', 'status=none');

// B: ext4 on dm-delay, made slow once the file system is there.
process.env.DM_DISABLE_UDEV = '1';
const sz = sh('blockdev', '--getsz', slowDisk);
sh('dmsetup', 'create', 'slow', '--table', `0 ${sz} delay ${slowDisk} 0 0`);
sh('mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0,nodiscard', '/dev/mapper/slow');
sh('mkdir', '-p', '/tmp/b');
sh('mount', '/dev/mapper/slow', '/tmp/b');
sh('dmsetup', 'load', 'slow', '--table', `0 ${sz} delay ${slowDisk} 0 0 ${slowDisk} 0 1500`);
sh('dmsetup', 'resume', 'slow');

insmod({ diff_storage_minimum_mb: 16, diff_storage_wait_ms: 3000 });
// ---- A on little storage, answered while B's take freezes ----
const refA = devsum(raw);
const a = await kmod.create([raw]);
await kmod.appendStorage(a, store, range(0, 8));
await kmod.take(a);
let next = 8;
let watching = true;
const appendTimes = [];
const watcher = (async () => {
  while (watching) {
    const ev = await kmod.waitEvent(a, 200);
    if (!ev) continue;
    check(ev.kind === 'low-space', `A: only low-space events (got ${JSON.stringify(ev)})`);
    const t = Date.now();
    await kmod.appendStorage(a, store, range(next, 16));
    appendTimes.push(Date.now() - t);
    next += 16;
  }
})();

sh('dd', 'if=/dev/urandom', 'of=/tmp/b/dirty', 'bs=1M', 'count=96', 'status=none');
const b = await kmod.create(['/dev/mapper/slow']);
await kmod.appendStorage(b, store, range(200, 56));
const takeStart = Date.now();
const takeB = kmod.take(b).then(() => Date.now() - takeStart);
await sleep(300);
const writerA = new Promise((resolve, reject) =>
  import('node:child_process').then(({ execFile }) =>
    execFile('dd', ['if=/tmp/data', `of=${raw}`, 'bs=1M', 'count=64', 'oflag=direct', 'status=none'], (err) => (err ? reject(err) : resolve())),
  ),
);
const [tookB] = await Promise.all([takeB, writerA]);
watching = false;
await watcher;
const infoA = await kmod.info(a);
log(`B's take took ${(tookB / 1000).toFixed(1)} s; A: ${appendTimes.length} append(s), the slowest ${Math.max(0, ...appendTimes)} ms, storage used ${(infoA.storageUsedSectors / 2048).toFixed(1)} MiB`);
check(tookB > 3000, 'B\'s take was slow (the test proves nothing otherwise)');
check(!infoA.corrupted, `A did not overflow (errno ${infoA.errno})`);
check(devsum(await kmod.imagePath(a, raw)) === refA, 'A\'s image is exact');
await kmod.destroy(a);
await kmod.destroy(b);

// ---- both at once, five times ----
sh('dmsetup', 'load', 'slow', '--table', `0 ${sz} delay ${slowDisk} 0 0 ${slowDisk} 0 20`);
sh('dmsetup', 'resume', 'slow');
for (let round = 1; round <= 5; round++) {
  const ref = devsum(raw);
  const [x, y] = await Promise.all([kmod.create([raw]), kmod.create(['/dev/mapper/slow'])]);
  await Promise.all([kmod.appendStorage(x, store, range(0, 64)), kmod.appendStorage(y, store, range(64, 64))]);
  bash('dd if=/dev/urandom of=/tmp/b/more bs=1M count=8 status=none');
  await Promise.all([kmod.take(x), kmod.take(y), kmod.appendStorage(x, store, range(128, 16))]);
  await Promise.all([kmod.appendStorage(y, store, range(144, 16)), kmod.waitEvent(x, 10), kmod.info(y)]);
  sh('dd', 'if=/tmp/data', `of=${raw}`, 'bs=1M', 'count=8', `seek=${round * 8}`, 'oflag=direct', 'status=none');
  check(devsum(await kmod.imagePath(x, raw)) === ref, `round ${round}: the raw image is exact`);
  await Promise.all([kmod.destroy(x), kmod.destroy(y)]);
}
log('five rounds of two snapshots created, appended to, taken and destroyed at once');
await kmod.detach(raw);
await kmod.detach('/dev/mapper/slow');
sh('umount', '/tmp/b');
sh('dmsetup', 'remove', 'slow');
rmmod();
log('ok');
