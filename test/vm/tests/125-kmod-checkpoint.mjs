// Checkpoints (issue 15): the first write to each chunk waits until the
// chunk's old data and its log entry are durable in the store; the boot
// tool validates the whole log and writes the old data back, resumably.
// A power cut is the state of the disks at an instant when nothing is in
// flight (the file system unmounted): both disks are copied then, and the
// copies are what the next boot would find.
//  - ext4, checkpoint taken while mounted (the module freezes it; the
//    reference image is read while it is frozen): files overwritten,
//    deleted, created, fstrim; unmounted, "power cut" (copies), commit;
//    the live store then says committed (rollback refused);
//  - the copies' log corrupted (an entry, both metadata copies, a data
//    block): refused, nothing written; the bytes put back;
//  - the copies re-attached by `snapkeep-boot attach` (as at boot): the
//    log goes on, more writes, another "power cut" onto the first pair,
//    commit; rollback there cut short 3 times (a power cut during the
//    rollback) and resumed: the device equals the reference byte for
//    byte, fsck is clean; again: "rolled back already";
//  - xfs, two devices in one checkpoint: rolled back exactly;
//  - a whole disk with 4 KiB logical blocks, its store in its own second
//    partition: rolled back exactly, the store's sectors left out;
//  - a store too small: the checkpoint becomes invalid (reason full), the
//    writes all succeed and read back, the rollback is refused;
//  - created and committed or abandoned 12 times while a writer runs
//    (seed 003: a state change under load BUGged, removal hung): every
//    write succeeds, nothing hangs;
//  - hostile ioctl arguments (helpers/ckpt-hostile.c).
// vm: disks=96M,48M,96M,48M,32M:4k,32M:4k modules=ext4,xfs timeout=420 kernels=6.12,debug
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { bash, check, devsum, disks, HELPERS, insmod, kmod, log, sh } from '../helpers/kmodlib.mjs';
import { BOOT_CONF, bootTool } from '../helpers/boot-tool.mjs';
import { PAGE, readDirect, writeDirect } from '../helpers/persist.mjs';

const [disk, sdisk, copy, scopy, k4, k4copy] = disks;
const CONF = BOOT_CONF;
const MNT = '/tmp/ck';
// The store: raw sectors of the store disk, 1 MiB in, 24 MiB long.
const STORE = { start: 2048, count: 24 * 2048 };
const t0 = performance.now();
const timing = {};
const lap = (what, since) => {
  timing[what] = ((performance.now() - since) / 1000).toFixed(1);
  return performance.now();
};
insmod();
sh('mkdir', '-p', MNT);

const tool = (args, env = {}) => bootTool(args, { env });
/** The config: one checkpoint line per device, all on one store. */
function conf(devices, store, range = STORE) {
  writeFileSync(CONF, devices.map(([d, id]) => `checkpoint ${d} identity=${id} store=${store} ranges=${range.start}+${range.count}\n`).join(''), { mode: 0o600 });
}
/** What a power cut now leaves: both disks as they are, onto the copies. */
function cut(from, to) {
  for (let i = 0; i < from.length; i++)
    sh('dd', `if=${from[i]}`, `of=${to[i]}`, 'bs=1M', 'iflag=direct', 'oflag=direct', 'status=none');
}
function randomFile(path, kib) {
  sh('dd', 'if=/dev/urandom', `of=${path}`, 'bs=4k', `count=${kib / 4}`, 'status=none');
}
const storeAt = (page) => STORE.start * 512 + page * PAGE;

// ---- ext4: taken while mounted ----
let t = performance.now();
sh('mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', disk);
sh('mount', disk, MNT);
for (let i = 0; i < 24; i++) randomFile(`${MNT}/base${i}`, 256);
randomFile(`${MNT}/big`, 8192);
sh('sync');
sh('fsfreeze', '-f', MNT);
const ref = devsum(disk);
const id = await kmod.checkpointCreate([{ device: disk, identity: 'ck-disk' }], { device: sdisk, ranges: [STORE] }, 'before-upgrade');
sh('fsfreeze', '-u', MNT);
let info = await kmod.checkpointInfo(id);
check(info.state === 'active' && info.name === 'before-upgrade' && info.chunkSize === 65536,
  `a new active checkpoint (${JSON.stringify(info)})`);
