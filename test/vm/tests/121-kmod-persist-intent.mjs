// Persistent change map, write intent (issue 14): while a tracked disk is
// written (random 4 KiB O_DIRECT writes), after each write returns the
// store's bytes on disk (read with O_DIRECT through the store file) mark
// the written block with the current number: a power cut at that instant
// would over-report, never under-report. After a take returns, the newest
// metadata copy on disk already holds the new number. Cost: random writes
// for a few seconds, tracking only vs. tracking with write intent.
// vm: disks=256M,64M modules=ext4 timeout=300
import { check, disks, HELPERS, insmod, kmod, log, rmmod, sectors, sh } from '../helpers/kmodlib.mjs';
import { INTENT, readStore, storeOnFreshExt4 } from '../helpers/persist.mjs';

const [disk, other] = disks;
insmod();

const { storePath, store } = await storeOnFreshExt4(other);
await kmod.attachPersistent(disk, store);
const info = await kmod.trackerInfo2(disk);
check(info.persist.intent, 'write intent is on');
const bs = info.blockSize / 512;
const size = sectors(disk);

async function take() {
  const id = await kmod.create([disk]);
  await kmod.take(id);
  await kmod.destroy(id);
  const number = (await kmod.trackerInfo(disk)).number;
  const meta = readStore(storePath, info.blockCount).newest;
  check(meta.number === number && (meta.flags & INTENT) !== 0, `right after take ${number} the store's metadata on disk holds it (${meta.number}, flags ${meta.flags})`);
  return number;
}

let seed = 777;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
async function writesChecked(n, number) {
  let fresh = 0;
  for (let i = 0; i < n; i++) {
    const at = 8 * rand(size / 8 - 1);
    const block = Math.floor(at / bs);
    const was = readStore(storePath, info.blockCount).map[block];
    sh('dd', 'if=/dev/urandom', `of=${disk}`, 'bs=4096', 'count=1', `seek=${at / 8}`, 'oflag=direct', 'status=none');
    const now = readStore(storePath, info.blockCount).map[block];
    check(now >= number, `after a write to block ${block} returned, its cell on disk is ${now}, not >= ${number}: a power cut now would lose the write`);
    if (was < number) fresh++;
  }
  return fresh;
}

let number = await take();
let fresh = await writesChecked(40, number);
log(`number ${number}: 40 writes, ${fresh} to cells not durable before; every cell on disk after its write`);
number = await take();
fresh = await writesChecked(20, number);
log(`number ${number}: 20 writes, ${fresh} to cells not durable before; every cell on disk after its write`);

// Cost, a rough figure (TCG): random writes for 4 s into the first 16 MiB
// (256 cells of 64 KiB): right after a take every cell is fresh at first;
// a second run finds them all durable; then the same without a store.
const rate = (label) => {
  const out = sh(`${HELPERS}/randwrite`, '--seconds', '4', '--no-discard', '--direct-only', '--max-io', '65536', '--size', String(16 << 20), '--seed', '5', disk);
  log(`${label}: ${out.split('\n').pop()}`);
  return out;
};
await take();
rate('write intent, right after a take');
rate('write intent, every cell durable');
await kmod.detach(disk);
await kmod.attach(disk);
rate('tracking only');
await kmod.detach(disk);
sh('umount', '/tmp/other');
rmmod();
log('ok');
