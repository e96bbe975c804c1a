// Memory stays bounded. In a 1 GiB guest, 256 MiB of a tracked 512 MiB
// disk are overwritten under a snapshot, with buffered writes (the page
// cache fills and writeback pushes) and with O_DIRECT writes, while
// another process reads the image. The copies in flight never exceed
// their budget (cow_buffer_mb), so there is no OOM and no allocation
// failure; the image stays exact.
// vm: disks=512M,512M timeout=420 memory=1024 smp=2
import { bash, check, devsum, disks, insmod, kmod, log, MiB, rmmod, sh, wholeDevice } from '../helpers/kmodlib.mjs';

const [orig, store] = disks;
sh('dd', 'if=/dev/urandom', `of=${orig}`, 'bs=1M', 'count=512', 'oflag=direct', 'status=none');
insmod({ cow_buffer_mb: 16 });
const ref = devsum(orig);
const id = await kmod.create([orig]);
await kmod.appendStorage(id, store, wholeDevice(store));
await kmod.take(id);
const image = await kmod.imagePath(id, orig);
const free0 = Number(bash("awk '/MemAvailable/ {print $2}' /proc/meminfo")) * 1024;

const reader = bash(`(while true; do dd if=${image} of=/dev/null bs=1M iflag=direct status=none || exit 1; done) > /dev/null 2>&1 & echo $!`);
// Buffered: 160 MiB through the page cache; direct: 96 MiB.
bash(`dd if=/dev/urandom of=${orig} bs=1M count=160 seek=8 status=none; sync`);
bash(`dd if=/dev/urandom of=${orig} bs=1M count=96 seek=300 oflag=direct status=none`);
sh('kill', reader);
const info = await kmod.info(id);
log(`${info.devices[0].chunksCopied} chunks (${(info.storageUsedSectors / 2048).toFixed(0)} MiB) copied; MemAvailable before ${(free0 / MiB).toFixed(0)} MiB`);
check(info.storageUsedSectors >= 256 * 2048, 'all 256 MiB were copied');
check(!info.corrupted, 'not corrupted');
check(devsum(image) === ref, 'the image is exact');
const log_ = sh('dmesg');
check(!/page allocation failure|Out of memory|oom-kill/.test(log_), 'no allocation failure, no OOM');
await kmod.destroy(id);
await kmod.detach(orig);
rmmod();
log('ok');
