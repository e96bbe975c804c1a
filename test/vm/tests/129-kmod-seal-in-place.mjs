// A kept change map on a device that is also in a checkpoint (issues 14
// and 15): DETACH is refused while the checkpoint holds the device, so the
// shutdown seal seals the map in place (SEAL_IN_PLACE, ABI 1.6) and
// stamps it; the tracker stays attached. The map's store file lives on the
// tracked device itself (as on a root file system), so the stamp page is
// written through the tracker.
//  - ext4 with a kept map, a take, writes, a checkpoint, writes, a take
//    and one write (the stamp page's cell not marked then); `seal`:
//    the map is sealed in place (store on disk: SEALED, map CRC right),
//    stamped, still tracked and still sealed after its stamp was written;
//  - (a) the disk as it is then ("power cut" onto a copy), attached: the
//    map continues, sealed, same generation, number and cells, and the
//    stamp finds no write since the seal;
//  - (b) a write to a cell durable already leaves the seal; a write to a
//    cell not yet marked finds the store unsealed on disk when it returns;
//    a copy of the disk then continues only as unclean (write intent);
//  - hostile SEAL_IN_PLACE requests (seal-hostile.c), ending with the map
//    sealed in place twice (EALREADY); `seal` then stamps it;
//  - (c) a copy of the disk after that seal, written while no module
//    watched it: the attach finds the stamp changed and restarts the map
//    (reason absent).
// With the tool before ABI 1.6 the seal fails for the device ("detach
// failed: Device or resource busy: not sealed"). Without writing the stamp
// page back before the seal, its stamp would unseal the map again.
// vm: disks=64M,48M,64M,16M,16M modules=ext4 timeout=300 kernels=6.12,6.1,debug
import { readFileSync, writeFileSync } from 'node:fs';
import { check, disks, errnoOf, HELPERS, insmod, kmod, log, sh } from '../helpers/kmodlib.mjs';
import { BOOT_CONF, bootTool } from '../helpers/boot-tool.mjs';
import { crc32c, INTENT, PAGE, parseMeta, readDirect, SEALED, writeDirect } from '../helpers/persist.mjs';
import { spawnSync } from 'node:child_process';

const [dev, cstore, copy, plainDisk, niDisk] = disks;
const MNT = '/tmp/d';
const STORE = { start: 2048, count: 24 * 2048 };
const CKSTAMP = STORE.start + STORE.count;
insmod();
sh('mkdir', '-p', MNT);

const tool = (...args) => bootTool(args);
const writeFiles = (d, prefix, n) => {
  sh('mount', d, MNT);
  for (let i = 0; i < n; i++) sh('dd', 'if=/dev/urandom', `of=${MNT}/${prefix}${i}`, 'bs=64k', 'count=4', 'status=none');
  sh('umount', MNT);
};
const cloneTo = (to) => sh('dd', `if=${dev}`, `of=${to}`, 'bs=1M', 'iflag=direct', 'oflag=direct', 'status=none');
const name = (d) => d.replace('/dev/', '');
// The tool's line for the map (the checkpoint's names the path: /dev/...).
const mapStamped = (out) => new RegExp(`(^|\\s)${name(dev)}: stamped`, 'm').test(out);

// ---- ext4, its map's store file on itself ----
sh('mkfs.ext4', '-q', '-F', '-b', '4096', '-E', 'lazy_itable_init=0,lazy_journal_init=0', dev);
writeFiles(dev, 'base', 4);
sh('mount', dev, MNT);
let r = tool('mkstore', '--device', dev, '--identity', 'map-a', '--store-device', dev, '--file', `${MNT}/map.store`);
sh('umount', MNT);
check(r.status === 0, `mkstore: ${r.out}`);
const trackLine = readFileSync(BOOT_CONF, 'utf8').trim();
const ranges = /ranges=(\S+)/.exec(trackLine)?.[1] ?? '';
const stampAt = Number(/ stamp=(\d+)/.exec(trackLine)?.[1]) * 512;
check(Number.isSafeInteger(stampAt) && /^\d+\+\d+$/.test(ranges), `the map line has one range and stamp= (${trackLine})`);
// The store's first range on the device: the metadata and the map.
const storeAt = Number(ranges.split(',')[0].split('+')[0]) * 512;
const ckptLine = `checkpoint ${dev} identity=ck-a store=${cstore} ranges=${STORE.start}+${STORE.count} stamp=${CKSTAMP}`;
const conf = (...lines) => writeFileSync(BOOT_CONF, `${lines.join('\n')}\n`, { mode: 0o600 });
const lineFor = (d) => trackLine.replaceAll(dev, d);
conf(trackLine);

