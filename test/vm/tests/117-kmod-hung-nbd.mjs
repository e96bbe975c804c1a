// A hung device elsewhere does not hang the module's control path (review
// A6). An NBD disk whose server stopped answering writes is being written
// back: the flusher has used up its tags and blocks inside
// submit_bio_noacct(), through the module's hook. Meanwhile the last
// tracked device is detached and a snapshot of another disk is created
// and destroyed: each returns at once. When the NBD connection drops, the
// module unloads (unloading itself waits for submitters inside the hook).
// vm: disks=64M,64M modules=nbd timeout=180 smp=2
// vm-allow-log: (nbd0|nbd\d+).*(I/O error|Receive control failed|Send control failed|shutting down|Dead connection|Attempted send on invalid socket)
// vm-allow-log: Buffer I/O error on dev nbd0
import { bash, check, disks, HELPERS, insmod, kmod, log, MiB, rmmod, sh, sleep, spawnLogged, wholeDevice } from '../helpers/kmodlib.mjs';

const [disk, store] = disks;
/** Resolves to what `promise` gives within `seconds`, or to 'hung'. */
const within = (promise, seconds) =>
  Promise.race([promise.then((v) => v ?? 'ok', (e) => e.code ?? String(e)), sleep(seconds * 1000).then(() => 'hung')]);

insmod();
await kmod.attach(disk);

const nbd = spawnLogged(`${HELPERS}/nbd-hang`, ['/dev/nbd0', `${256 * MiB}`]);
for (let i = 0; i < 100 && sh('cat', '/sys/block/nbd0/size') === '0'; i++) await sleep(100);
check(sh('cat', '/sys/block/nbd0/size') !== '0', 'the NBD device is connected');
bash('echo 4 > /sys/block/nbd0/queue/max_sectors_kb'); // many small requests
sh('dd', 'if=/dev/zero', 'of=/dev/nbd0', 'bs=1M', 'count=64', 'status=none');
const flush = spawnLogged('sync', []);
let inflight = '';
for (let i = 0; i < 100; i++) {
  inflight = bash('cat /sys/block/nbd0/inflight | tr -s " "').trim();
  if (Number(inflight.split(' ')[1]) >= 64) break;
  await sleep(100);
}
log(`nbd0 requests in flight (read write): ${inflight}`);
check(Number(inflight.split(' ')[1]) >= 64, 'the NBD device is hung with writes in flight');
await sleep(2000);
log(`blocked: ${bash("ps -eo stat,comm | awk '$1 ~ /D/ {print $2}' | sort | uniq -c | tr -s ' \\n' ' '")}`);

const detach = await within(kmod.detach(disk), 15);
log(`detach of the last tracked device: ${detach}`);
check(detach === 'ok', 'the last detach returns while a device elsewhere hangs');
const create = await within(
  (async () => {
    const id = await kmod.create([disk]);
    await kmod.appendStorage(id, store, wholeDevice(store));
    await kmod.take(id);
    await kmod.destroy(id);
    await kmod.detach(disk);
  })(),
  30,
);
check(create === 'ok', `create, take, destroy and detach meanwhile: ${create}`);

nbd.child.kill('SIGTERM');
check((await nbd.done) === 0, 'the NBD connection dropped');
await flush.done;
rmmod();
log('ok');
