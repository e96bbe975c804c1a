// Difference storage running low and running out.
// 1. Low space answered: storage starts at 12 MiB, the module asks for more
//    (diff_storage_minimum_mb=16: an event below 8 MiB free); each event is
//    answered by appending 16 MiB while 64 MiB of the original are
//    overwritten. The snapshot survives and its image is exact.
// 2. Overflow: 8 MiB of storage, 48 MiB overwritten. The overflow event
//    names the device and ENOSPC, the snapshot is corrupted, its image
//    fails with EIO, the original holds exactly what was written, destroy
//    and detach work.
// vm: disks=128M,128M timeout=300
import { bash, check, devsum, disks, errnoOf, insmod, kmod, log, MiB, rmmod, sh, sleep } from '../helpers/kmodlib.mjs';

const [orig, store] = disks;
const range = (fromMiB, mib) => [{ start: fromMiB * 2048, count: mib * 2048 }];
sh('dd', 'if=/dev/urandom', `of=${orig}`, 'bs=1M', 'count=128', 'oflag=direct', 'status=none');

/** Writes `mib` MiB of /tmp/data over the original, in the background. */
function overwrite(mib) {
  return new Promise((resolve, reject) => {
    import('node:child_process').then(({ execFile }) =>
      execFile('dd', ['if=/tmp/data', `of=${orig}`, 'bs=1M', `count=${mib}`, 'oflag=direct', 'status=none'], (err) => (err ? reject(err) : resolve())),
    );
  });
}
sh('dd', 'if=/dev/urandom', 'of=/tmp/data', 'bs=1M', 'count=64', 'status=none');

// ---- 1. low space, answered ----
insmod({ diff_storage_minimum_mb: 16, diff_storage_wait_ms: 20000 });
let ref = devsum(orig);
let id = await kmod.create([orig]);
await kmod.appendStorage(id, store, range(0, 12));
await kmod.take(id);
let next = 12;
let appended = 0;
let watching = true;
const watcher = (async () => {
  while (watching) {
    const ev = await kmod.waitEvent(id, 200);
    if (!ev) continue;
    check(ev.kind === 'low-space', `only low-space events (got ${JSON.stringify(ev)})`);
    check(ev.requestedSectors === 16 * 2048, `16 MiB requested (${ev.requestedSectors} sectors)`);
    await kmod.appendStorage(id, store, range(next, 16));
    next += 16;
    appended++;
  }
})();
await overwrite(64);
watching = false;
await watcher;
let info = await kmod.info(id);
log(`64 MiB overwritten: ${appended} low-space event(s) answered, storage ${info.storageSectors / 2048} MiB, used ${(info.storageUsedSectors / 2048).toFixed(1)} MiB`);
check(appended >= 3, 'the storage was grown on request');
check(!info.corrupted, 'the snapshot survived');
check(devsum(await kmod.imagePath(id, orig)) === ref, 'the image is exact');
await kmod.destroy(id);
await kmod.detach(orig);
rmmod();

// ---- 2. overflow ----
insmod({ diff_storage_minimum_mb: 16, diff_storage_wait_ms: 300 });
id = await kmod.create([orig]);
await kmod.appendStorage(id, store, range(0, 8));
await kmod.take(id);
const image = await kmod.imagePath(id, orig);
await overwrite(48);
let overflow = null;
for (let i = 0; i < 20 && !overflow; i++) {
  const ev = await kmod.waitEvent(id, 500);
  if (ev?.kind === 'overflow') overflow = ev;
}
log(`event: ${JSON.stringify(overflow)}`);
check(overflow && overflow.errno === 'ENOSPC' && overflow.device === orig, 'an overflow event names the device and ENOSPC');
info = await kmod.info(id);
check(info.corrupted && info.errno === 'ENOSPC', 'the snapshot is corrupted by ENOSPC');
const read = bash(`dd if=${image} of=/dev/null bs=1M count=1 iflag=direct 2>&1 || echo FAILED`);
check(read.includes('FAILED') && read.includes('Input/output error'), `reading the image fails with EIO (${read})`);
ref = bash(`(head -c ${48 * MiB} /tmp/data; dd if=${orig} bs=1M skip=48 iflag=direct status=none) | md5sum`).split(' ')[0];
check(devsum(orig) === ref, 'the original holds exactly what was written');
await kmod.destroy(id);
check((await errnoOf(kmod.waitEvent(id, 10))) === 'ENOENT', 'a destroyed snapshot has no events');
await kmod.detach(orig);
rmmod();
await sleep(10);
log('ok');