check(readFileSync('/sys/kernel/snapkeep/checkpoints', 'utf8').includes(`${id} active name=before-upgrade`), 'its status line');
sh('dd', 'if=/dev/urandom', `of=${MNT}/big`, 'bs=64k', 'seek=17', 'count=40', 'conv=notrunc', 'status=none');
for (let i = 0; i < 24; i += 3) sh('rm', `${MNT}/base${i}`);
for (let i = 0; i < 12; i++) randomFile(`${MNT}/new${i}`, 128);
sh('fstrim', MNT);
sh('umount', MNT);
info = await kmod.checkpointInfo(id);
check(info.entries > 40 && info.records > 0, `chunks were saved (${info.entries} entries, ${info.records} records)`);
log(`ext4: ${info.entries} chunks saved in ${info.records} records, ${info.usedPages} of ${info.storePages} store pages`);
cut([disk, sdisk], [copy, scopy]);
await kmod.checkpointCommit(id);
check((await kmod.listCheckpoints()).length === 0, 'committed: no checkpoint left');
conf([[disk, 'ck-disk']], sdisk);
let r = tool(['rollback']);
check(r.status === 1 && /rollback refused: the checkpoint is committed: nothing was written/.test(r.out), 'the committed store: rollback refused');
t = lap('ext4 checkpoint, writes, commit', t);

// ---- the copies: a corrupted log is refused, nothing written ----
conf([[copy, 'ck-disk']], scopy);
const before = devsum(copy);
const storeBefore = devsum(scopy);
function corrupt(what, offsets, want) {
  const saved = offsets.map((o) => readDirect(scopy, PAGE, o - (o % PAGE)));
  for (const o of offsets) {
    const page = readDirect(scopy, PAGE, o - (o % PAGE));
    page[o % PAGE] ^= 0x5a;
    writeDirect(scopy, page, o - (o % PAGE));
  }
  const c = tool(['rollback']);
  check(c.status === 1 && c.out.includes('rollback refused') && want.test(c.out) && c.out.includes('nothing was written'),
    `${what}: refused with the reason`);
  offsets.forEach((o, i) => writeDirect(scopy, saved[i], o - (o % PAGE)));
}
corrupt('a flipped byte in log entry 2', [storeAt(3) + 64 + 2 * 32 + 5], /log (entry 2 \(record 0\)|record 0 .*) does not check/);
corrupt('both metadata copies', [storeAt(1) + 20, storeAt(2) + 20], /neither metadata copy is valid/);
corrupt('a flipped byte in the saved data of entry 0', [storeAt(4) + 1000], /the saved data of entry 0 does not match its CRC/);
corrupt('the header', [storeAt(0) + 40], /no valid checkpoint header/);
// Once for all four: a write by any of them would show.
check(devsum(copy) === before, 'the refused rollbacks left the device unchanged');
check(devsum(scopy) === storeBefore, 'and the store (bytes put back) too');
r = tool(['rollback', '--check']);
check(r.status === 0 && /the log checks: \d+ entries/.test(r.out), 'the log put back checks');
t = lap('corrupted logs refused', t);

// ---- re-attached at "boot", written, cut again ----
r = tool(['attach']);
check(r.status === 0 && /re-attached, \d+ chunk\(s\) saved so far/.test(r.out), 'attach re-attaches the active checkpoint');
const [cid] = await kmod.listCheckpoints();
const cinfo = await kmod.checkpointInfo(cid);
check(cinfo.resumed && cinfo.state === 'active' && cinfo.entries === info.entries && cinfo.name === 'before-upgrade',
  `the same checkpoint, re-attached (${JSON.stringify(cinfo)})`);
r = tool(['attach']);
check(r.status === 0 && /attached already/.test(r.out), 'a second attach: attached already');
r = tool(['status']);
check(new RegExp(`checkpoint store=${scopy} devices=${copy} name=before-upgrade id=${cid} state=active entries=${cinfo.entries} .* attached=yes`).test(r.out), 'status shows it');
r = tool(['rollback']);
check(r.status === 1 && /attached in the running kernel/.test(r.out), 'no rollback while attached');
sh('mount', copy, MNT);
for (let i = 0; i < 8; i++) randomFile(`${MNT}/after-boot${i}`, 256);
sh('dd', 'if=/dev/urandom', `of=${MNT}/big`, 'bs=64k', 'seek=80', 'count=24', 'conv=notrunc', 'status=none');
sh('umount', MNT);
const more = (await kmod.checkpointInfo(cid)).entries;
check(more > cinfo.entries, `the re-attached log goes on (${cinfo.entries} -> ${more} entries)`);
cut([copy, scopy], [disk, sdisk]);
await kmod.checkpointCommit(cid);
t = lap('re-attach, writes', t);

