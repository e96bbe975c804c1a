// Persistent change map, doubt means a new generation (issue 14). From a
// sealed store: bytes flipped in the older metadata copy: the newest (the
// seal) is used; in the newest: the older one ("in use", write-intent) is
// used: continued, flagged unclean; in both: a new generation, reason
// "corrupt"; a flipped cell of a sealed map: "corrupt". Another identity:
// "identity"; the store given for a disk of another size: "size"; a format
// version this module does not know: "version". A store caught "in use"
// (its bytes copied while attached, put back after the detach, as a power
// cut would leave it): with write intent continued ("unclean"), without it
// a new generation, reason "unclean".
// vm: disks=256M,128M,64M modules=ext4 timeout=300
import { check, disks, insmod, kmod, log, rmmod, sh } from '../helpers/kmodlib.mjs';
import { PAGE, readDirect, readStore, resign, SEALED, storeOnFreshExt4, writeDirect } from '../helpers/persist.mjs';

const [disk, disk2, other] = disks;
insmod();

const { storePath, store } = await storeOnFreshExt4(other);
const write = (dev, block) => sh('dd', 'if=/dev/urandom', `of=${dev}`, 'bs=64K', 'count=1', `seek=${block}`, 'oflag=direct', 'status=none');
async function take(dev = disk) {
  const id = await kmod.create([dev]);
  await kmod.take(id);
  await kmod.destroy(id);
}
async function attach(s = store, dev = disk) {
  await kmod.attachPersistent(dev, s);
  return kmod.trackerInfo2(dev);
}
const slotOf = (seq) => (seq & 1) * PAGE;

// A sealed store with number 1 and a written block.
const first = await attach();
await take();
write(disk, 10);
await kmod.detach(disk);
const gen = first.generation;
let st = readStore(storePath, first.blockCount);
check((st.newest.flags & SEALED) !== 0, 'sealed');

// Bytes flipped in the older copy: the seal is used.
const older = st.slots.find((m) => m.sequence !== st.newest.sequence);
const flip = (offset) => {
  const b = readDirect(storePath, PAGE, offset);
  b[100] ^= 0xff;
  writeDirect(storePath, b, offset);
};
flip(slotOf(older.sequence));
let t = await attach();
check(t.persist.continued && !t.persist.unclean && t.generation === gen && t.number === 1, `older copy corrupt: continued from the seal (${JSON.stringify(t.persist)})`);
check(t.persist.foundSequence === st.newest.sequence, 'from the newest copy');
await kmod.detach(disk);

// Bytes flipped in the newest copy (the seal): the older copy, "in use".
st = readStore(storePath, first.blockCount);
flip(slotOf(st.newest.sequence));
t = await attach();
check(t.persist.continued && t.persist.unclean && t.generation === gen && t.number === 1, `newest copy corrupt: continued from the older, write-intent copy, flagged unclean (${JSON.stringify(t.persist)})`);
const map = await (async () => { await take(); return kmod.readCbtMap(disk); })();
check(map[10] >= 1, 'the block written before is still marked');
await kmod.detach(disk);

// Both copies: a new generation, "corrupt".
st = readStore(storePath, first.blockCount);
flip(0);
flip(PAGE);
t = await attach();
check(!t.persist.continued && t.persist.reason === 'corrupt' && t.generation !== gen && t.number === 0, `both copies corrupt: new generation, reason ${t.persist.reason}`);
await take();
write(disk, 20);
await kmod.detach(disk);

// A cell of the sealed map flipped: "corrupt".
const cellAt = 2 * PAGE;
const page = readDirect(storePath, PAGE, cellAt);
page[20] ^= 0x40;
writeDirect(storePath, page, cellAt);
t = await attach();
check(t.persist.reason === 'corrupt', `a flipped cell of a sealed map: reason ${t.persist.reason}`);
await kmod.detach(disk);

// Another identity, then another disk (another size), then another version.
t = await attach({ ...store, identity: 'someone-else' });
check(t.persist.reason === 'identity' && !t.persist.continued, `another identity: reason ${t.persist.reason}`);
await kmod.detach(disk);
t = await attach({ ...store, identity: 'someone-else' }, disk2);
check(t.persist.reason === 'size' && !t.persist.continued, `another disk, same identity: reason ${t.persist.reason}`);
await kmod.detach(disk2);
st = readStore(storePath, first.blockCount);
const v = readDirect(storePath, PAGE, slotOf(st.newest.sequence));
v.writeUInt32LE(99, 4);
resign(v);
writeDirect(storePath, v, slotOf(st.newest.sequence));
t = await attach({ ...store, identity: 'someone-else' }, disk2);
check(t.persist.reason === 'version', `format version 99: reason ${t.persist.reason}`);
await kmod.detach(disk2);

// Caught "in use": the bytes of an attached store, put back after the detach.
async function crashCopy(noIntent) {
  const s = { ...store, identity: 'crash', noIntent };
  let a = await attach(s);
  await take();
  await kmod.detach(disk);
  a = await attach(s);
  check(a.persist.continued, 'continued before the crash');
  await take();
  write(disk, 30);
  const copy = readDirect(storePath, 64 * PAGE);
  await kmod.detach(disk);
  writeDirect(storePath, copy);
  const b = await attach(s);
  await kmod.detach(disk);
  return { a, b };
}
let c = await crashCopy(false);
check(c.b.persist.continued && c.b.persist.unclean && c.b.generation === c.a.generation && c.b.number === 2, `unsealed, write intent: continued, unclean (${JSON.stringify(c.b.persist)})`);
c = await crashCopy(true);
check(!c.b.persist.continued && c.b.persist.reason === 'unclean' && c.b.generation !== c.a.generation, `unsealed, no write intent: new generation, reason ${c.b.persist.reason}`);
log('every doubt detected');
sh('umount', '/tmp/other');
rmmod();
log('ok');
