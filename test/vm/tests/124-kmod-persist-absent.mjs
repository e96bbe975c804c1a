// Persistent change map, "written while the module was absent" (issue 14):
// the boot tool's stamp. A store made with `snapkeep-boot mkstore` (its
// extra stamp page), attached and sealed with `snapkeep-boot attach` and
// `seal`; between the seal and the next attach, with the module loaded but
// no tracker (as if the module were absent):
//  - ext4 mounted ro,noload and read: nothing written, the map continues;
//  - ext4 mounted read-write and unmounted, no file written: a new
//    generation, reason "absent", the log says the mount count moved;
//  - a file written: again "absent";
//  - the stamp page's bytes flipped: "absent" (never a silent continue),
//    and a zeroed stamp page: "absent", and the next seal refuses to write
//    over it (it is not provably the store's page);
//  - the stamp of an earlier seal put back: "absent";
//  - sealed while mounted read-write, a file written after the seal:
//    "absent"; a superblock whose journal needed recovery at the seal:
//    "absent";
//  - xfs: mounted ro,norecovery: continued; mounted read-write and
//    unmounted, nothing written: "absent" (the unmount logs the superblock,
//    whose log sequence number moves); a file written: "absent";
//  - no known file system: continued, flagged unverified;
//  - a whole disk with a GPT, ext4 and xfs partitions: nothing done,
//    continued; partition 1 mounted ro,noload: continued; partition 2
//    (xfs) mounted rw: "absent"; a file written to partition 1: "absent";
//    a partition renamed: "absent" (the table changed); partition 1 made
//    swap: continued, unverified; a GPT header claiming 2^32-1 entries:
//    continued, unverified.
// vm: disks=512M,64M modules=ext4,xfs timeout=420
import { readFileSync, writeFileSync } from 'node:fs';
import { bash, check, disks, insmod, kmod, log, rmmod, sh } from '../helpers/kmodlib.mjs';
import { BOOT_CONF, bootTool } from '../helpers/boot-tool.mjs';
import { PAGE, readDirect, writeDirect } from '../helpers/persist.mjs';

const [disk, other] = disks;
const CONF = BOOT_CONF;
insmod();

const tool = (...args) => bootTool(args);

// The store on another disk's ext4, made by the tool.
sh('mkfs.ext4', '-q', '-F', '-b', '4096', other);
sh('mkdir', '-p', '/tmp/other', '/tmp/t');
sh('mount', other, '/tmp/other');
sh('mkfs.ext4', '-q', '-F', disk);
let r = tool('mkstore', '--device', disk, '--identity', 'test-disk', '--store-device', other, '--file', '/tmp/other/map.store');
check(r.status === 0, `mkstore: ${r.out}`);
const stampSector = Number(/ stamp=(\d+)/.exec(readFileSync(CONF, 'utf8'))?.[1]);
check(Number.isSafeInteger(stampSector), 'the config line has stamp=');
const stampAt = stampSector * 512;
log(`stamp page at sector ${stampSector} of ${other}`);

let gen = null;
async function attach(want, what, reason = 'none') {
  const a = tool('attach');
  check(a.status === 0, `${what}: attach exited ${a.status}`);
  const t = await kmod.trackerInfo2(disk);
  const p = t.persist;
  if (want === 'continued') {
    check(p.continued && !p.unclean && !p.unverified && p.reason === 'none' && t.generation === gen,
      `${what}: the map continues (${JSON.stringify({ ...p, generation: t.generation, was: gen })})`);
    check(/writes while the module was absent: none, /.test(a.out), `${what}: the log says nothing was written`);
  } else {
    check(!p.continued && p.reason === reason && t.generation !== gen && t.number === 0,
      `${what}: a new generation, reason ${reason} (${JSON.stringify({ ...p, generation: t.generation, was: gen })})`);
    check(a.out.includes(`NEW generation ${t.generation}, reason ${reason} (`), `${what}: the log line names the reason`);
  }
  gen = t.generation;
  return a.out;
}
async function takeAndSeal(what) {
  const id = await kmod.create([disk]);
  await kmod.take(id);
  await kmod.destroy(id);
  const s = tool('seal');
  check(s.status === 0 && /stamped/.test(s.out), `${what}: seal and stamp`);
  check(readDirect(other, PAGE, stampAt).subarray(0, 4).toString() === 'SKST', `${what}: the stamp page holds a stamp`);
}
const writeFile = (name) => {
  sh('mount', disk, '/tmp/t');
  writeFileSync(`/tmp/t/${name}`, Buffer.alloc(256 * 1024, 7));
  sh('umount', '/tmp/t');
};

// First attach: a new store; a file written while tracked; sealed.
await attach('new', 'first attach', 'new');
writeFile('a');
await takeAndSeal('first seal');

// Read-only, no journal replay: nothing written, continued.
sh('mount', '-o', 'ro,noload', disk, '/tmp/t');
readFileSync('/tmp/t/a');
sh('umount', '/tmp/t');
await attach('continued', 'ext4 mounted ro,noload between seal and attach');
await takeAndSeal('second seal');

