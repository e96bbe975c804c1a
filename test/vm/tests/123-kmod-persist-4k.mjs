// Persistent change map on disks with 4096-byte logical blocks (issue 14):
// the tracked disk and the store's disk are 4Kn. Attach with the store
// (the metadata records the logical block size), write intent seen on disk
// after each write, seal, continue; a store made for the 4Kn disk given
// for a 512-byte disk of the same size restarts with reason "size".
// vm: disks=256M:4k,64M:4k,256M modules=ext4 timeout=240
import { check, disks, insmod, kmod, log, rmmod, sectors, sh } from '../helpers/kmodlib.mjs';
import { readStore, SEALED, storeOnFreshExt4 } from '../helpers/persist.mjs';

const [disk, other, disk512] = disks;
check(Number(sh('blockdev', '--getss', disk)) === 4096 && Number(sh('blockdev', '--getss', other)) === 4096, 'the disks are 4Kn');
check(sectors(disk) === sectors(disk512), 'the 512-byte disk has the same size');
insmod();

const { storePath, store } = await storeOnFreshExt4(other);
const a = await (async () => { await kmod.attachPersistent(disk, store); return kmod.trackerInfo2(disk); })();
check(a.persist.reason === 'new' && a.persist.intent, 'a new map with write intent');
const bs = a.blockSize / 512;
let meta = readStore(storePath, a.blockCount).newest;
check(meta.lbs === 4096 && meta.capacity === sectors(disk), `the metadata records 4096-byte blocks and the size (${meta.lbs}, ${meta.capacity})`);
async function take() {
  const id = await kmod.create([disk]);
  await kmod.take(id);
  const map = await kmod.readCbtMap(disk);
  await kmod.destroy(id);
  return map;
}
await take();
const blocks = [3, 77, 1000, 2047, 4095].filter((b) => b < a.blockCount);
for (const b of blocks) {
  sh('dd', 'if=/dev/urandom', `of=${disk}`, 'bs=4096', 'count=1', `seek=${(b * bs) / 8}`, 'oflag=direct', 'status=none');
  const cell = readStore(storePath, a.blockCount).map[b];
  check(cell >= 1, `block ${b}: its cell on disk is ${cell} after the write returned`);
}
await kmod.detach(disk);
meta = readStore(storePath, a.blockCount).newest;
check((meta.flags & SEALED) !== 0, 'sealed');
await kmod.attachPersistent(disk, store);
const b = await kmod.trackerInfo2(disk);
check(b.persist.continued && b.generation === a.generation && b.number === 1, `continued (${JSON.stringify(b.persist)})`);
const map = await take();
for (const x of blocks) check(map[x] === 1, `block ${x} is marked 1 (${map[x]})`);
const others = map.filter((c, i) => c !== 0 && !blocks.includes(i)).length;
check(others === 0, `no other block is marked (${others})`);
await kmod.detach(disk);
await kmod.attachPersistent(disk512, store);
const c = await kmod.trackerInfo2(disk512);
check(c.persist.reason === 'size', `the 4Kn disk's store on a 512-byte disk of the same size: reason ${c.persist.reason}`);
await kmod.detach(disk512);
sh('umount', '/tmp/other');
rmmod();
log('ok');