// ---- rollback, cut short three times ----
conf([[disk, 'ck-disk']], sdisk);
for (const n of [3, 30, 7]) {
  r = tool(['rollback'], { SNAPKEEP_BOOT_TEST_CUT_AFTER: String(n) });
  check(r.status === 9, `a rollback cut after ${n} more entries (exit ${r.status})`);
}
r = tool(['rollback']);
check(r.status === 0 && /resuming the rollback at entry \d+ of \d+/.test(r.out) && /rolled back: \d+ chunk/.test(r.out), 'the rollback resumes and finishes');
check(devsum(disk) === ref, 'ext4: the device equals the image at the checkpoint, byte for byte');
sh('e2fsck', '-fn', disk);
r = tool(['rollback']);
check(r.status === 0 && /rolled back already/.test(r.out), 'a second run: rolled back already');
r = tool(['attach']);
check(r.status === 0 && /rolled back, nothing to attach/.test(r.out), 'attach: nothing to attach');
t = lap('rollback with 3 cuts', t);

// ---- xfs, two devices in one checkpoint ----
const half = 48 * 2048;
bash(`TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f ${disk}`); // below 300 MB
sh('dd', 'if=/dev/urandom', `of=${copy}`, 'bs=1M', 'count=16', 'oflag=direct', 'status=none');
sh('mount', disk, MNT);
for (let i = 0; i < 16; i++) randomFile(`${MNT}/base${i}`, 256);
sh('umount', MNT);
const refs = [devsum(disk), devsum(copy)];
log('xfs + raw: made');
const xid = await kmod.checkpointCreate([{ device: disk, identity: 'ck-xfs' }, { device: copy, identity: 'ck-raw' }],
  { device: sdisk, ranges: [STORE] }, 'two');
sh('mount', disk, MNT);
for (let i = 0; i < 16; i += 2) randomFile(`${MNT}/base${i}`, 256);
for (let i = 0; i < 6; i++) randomFile(`${MNT}/new${i}`, 512);
sh('umount', MNT);
sh('dd', 'if=/dev/urandom', `of=${copy}`, 'bs=64k', 'seek=7', 'count=100', 'oflag=direct', 'status=none');
sh('dd', 'if=/dev/urandom', `of=${copy}`, 'bs=4k', `seek=${half / 8}`, 'count=3', 'oflag=direct', 'status=none');
info = await kmod.checkpointInfo(xid);
check(info.devs.length === 2 && info.entries > 100, `both devices saved (${info.entries} entries)`);
check(spawnSync('rmmod', ['snapkeep']).status !== 0 && (await kmod.listCheckpoints()).includes(xid), 'rmmod refused while a checkpoint is attached');
log('xfs + raw: written');
// The devices stay as they are (nothing writes them any more): only the
// store needs a copy, the live one is committed.
cut([sdisk], [scopy]);
await kmod.checkpointCommit(xid);
conf([[disk, 'ck-xfs'], [copy, 'ck-raw']], scopy);
r = tool(['rollback']);
check(r.status === 0, 'xfs + raw: rolled back');
check(devsum(disk) === refs[0] && devsum(copy) === refs[1], 'xfs + raw device: both equal their images at the checkpoint');
log('xfs + raw: rolled back');
sh('xfs_repair', '-n', disk);
t = lap('xfs + second device', t);

// ---- 4 KiB logical blocks, the store in a partition of the disk ----
check(sh('blockdev', '--getss', k4) === '4096', 'a 4Kn disk');
sh('dd', 'if=/dev/urandom', `of=${k4}`, 'bs=1M', 'count=32', 'oflag=direct', 'status=none');
bash(`printf 'label: dos\\nstart=256, size=3840\\nstart=4096\\n' | sfdisk -q ${k4}`);
sh('blockdev', '--rereadpt', k4);
// p2 starts at 16 MiB (4 KiB sector 4096); in its own 512-byte sectors the
// store is 1 MiB + 4 KiB in, 8 MiB long: its first chunk (64 KiB) holds
// one 4 KiB block that is not the store's, written first below, so the
// chunk is saved before any record exists: the log pages it holds are
// written later, and a rollback that wrote the chunk back whole would
// destroy its own log (a resume after a cut would refuse it).
const P2 = 4096 * 8;
const SMALLER = { start: 2056, count: 8 * 2048 };
const outside = (dev) => `${devsum(dev, (P2 + SMALLER.start) * 512)}:${devsum(dev, Infinity, (P2 + SMALLER.start + SMALLER.count) * 512)}`;
const ref4 = outside(k4);
const kid = await kmod.checkpointCreate([{ device: k4, identity: 'ck-4k' }], { device: `${k4}2`, ranges: [SMALLER] }, 'four-k');
for (const [at, n] of [[4096 + 256, 1], [1, 1], [5, 3], [1000, 17], [3000, 1], [4096 + 64, 40], [8096, 9]])
  sh('dd', 'if=/dev/urandom', `of=${k4}`, 'bs=4k', `seek=${at}`, `count=${n}`, 'oflag=direct', 'status=none');