r = tool('attach');
check(r.status === 0, 'the map attached');
let t = await kmod.trackerInfo2(dev);
check(t.persist.intent && !t.persist.sealed, 'write intent, not sealed');
const cells = t.blockCount;
const bs = t.blockSize;
// The store as it is on the device (its one range): the newest valid
// metadata copy and the cells (as readStore(), without a file: tmpfs
// before 6.6 has no O_DIRECT).
const store = (d = dev) => {
  const buf = readDirect(d, (2 + Math.ceil(cells / PAGE)) * PAGE, storeAt);
  let newest = null;
  for (const m of [parseMeta(buf.subarray(0, PAGE)), parseMeta(buf.subarray(PAGE, 2 * PAGE))])
    if (m?.crcOk && (!newest || m.sequence > newest.sequence)) newest = m;
  return { newest, map: buf.subarray(2 * PAGE, 2 * PAGE + cells) };
};
const s0 = await kmod.create([dev]);
await kmod.take(s0);
await kmod.destroy(s0);
writeFiles(dev, 'one', 3);
writeDirect(cstore, Buffer.from('snapkeep-stamp fresh\n'.padEnd(PAGE, '\0'), 'latin1'), CKSTAMP * 512);
const ck = await kmod.checkpointCreate([{ device: dev, identity: 'ck-a' }], { device: cstore, ranges: [STORE] }, 'upgrade');
writeFiles(dev, 'two', 3);
// A backup's take under the checkpoint, and one block written after it:
// the stamp page's cell is not marked with the new number before the seal.
const s1 = await kmod.create([dev]);
await kmod.take(s1);
await kmod.destroy(s1);
const stampCell = Math.floor(stampAt / bs);
const early = stampCell === 3 ? 4 : 3;
const rewriteBlock = (block) => {
  const at = (block * bs) / PAGE;
  sh('dd', `if=${dev}`, 'of=/tmp/blk', `bs=${PAGE}`, `skip=${at}`, 'count=1', 'iflag=direct', 'status=none');
  sh('dd', 'if=/tmp/blk', `of=${dev}`, `bs=${PAGE}`, `seek=${at}`, 'count=1', 'oflag=direct', 'conv=notrunc', 'status=none');
};
rewriteBlock(early);
t = await kmod.trackerInfo2(dev);
const gen = t.generation;
const number = t.number;
check(number === 2, `number 2 after the second take (${number})`);
check(store().map[stampCell] < number && store().map[early] === number,
  `before the seal the stamp page's cell (${stampCell}) is not marked with ${number}, block ${early} is`);

// ---- the shutdown seal: DETACH refused, sealed in place, stamped ----
conf(trackLine, ckptLine);
r = tool('seal');
check(r.status === 0 && r.out.includes(`${name(dev)} (`) && /sealed in place/.test(r.out),
  `the seal seals the map in place (status ${r.status})`);
check(mapStamped(r.out), 'and stamps it');
check(r.out.includes(`checkpoint upgrade: ${dev}: stamped`), 'the checkpoint device is stamped too');
t = await kmod.trackerInfo2(dev);
check(t.persist.sealed && t.persist.intent && t.generation === gen && t.number === number, 'still tracked, sealed in place (after its stamp page was written)');
check(!/written since its seal/.test(r.out), 'the seal did not find it written since (its stamp page write did not unseal it)');
check(/ sealed=in-place/.test(tool('status').out), 'status says sealed in place');
let st = store();
check(st.newest && (st.newest.flags & SEALED) && st.newest.mapCrc === crc32c(st.map) && st.newest.number === number,
  `the store on disk: sealed, map CRC right (flags ${st.newest?.flags}, sequence ${st.newest?.sequence})`);
const sealedMap = Buffer.from(st.map);
const stamp = readDirect(dev, PAGE, stampAt);
check(stamp.subarray(0, 4).toString() === 'SKST' && Number(stamp.readBigUInt64LE(16)) === st.newest.sequence,
  'the stamp is bound to the sealed copy');