// Mounted read-write and unmounted, no file written: absent.
sh('mount', disk, '/tmp/t');
sh('umount', '/tmp/t');
let out = await attach('absent', 'ext4 mounted rw and unmounted', 'absent');
check(/ext4 mount count (\d+) -> (\d+) since the seal of /.test(out), 'the reason names the mount count');
await takeAndSeal('third seal');

// A file written while no tracker was there: absent.
writeFile('b');
await attach('absent', 'ext4 file written between seal and attach', 'absent');
await takeAndSeal('fourth seal');

// Then a clean cycle continues again.
await attach('continued', 'nothing between seal and attach');
// Attach again while tracked (the helper does at its start): the live map
// is left alone, whatever the file system did meanwhile (tracked writes).
writeFile('c');
const again = tool('attach');
const at = await kmod.trackerInfo2(disk);
check(again.status === 0 && /tracked already/.test(again.out) && !/absent/.test(again.out) && at.generation === gen,
  `attach while tracked: left alone (${again.status}, ${at.generation} vs ${gen})`);
await takeAndSeal('fifth seal');

// Sealed while mounted read-write (a seal by hand, or at uninstall): its
// writes after the seal need not reach the superblock before a crash.
await attach('continued', 'before the seal while mounted');
sh('mount', disk, '/tmp/t');
const iu = tool('seal');
check(iu.status === 0 && /mounted read-write at the seal: the next attach restarts its map/.test(iu.out), 'the seal says the device is in use');
writeFileSync('/tmp/t/after-seal', Buffer.alloc(64 * 1024, 3));
sh('sync');
out = await attach('absent', 'sealed while mounted read-write, attached while still mounted', 'absent');
check(/the device was mounted read-write at the seal of /.test(out), 'the reason says mounted at the seal');
sh('umount', '/tmp/t');
await takeAndSeal('after the seal while mounted');

// A superblock whose journal needs recovery at the seal (a file system in
// use elsewhere, as through a stacked device): absent.
await attach('continued', 'before the superblock needing recovery');
sh('mount', disk, '/tmp/t');
const dirty = readDirect(disk, PAGE, 0);
sh('umount', '/tmp/t');
check((dirty.readUInt32LE(1024 + 0x60) & 4) !== 0, 'a mounted ext4 has needs_recovery in its superblock');
writeDirect(disk, dirty, 0);
await takeAndSeal('seal of a superblock needing recovery');
out = await attach('absent', 'journal needed recovery at the seal', 'absent');
check(/ext4 was in use \(its journal needed recovery\) at the seal of /.test(out), 'the reason says the journal needed recovery');
sh('mount', disk, '/tmp/t');
sh('umount', '/tmp/t');
await takeAndSeal('after the recovery case');
await attach('continued', 'clean again');
await takeAndSeal('sealed clean again');

