// The change map is exact. A disk is tracked whole; its first partition
// holds an ext4 with the snapshot's storage file (fallocate + FIEMAP), the
// second is written raw at known offsets, through the partition and
// through the disk, while snapshot 1 is held (so chunks are copied into
// the storage file on the tracked disk itself). The map frozen at snapshot
// 2 marks every block written since snapshot 1 (cells >= 1), no other
// block of the raw partition, and no block of the storage file. Writes
// after snapshot 2 show up at snapshot 3 as cells >= 2 while the older
// ones fall below. MARK_DIRTY marks both copies. After number 255 the map
// restarts at 1 with a new generation.
// vm: disks=256M,64M modules=ext4 timeout=420
import { bash, check, disks, insmod, kmod, log, MiB, native, rmmod, sectors, sh, sleep, wholeDevice } from '../helpers/kmodlib.mjs';

const [disk, spare] = disks;
bash(`printf 'label: dos\\nstart=2048, size=196608\\nstart=200704\\n' | sfdisk -q ${disk}`);
const [fsPart, rawPart] = [`${disk}1`, `${disk}2`];
for (let i = 0; i < 50 && !bash(`[ -b ${rawPart} ] && echo y || true`); i++) await sleep(100);
const rawStart = Number(sh('cat', `/sys/class/block/${rawPart.slice(5)}/start`)); // sectors
const rawSectors = sectors(rawPart);
sh('mkfs.ext4', '-q', '-F', fsPart);
sh('mkdir', '-p', '/tmp/s');
sh('mount', fsPart, '/tmp/s');
insmod();

// Snapshot 1, storage in a file on the tracked disk.
const s1 = await kmod.create([disk]);
await native.allocateFile('/tmp/s/diff1', 48 * MiB);
const fx = await native.fileExtents('/tmp/s/diff1');
const fsStart = Number(sh('cat', `/sys/class/block/${fsPart.slice(5)}/start`));
const storage = fx.extents.map((e) => ({ start: e.physical / 512, count: e.length / 512 }));
await kmod.appendStorage(s1, fsPart, storage);
await kmod.take(s1);
const t1 = await kmod.trackerInfo(disk);
check(t1.number === 1, `number 1 after the first take (got ${t1.number})`);
const bs = t1.blockSize / 512; // sectors per tracking block
log(`tracker: block ${t1.blockSize} B, ${t1.blockCount} blocks; storage file in ${storage.length} extent(s)`);

// Known writes into the raw partition: through it and through the disk.
let seed = 12345;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
const written = []; // absolute disk sectors
for (let i = 0; i < 24; i++) {
  const count = 1 + rand(2048); // 512 B .. 1 MiB
  const start = rand(rawSectors - count);
  const viaDisk = i % 2 === 0;
  const target = viaDisk ? disk : rawPart;
  const at = viaDisk ? rawStart + start : start;
  sh('dd', 'if=/dev/urandom', `of=${target}`, 'bs=512', `seek=${at}`, `count=${count}`, 'oflag=direct', 'status=none');
  written.push({ start: rawStart + start, count });
}
const info1 = await kmod.info(s1);
log(`snapshot 1 copied ${info1.devices[0].chunksCopied} chunk(s) into its storage file`);
check(info1.devices[0].chunksCopied > 0, 'copies went into the storage file');
await kmod.destroy(s1);

// Snapshot 2: its frozen map shows the changes since snapshot 1.
const s2 = await kmod.create([disk]);
await kmod.appendStorage(s2, spare, wholeDevice(spare));
await kmod.take(s2);
const t2 = await kmod.trackerInfo(disk);
check(t2.number === 2 && t2.generation === t1.generation, 'number 2, same generation');
const map = await kmod.readCbtMap(disk);
check(map.length === t2.blockCount, `the map has ${t2.blockCount} cells`);

const blocksOf = (start, count) => {
  const out = [];
  for (let b = Math.floor(start / bs); b <= Math.floor((start + count - 1) / bs); b++) out.push(b);
  return out;
};
const changed = new Set(written.flatMap((w) => blocksOf(w.start, w.count)));
for (const b of changed) check(map[b] >= 1, `block ${b} written since snapshot 1 is marked (cell ${map[b]})`);
const rawFirst = Math.ceil(rawStart / bs);
const rawLast = Math.floor((rawStart + rawSectors) / bs) - 1;
let quiet = 0;
for (let b = rawFirst; b <= rawLast; b++) {
  if (changed.has(b)) continue;
  check(map[b] === 0, `block ${b} of the raw partition was not written but is marked (${map[b]})`);
  quiet++;
}
let inStorage = 0;
for (const r of storage) {
  const a = fsStart + r.start;
  for (let b = Math.ceil(a / bs); (b + 1) * bs <= a + r.count; b++) {
    check(map[b] === 0, `block ${b} of the storage file is marked (${map[b]}): the module's own writes were tracked`);
    inStorage++;
  }
}
log(`map exact: ${changed.size} written block(s) marked, ${quiet} untouched raw block(s) and ${inStorage} storage block(s) clear`);

// Writes after snapshot 2 are >= 2 at snapshot 3; the older ones are not.
const late = rawStart + 8 * bs;
sh('dd', 'if=/dev/urandom', `of=${disk}`, 'bs=512', `seek=${late}`, 'count=8', 'oflag=direct', 'status=none');
await kmod.markDirty(disk, [{ start: rawStart + 100 * bs, count: 1 }]);
const dirtyNow = await kmod.readCbtMap(disk, Math.floor((rawStart + 100 * bs) / bs), 1);
check(dirtyNow[0] >= 2, 'MARK_DIRTY marks the frozen copy too');
await kmod.destroy(s2);
const s3 = await kmod.create([disk]);
await kmod.take(s3);
const map3 = await kmod.readCbtMap(disk);
check((await kmod.trackerInfo(disk)).number === 3, 'number 3');
check(map3[Math.floor(late / bs)] >= 2, 'a write after snapshot 2 is >= 2 at snapshot 3');
check(map3[Math.floor((rawStart + 100 * bs) / bs)] >= 2, 'a block marked dirty is >= 2 at snapshot 3');
const touched = new Set([...blocksOf(late, 8), Math.floor((rawStart + 100 * bs) / bs)]);
for (const b of changed) if (!touched.has(b)) check(map3[b] === 1, `block ${b} changed before snapshot 2 only is 1 (${map3[b]})`);
await kmod.destroy(s3);

// Run the number up to 255; the next take restarts the map.
const started = Date.now();
for (let n = 4; n <= 255; n++) {
  const s = await kmod.create([disk]);
  await kmod.take(s);
  await kmod.destroy(s);
}
const t255 = await kmod.trackerInfo(disk);
log(`252 take/destroy cycles in ${((Date.now() - started) / 1000).toFixed(1)} s`);
check(t255.number === 255 && t255.generation === t1.generation, 'number 255, same generation');
const s256 = await kmod.create([disk]);
await kmod.take(s256);
const t256 = await kmod.trackerInfo(disk);
check(t256.number === 1 && t256.generation !== t1.generation, `restarted: number 1 (${t256.number}), new generation`);
check((await kmod.readCbtMap(disk)).every((c) => c === 0), 'the map of a new generation is empty');
await kmod.destroy(s256);
await kmod.detach(disk);
sh('umount', '/tmp/s');
rmmod();
log('ok');