// ---- (a) the disk right after the seal, attached as the next boot would ----
cloneTo(copy);
conf(lineFor(copy));
r = tool('attach');
let c = await kmod.trackerInfo2(copy);
check(r.status === 0 && c.persist.continued && !c.persist.unclean && !c.persist.unverified && c.generation === gen && c.number === number,
  `(a) the map continues, sealed, same generation and number (${JSON.stringify({ ...c.persist, number: c.number })})`);
check(/map continued, sealed/.test(r.out) && /writes while the module was absent: none/.test(r.out), '(a) the stamp found no write since the seal');
check(Buffer.compare(await kmod.readCbtMap(copy), sealedMap) === 0, '(a) its cells are the sealed ones');
await kmod.detach(copy);

// ---- (b) writes through the module after the seal ----
// Each rewrites a block with its own bytes: the file system stays whole.
const marked = early;
const unmarked = sealedMap.findLastIndex((v) => v < number);
check(sealedMap[marked] >= number && unmarked > 0 && unmarked !== stampCell, `a marked cell (${marked}) and an unmarked one (${unmarked})`);
rewriteBlock(marked);
t = await kmod.trackerInfo2(dev);
st = store();
check(t.persist.sealed && (st.newest.flags & SEALED), '(b) a write to a durable cell leaves the seal');
rewriteBlock(unmarked);
st = store();
check(!(st.newest.flags & SEALED) && (st.newest.flags & INTENT) && st.map[unmarked] >= number,
  `(b) when a write to an unmarked cell returned, the store on disk is unsealed (flags ${st.newest.flags}) and marks it`);
t = await kmod.trackerInfo2(dev);
check(!t.persist.sealed && t.persist.intent, '(b) TRACKER_INFO2 no longer says sealed');
cloneTo(copy);
conf(lineFor(copy));
r = tool('attach');
c = await kmod.trackerInfo2(copy);
check(c.persist.continued && c.persist.unclean && c.generation === gen,
  `(b) after a "power cut" then, the map is not trusted as sealed: continued under write intent (${JSON.stringify(c.persist)})`);
check((await kmod.readCbtMap(copy))[unmarked] >= number, '(b) and it has the write');
await kmod.detach(copy);

// ---- hostile requests; the map sealed in place by them, twice ----
await kmod.attach(plainDisk);
await kmod.attachPersistent(niDisk, { device: niDisk, ranges: [{ start: 2048, count: 64 * 8 }], identity: 'ni', noIntent: true });
const h = spawnSync(`${HELPERS}/seal-hostile`, [cstore, plainDisk, niDisk, dev], { encoding: 'utf8' });
for (const line of `${h.stdout}${h.stderr}`.trim().split('\n')) log(`  | ${line}`);
check(h.status === 0, 'seal-hostile: every request failed as it should');
await kmod.detach(plainDisk);
await kmod.detach(niDisk);
conf(trackLine, ckptLine);
r = tool('seal');
check(r.status === 0 && mapStamped(r.out), 'a seal after that stamps the map (sealed in place already)');
check((await kmod.trackerInfo2(dev)).persist.sealed, 'still sealed');

// ---- (c) written while no module watched ----
cloneTo(copy);
writeFiles(copy, 'absent', 2);
conf(lineFor(copy));
r = tool('attach');
c = await kmod.trackerInfo2(copy);
check(!c.persist.continued && c.persist.reason === 'absent' && c.generation !== gen,
  `(c) written after the seal without the module: the map restarts, reason absent (${JSON.stringify(c.persist)})`);
check(/mount count|write time|kbytes written/.test(r.out), '(c) the log names what changed');

// ---- a backup's snapshot still holding a device at the seal is destroyed
// first (only then: the checkpoint's EBUSY destroys nothing) ----
const snap = await kmod.create([copy]);
await kmod.take(snap);
conf(trackLine, lineFor(copy));
r = tool('seal');
check(r.status === 0 && r.out.includes(`${name(copy)}: destroying snapshot ${snap}`) && r.out.includes(`${name(copy)} (`) && /sealed: generation/.test(r.out),
  'the seal destroys the snapshot holding the copy, then detaches (seals) it');
check(!/destroying snapshot 0{8}-/.test(r.out) && /sealed in place/.test(r.out), 'the checkpointed device is sealed in place, no snapshot destroyed for it');
check((await kmod.list()).length === 0, 'no snapshot left');
check((await errnoOf(kmod.trackerInfo2(copy))) === 'ENOENT', 'the copy is no longer tracked');

await kmod.checkpointCommit(ck);
await kmod.detach(dev);
log('ok');
