// Persistent change map, a clean cycle (issue 14). A disk is tracked whole:
// its first partition holds an ext4, its second is written raw at known
// offsets. Round 1 keeps the map in a store file on the ext4 of a second
// disk, round 2 in a store file on the tracked disk's own ext4. Each round:
// attach with the store (a new map: reason "new"), a take, known writes,
// detach (the store is sealed: the newest metadata copy on disk says so),
// attach again: same generation and number, "continued"; more writes and a
// take: the map frozen there marks exactly the raw blocks written before
// and after the re-attach, and no block of the store file (the module's own
// I/O is never marked).
// vm: disks=256M,64M modules=ext4 timeout=300
import { bash, check, disks, insmod, kmod, log, rmmod, sectors, sh, sleep } from '../helpers/kmodlib.mjs';
import { INTENT, makeStore, PAGE, readStore, SEALED } from '../helpers/persist.mjs';

const [disk, other] = disks;
bash(`printf 'label: dos\\nstart=2048, size=98304\\nstart=100352\\n' | sfdisk -q ${disk}`);
const [fsPart, rawPart] = [`${disk}1`, `${disk}2`];
for (let i = 0; i < 50 && !bash(`[ -b ${rawPart} ] && echo y || true`); i++) await sleep(100);
const rawStart = Number(sh('cat', `/sys/class/block/${rawPart.slice(5)}/start`));
const fsStart = Number(sh('cat', `/sys/class/block/${fsPart.slice(5)}/start`));
const rawSectors = sectors(rawPart);
sh('mkfs.ext4', '-q', '-F', '-b', '4096', fsPart);
sh('mkfs.ext4', '-q', '-F', '-b', '4096', other);
sh('mkdir', '-p', '/tmp/own', '/tmp/other');
sh('mount', fsPart, '/tmp/own');
sh('mount', other, '/tmp/other');
insmod();

let seed = 4242;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
/** Random raw writes; their absolute disk sectors. */
function writeRaw(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const count = 8 * (1 + rand(64)); // 4 KiB .. 256 KiB
    const start = 8 * rand((rawSectors - count) / 8);
    sh('dd', 'if=/dev/urandom', `of=${rawPart}`, 'bs=512', `seek=${start}`, `count=${count}`, 'oflag=direct', 'status=none');
    out.push({ start: rawStart + start, count });
  }
  return out;
}
async function take() {
  const id = await kmod.create([disk]);
  await kmod.take(id);
  const map = await kmod.readCbtMap(disk);
  const info = await kmod.trackerInfo2(disk);
  await kmod.destroy(id);
  return { map, info };
}

async function round(name, storePath, storeFsStart) {
  const started = Date.now();
  const store = await makeStore(storePath, 64 * PAGE);
  await kmod.attachPersistent(disk, store);
  const a = await kmod.trackerInfo2(disk);
  log(`${name}: attached: ${JSON.stringify(a.persist)}`);
  check(a.persist.attached && !a.persist.continued && a.persist.reason === 'new', `${name}: a store never used gives a new map (reason ${a.persist.reason})`);
  check(a.persist.intent, `${name}: write intent is on`);
  const bs = a.blockSize / 512;
  const t1 = await take();
  check(t1.info.number === 1, `${name}: number 1 after the first take`);
  const before = writeRaw(12);
  await kmod.detach(disk);

  const sealed = readStore(storePath, a.blockCount);
  check(sealed.newest && (sealed.newest.flags & SEALED) !== 0, `${name}: the newest metadata copy on disk is sealed (${JSON.stringify(sealed.newest && { flags: sealed.newest.flags, seq: sealed.newest.sequence })})`);
  check(sealed.newest.generation === a.generation && sealed.newest.number === 1, `${name}: it holds the generation and number 1`);
  check(sealed.slots.every((m) => m && m.crcOk), `${name}: both metadata copies are valid`);

  await kmod.attachPersistent(disk, store);
  const b = await kmod.trackerInfo2(disk);
  log(`${name}: attached again: ${JSON.stringify(b.persist)}`);
  check(b.persist.continued && !b.persist.unclean && b.persist.reason === 'none', `${name}: continued from the seal (reason ${b.persist.reason})`);
  check(b.generation === a.generation && b.number === 1, `${name}: same generation, number ${b.number}`);
  check(b.persist.foundSequence === sealed.newest.sequence && b.persist.foundTime === sealed.newest.time, `${name}: reports the seal it continued from`);
  const inUse = readStore(storePath, a.blockCount).newest;
  check((inUse.flags & SEALED) === 0 && (inUse.flags & INTENT) !== 0, `${name}: on disk "in use" (flags ${inUse.flags}) before any write`);

  const after = writeRaw(12);
  const t2 = await take();
  check(t2.info.number === 2 && t2.info.generation === a.generation, `${name}: number 2, same generation`);
  const blocksOf = (w) => {
    const out = [];
    for (let x = Math.floor(w.start / bs); x <= Math.floor((w.start + w.count - 1) / bs); x++) out.push(x);
    return out;
  };
  const changed = new Set([...before, ...after].flatMap(blocksOf));
  for (const x of changed) check(t2.map[x] >= 1, `${name}: block ${x} written is marked (${t2.map[x]})`);
  const lateOnly = new Set(after.flatMap(blocksOf));
  for (const x of blocksOf(before[0])) if (!lateOnly.has(x)) check(t2.map[x] === 1, `${name}: block ${x} written before the re-attach only is 1 (${t2.map[x]})`);
  let quiet = 0;
  for (let x = Math.ceil(rawStart / bs); x < Math.floor((rawStart + rawSectors) / bs); x++) {
    if (changed.has(x)) continue;
    check(t2.map[x] === 0, `${name}: raw block ${x} not written is marked (${t2.map[x]})`);
    quiet++;
  }
  let own = 0;
  if (storeFsStart !== null) {
    for (const r of store.ranges) {
      const s0 = storeFsStart + r.start;
      for (let x = Math.ceil(s0 / bs); (x + 1) * bs <= s0 + r.count; x++) {
        check(t2.map[x] === 0, `${name}: block ${x} of the store file is marked (${t2.map[x]}): the module's own writes were tracked`);
        own++;
      }
    }
  }
  log(`${name}: map exact: ${changed.size} written block(s) marked, ${quiet} untouched raw block(s) clear, ${own} block(s) wholly in the store clear`);
  await kmod.detach(disk);
  const end = readStore(storePath, a.blockCount);
  check((end.newest.flags & SEALED) !== 0 && end.newest.number === 2, `${name}: sealed again with number 2`);
  // The raw partition was not written since the take (the ext4 may be).
  let differ = 0;
  for (let x = Math.ceil(rawStart / bs); x < Math.floor((rawStart + rawSectors) / bs); x++) if (end.map[x] !== t2.map[x]) differ++;
  check(differ === 0, `${name}: the sealed map of the raw partition equals the map of the last take (${differ} cells differ)`);
  log(`${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await round('store on another disk', '/tmp/other/map.store', null);
// The tracked disk's own ext4: its block size is 4 KiB, like the store's pages.
await round('store on the tracked disk', '/tmp/own/map.store', fsStart);
sh('umount', '/tmp/own');
sh('umount', '/tmp/other');
rmmod();
log('ok');
