// Image reads that span many chunks while writers copy those same chunks:
// a read of the image counts itself in the readers of each chunk it sends
// to the original, and a copy that claimed such a chunk waits for those
// readers before it lets its writes go. A read that then met a chunk that
// copy was copying, and waited for it before sending what it had counted,
// waited for itself: reader, copy and writers hung for good. Each round
// runs big direct reads of the image against sequential 1 MiB writes
// (copies of 16 chunks of 64 KiB) over the same region, and every one of
// them must finish; the image still reads as the disk did at the take.
// The module waits a little after each part an image read sends to the
// original (test_image_read_delay_ms), where the race used to be.
// vm: disks=2G,512M memory=1024 timeout=300 smp=2 kernels=6.12,6.1
import { bash, check, devsum, exitsWithin, disks, insmod, kmod, log, MiB, rmmod, spawnLogged, wholeDevice } from '../helpers/kmodlib.mjs';

const [disk, store] = disks;
const REGION = 96 * MiB;
const ROUNDS = 6;

insmod({ test_image_read_delay_ms: 2 });
bash(`dd if=/dev/urandom of=${disk} bs=1M count=${REGION / MiB} oflag=direct status=none`);
for (let round = 0; round < ROUNDS; round++) {
  const before = devsum(disk, REGION);
  const id = await kmod.create([disk]);
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  const image = await kmod.imagePath(id, disk);
  const chunk = (await kmod.info(id)).devices[0].chunkSize;
  check(chunk === 64 * 1024, `chunks of 64 KiB (${chunk / 1024} KiB)`);

  // Two readers sweeping the region in 8 MiB reads (128 chunks each), two
  // sequential writers crossing it in 1 MiB writes, from both ends.
  const readers = [0, 1].map(() => spawnLogged('sh', ['-c',
    `for i in 1 2; do dd if=${image} of=/dev/null bs=8M count=${REGION / (8 * MiB)} iflag=direct status=none || exit 1; done`]));
  const writers = [0, REGION / MiB / 2].map((seek) => spawnLogged('dd', [
    'if=/dev/urandom', `of=${disk}`, 'bs=1M', `count=${REGION / MiB / 2}`, `seek=${seek}`, 'oflag=direct', 'status=none']));
  for (const [i, w] of writers.entries())
    check((await exitsWithin(`writer ${i}`, w.done, 90)) === 0, `writer ${i} saw no error`);
  for (const [i, r] of readers.entries())
    check((await exitsWithin(`image reader ${i}`, r.done, 90)) === 0, `image reader ${i} saw no error`);
  check(devsum(image, REGION) === before, 'the image reads as the disk did at the take');
  const info = await kmod.info(id);
  check(!info.corrupted, 'the snapshot is intact');
  log(`round ${round}: ${info.devices[0].chunksCopied} chunk(s) copied`);
  await kmod.destroy(id);
}
await kmod.detach(disk);
rmmod();
log('ok');