info = await kmod.checkpointInfo(kid);
check(info.entries >= 8, `4Kn: ${info.entries} chunks saved`);
cut([k4], [k4copy]);
sh('blockdev', '--rereadpt', k4copy);
await kmod.checkpointCommit(kid);
conf([[k4copy, 'ck-4k']], `${k4copy}2`, SMALLER);
r = tool(['rollback', '--wait', '10'], { SNAPKEEP_BOOT_TEST_CUT_AFTER: String(info.entries) });
check(r.status === 9, 'a rollback cut after its last entry, before it says so');
r = tool(['rollback']);
check(r.status === 0 && /resuming the rollback/.test(r.out) && outside(k4copy) === ref4, '4Kn, store in its own partition: resumed, rolled back exactly outside the store');
r = tool(['rollback', '--check']);
check(/rolled back already/.test(r.out), 'the store (never written back over) says rolled back');
t = lap('4Kn', t);

// ---- a store too small: invalid, writes go on ----
const SMALL = { start: 2048, count: 64 * 8 };
const fid = await kmod.checkpointCreate([{ device: disk, identity: 'ck-full' }], { device: sdisk, ranges: [SMALL] }, 'small');
randomFile('/tmp/payload', 2048);
sh('dd', 'if=/tmp/payload', `of=${disk}`, 'bs=64k', 'oflag=direct', 'status=none');
check(devsum(disk, 2 << 20) === sh('md5sum', '/tmp/payload').split(' ')[0], 'every write reached the device');
info = await kmod.checkpointInfo(fid);
check(info.state === 'invalid' && info.reason === 'full', `the checkpoint is invalid, reason full (${info.state}, ${info.reason})`);
check(sh('dmesg').includes(`checkpoint ${fid} is no longer valid: the store is full`), 'the kernel log says why');
cut([sdisk], [scopy]);
await kmod.checkpointCommit(fid);
conf([[disk, 'ck-full']], scopy, SMALL);
const fullBefore = devsum(disk);
r = tool(['rollback']);
check(r.status === 1 && /the checkpoint is invalid: its store became full/.test(r.out), 'rollback refused: the store became full');
check(devsum(disk) === fullBefore, 'nothing was written');
t = lap('store full', t);

// ---- create / end repeated under a writer ----
// Random writes, direct and buffered, and discards (dropped or passed).
const writer = spawn(`${HELPERS}/randwrite`, ['--seconds', '6', '--max-io', '262144', disk], { stdio: 'inherit' });
const writerDone = new Promise((resolve) => writer.on('exit', resolve));
for (let i = 0; i < 12; i++) {
  const rid = await kmod.checkpointCreate([{ device: disk, identity: `rep-${i}` }], { device: sdisk, ranges: [STORE] }, `round-${i}`);
  await new Promise((resolve) => setTimeout(resolve, 150));
  await (i % 2 ? kmod.checkpointAbandon(rid) : kmod.checkpointCommit(rid));
}
check(await writerDone === 0, 'the writer under 12 checkpoints created and ended: every write succeeded');
check((await kmod.listCheckpoints()).length === 0, 'none left');
t = lap('12 create/end under a writer', t);

// ---- hostile arguments ----
const h = spawnSync(`${HELPERS}/ckpt-hostile`, [disk, sdisk], { encoding: 'utf8' });
for (const line of `${h.stdout}${h.stderr}`.trim().split('\n')) log(`  ${line}`);
check(h.status === 0, 'hostile checkpoint ioctls: every one refused as expected');
lap('hostile arguments', t);
check(readFileSync('/sys/kernel/snapkeep/checkpoints', 'utf8') === '', 'no checkpoint left');
log(`timings (s): ${JSON.stringify(timing)}, total ${((performance.now() - t0) / 1000).toFixed(1)}`);