// The stamp page corrupted: never a silent continue.
const good = readDirect(other, PAGE, stampAt);
const bad = Buffer.from(good);
bad[200] ^= 0x10;
writeDirect(other, bad, stampAt);
out = await attach('absent', 'stamp bytes flipped', 'absent');
check(/no valid stamp/.test(out), 'the reason says the stamp is not valid');
// A damaged page is not provably the store's: the seal leaves it alone
// (the map restarts at every attach) until it is made fresh again.
const fresh = Buffer.alloc(PAGE);
fresh.write('snapkeep-stamp fresh\nidentity=test-disk\n');
let s = tool('seal');
check(s.status === 1 && /is not this store's stamp page: nothing written there/.test(s.out), `seal over a damaged stamp page: refused (${s.status})`);
check(readDirect(other, PAGE, stampAt).equals(bad), 'the damaged page is untouched');
await attach('absent', 'after a seal that could not stamp', 'absent');
writeDirect(other, fresh, stampAt);
await takeAndSeal('sixth seal');

// An earlier seal's stamp put back (valid, but not this seal's): absent.
const earlier = readDirect(other, PAGE, stampAt);
await attach('continued', 'before the stale stamp');
await takeAndSeal('seventh seal');
writeDirect(other, earlier, stampAt);
out = await attach('absent', 'an earlier seal\'s stamp', 'absent');
check(/older seal/.test(out), 'the reason says the stamp is of an older seal');

// A zeroed stamp page: absent, and the seal will not write over it.
await takeAndSeal('eighth seal');
writeDirect(other, Buffer.alloc(PAGE), stampAt);
out = await attach('absent', 'stamp page zeroed', 'absent');
const id = await kmod.create([disk]);
await kmod.take(id);
await kmod.destroy(id);
s = tool('seal');
check(s.status === 1 && /is not this store's stamp page: nothing written there/.test(s.out), `seal over a foreign stamp page: refused (${s.status})`);
check(readDirect(other, PAGE, stampAt).equals(Buffer.alloc(PAGE)), 'the foreign page is untouched');
await attach('absent', 'after a seal that could not stamp', 'absent');
// Repair: the page made fresh again (as mkstore leaves it) is stamped again.
writeDirect(other, fresh, stampAt);
await takeAndSeal('seal over the fresh page');
await attach('continued', 'after the repaired stamp');

// xfs on the same device (made while tracked).
sh('mkfs.xfs', '-q', '-f', disk);
writeFile('x');
await takeAndSeal('xfs seal');
sh('mount', '-o', 'ro,norecovery', disk, '/tmp/t');
readFileSync('/tmp/t/x');
sh('umount', '/tmp/t');
await attach('continued', 'xfs mounted ro,norecovery between seal and attach');
await takeAndSeal('xfs second seal');
sh('mount', disk, '/tmp/t');
sh('umount', '/tmp/t');
out = await attach('absent', 'xfs mounted rw and unmounted, nothing written', 'absent');
check(/xfs superblock log sequence \d+:\d+ -> \d+:\d+ since the seal of /.test(out), 'the reason names the xfs log sequence');
await takeAndSeal('xfs third seal');
writeFile('y');
out = await attach('absent', 'xfs file written between seal and attach', 'absent');
check(/xfs superblock/.test(out), 'the reason names the xfs superblock');

// No file system the tool knows (its signatures wiped while tracked):
// continued, but flagged unverified and said so in the log.
sh('wipefs', '-a', '-q', disk);
await takeAndSeal('seal of unknown contents');
const u = tool('attach');
const ut = await kmod.trackerInfo2(disk);
check(ut.persist.continued && ut.persist.unverified && ut.generation === gen, `unknown contents: continued, unverified (${JSON.stringify(ut.persist)})`);
check(/writes while the module was absent: NOT CHECKED, unknown contents/.test(u.out), 'the log says it was not checked');

// A whole disk with a GPT: ext4 and xfs partitions (made while tracked).
bash(`printf 'label: gpt\\n,100M\\n,\\n' | sfdisk -q ${disk}`);
sh('mkfs.ext4', '-q', '-F', `${disk}1`);
sh('mkfs.xfs', '-q', '-f', `${disk}2`);
await takeAndSeal('seal of a partitioned disk');
const ga = await attach('continued', 'GPT, nothing between seal and attach');
check(/the partition table and 2 file system\(s\) unchanged/.test(ga), 'the log names the table and both file systems');
await takeAndSeal('GPT second seal');
sh('mount', '-o', 'ro,noload', `${disk}1`, '/tmp/t');
sh('umount', '/tmp/t');
await attach('continued', 'GPT, partition 1 mounted ro,noload');
await takeAndSeal('GPT third seal');
sh('mount', `${disk}2`, '/tmp/t');
sh('umount', '/tmp/t');
out = await attach('absent', 'GPT, partition 2 (xfs) mounted rw', 'absent');
check(/partition 2 \(xfs\) superblock log sequence/.test(out), 'the reason names partition 2');
await takeAndSeal('GPT fourth seal');
sh('mount', `${disk}1`, '/tmp/t');
writeFileSync('/tmp/t/p', Buffer.alloc(4096, 1));
sh('umount', '/tmp/t');
out = await attach('absent', 'GPT, a file written to partition 1 (ext4)', 'absent');
check(/partition 1 \(ext4\) mount count/.test(out), 'the reason names partition 1');
await takeAndSeal('GPT fifth seal');
sh('sfdisk', '-q', '--part-label', disk, '1', 'renamed');
out = await attach('absent', 'GPT, a partition renamed', 'absent');
check(/the partition table changed/.test(out), 'the reason names the table');
// A partition without counters (swap): continued, unverified.
sh('mkswap', '-q', `${disk}1`);
await takeAndSeal('GPT with swap');
const sw = tool('attach');
const st = await kmod.trackerInfo2(disk);
check(st.persist.continued && st.persist.unverified, `GPT with a swap partition: continued, unverified (${JSON.stringify(st.persist)})`);
check(/NOT CHECKED, partition 1 holds unknown contents/.test(sw.out), 'the log names the unchecked partition');
// A hostile GPT header (2^32-1 entries): read safely, continued, unverified.
const lba = readDirect(disk, PAGE, 0);
lba.writeUInt32LE(0xffffffff, 512 + 80);
writeDirect(disk, lba, 0);
await takeAndSeal('seal with a hostile GPT header');
const h = tool('attach');
const ht = await kmod.trackerInfo2(disk);
check(h.status === 0 && ht.persist.continued && ht.persist.unverified, `hostile GPT header: continued, unverified (${h.status}, ${JSON.stringify(ht.persist)})`);
check(/NOT CHECKED, a partition table not read whole/.test(h.out), 'the log says the table could not be read whole');
s = tool('seal');
check(s.status === 0, 'last seal');

// The addon's flags: a sealed store restarts on request, reason 'absent'.
const ranges = /ranges=(\S+)/.exec(readFileSync(CONF, 'utf8'))[1].split(',').map((r) => {
  const [start, count] = r.split('+').map(Number);
  return { start, count };
});
await kmod.attachPersistent(disk, { device: other, ranges, identity: 'test-disk', restart: true });
const rq = await kmod.trackerInfo2(disk);
check(!rq.persist.continued && rq.persist.reason === 'absent' && rq.generation !== gen, `attachPersistent({restart}): reason ${rq.persist.reason}`);
await kmod.detach(disk);
sh('umount', '/tmp/other');
rmmod();
log('ok');
