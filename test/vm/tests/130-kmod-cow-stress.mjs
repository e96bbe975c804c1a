// Copy-on-write under mixed load, many takes in a row: on a sparse 3 TiB
// disk (4 MiB chunks, sectors past 2^32), each round takes a snapshot and
// runs at once a queue-depth O_DIRECT writer, a sequential writer (the
// read-ahead path), buffered writes that straddle chunks (written back by
// the flusher and by sync), and a reader of the image. Every writer must
// finish: a write the module holds for good hangs its writer, and the
// round reports where instead of waiting for the test's timeout.
// vm: disks=3T,1G memory=1536 timeout=420 smp=2 kernels=6.12
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { check, disks, exitsWithin, HELPERS, insmod, kmod, log, MiB, rmmod, sectors, spawnLogged, wholeDevice } from '../helpers/kmodlib.mjs';

const [big, store] = disks;
const bytes = sectors(big) * 512;
const ROUNDS = 6;

insmod();
for (let round = 0; round < ROUNDS; round++) {
  const id = await kmod.create([big]);
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  const image = await kmod.imagePath(id, big);
  const chunk = (await kmod.info(id)).devices[0].chunkSize;
  const base = randomInt(0, 1024) * chunk * 16;

  const aio = spawnLogged(`${HELPERS}/aiowrite`, ['--depth', '16', '--bs', '4K', '--size', `${64 * MiB}`, '--seconds', '3', '--seed', String(round + 1), big]);
  const seq = spawnLogged('dd', ['if=/dev/zero', `of=${big}`, 'bs=1M', 'count=48', `seek=${(base + 64 * MiB) / MiB}`, 'oflag=direct', 'status=none']);
  const reader = spawnLogged('sh', ['-c', `for i in $(seq 40); do dd if=${image} of=/dev/null bs=1M count=2 skip=$(( $(od -An -N2 -tu2 /dev/urandom) % 96 )) iflag=direct status=none || exit 1; done`]);
  // Buffered writes, some straddling two chunks, spread over the disk.
  const fd = openSync(big, 'r+');
  for (let i = 0; i < 48; i++) {
    const at = i % 3 === 0 ? (randomInt(1, 16) * chunk - 4096) : randomInt(0, Math.floor((bytes - MiB) / 512)) * 512;
    writeSync(fd, randomBytes(8192), 0, 8192, at);
  }
  closeSync(fd);
  check((await exitsWithin('the queue-depth writer', aio.done, 90)) === 0, 'the queue-depth writer saw no error');
  check((await exitsWithin('the sequential writer', seq.done, 90)) === 0, 'the sequential writer saw no error');
  check((await exitsWithin('the image reader', reader.done, 90)) === 0, 'the image reader saw no error');
  const synced = spawnLogged('sync', []);
  check((await exitsWithin('sync', synced.done, 90)) === 0, 'sync');
  const info = await kmod.info(id);
  check(!info.corrupted, 'the snapshot is intact');
  log(`round ${round}: ${info.devices[0].chunksCopied} chunk(s) copied`);
  await kmod.destroy(id);
}
// Nothing is left in flight: no copy, no copy memory, no write held.
const inflight = readFileSync('/sys/kernel/snapkeep/inflight', 'utf8');
log(inflight.trim());
check(/^copies 0$/m.test(inflight) && / reserved_pages=0 /.test(inflight) &&
  /writes held=0 copying_inline=0/.test(inflight) && /writes deferred fresh=0 counted=0/.test(inflight),
  'no copy, copy memory or held write is left in flight');
await kmod.detach(big);
rmmod();
log('ok');
