// A checkpoint rolled back on a disk that also has a kept change map
// (issues 15 and 14). The rollback writes the disk while no map watches
// it, so the map must restart at its next attach: else the next
// incremental backup reads only what the map says changed and misses the
// rolled-back chunks. The stamp catches that for ext4 and xfs (their
// superblocks go back too), but not for a disk it cannot read (raw data,
// LUKS, LVM, vfat): that is the case here.
//  - a raw device with a checkpoint, written, "power cut" onto copies
//    (as in 125), the copy given a map (mkstore, attach, seal);
//  - the map's line without its stamp page: the rollback is refused and
//    nothing is written (the map could not be told);
//  - with it: the rollback says the map restarts, the device equals the
//    image at the checkpoint, and the next attach starts a new generation
//    (reason absent) naming the rollback;
//  - the seal after that writes a stamp over the void page, and the
//    attach after it continues the map.
// vm: disks=64M,64M,32M,32M,64M modules=ext4 timeout=300 kernels=6.12
import { readFileSync, writeFileSync } from 'node:fs';
import { check, devsum, disks, insmod, kmod, sh } from '../helpers/kmodlib.mjs';
import { BOOT_CONF, bootTool } from '../helpers/boot-tool.mjs';
import { PAGE, readDirect } from '../helpers/persist.mjs';

const [dev, devCopy, cstore, cstoreCopy, mapDisk] = disks;
const CONF = BOOT_CONF;
// The checkpoint's store: raw sectors, 1 MiB in, 24 MiB long.
const STORE = { start: 2048, count: 24 * 2048 };
insmod();

const tool = (...args) => bootTool(args);
const dd = (of, bs, seek, count) => sh('dd', 'if=/dev/urandom', `of=${of}`, `bs=${bs}`, `seek=${seek}`, `count=${count}`, 'oflag=direct', 'status=none');

// ---- the checkpoint: raw data, written, cut onto the copies ----
dd(dev, '1M', 0, 64);
const ref = devsum(dev);
const id = await kmod.checkpointCreate([{ device: dev, identity: 'ck-raw' }], { device: cstore, ranges: [STORE] }, 'before-upgrade');
for (const at of [3, 40, 41, 300, 700, 1000]) dd(dev, '64k', at, 2);
const info = await kmod.checkpointInfo(id);
check(info.entries >= 6, `chunks were saved (${info.entries} entries)`);
for (const [from, to] of [[dev, devCopy], [cstore, cstoreCopy]])
  sh('dd', `if=${from}`, `of=${to}`, 'bs=1M', 'iflag=direct', 'oflag=direct', 'status=none');
await kmod.checkpointCommit(id);
const written = devsum(devCopy);
check(written !== ref, 'the copy holds the writes after the checkpoint');

// ---- a kept change map on the copy: made, attached, sealed ----
sh('mkfs.ext4', '-q', '-F', '-b', '4096', mapDisk);
sh('mkdir', '-p', '/tmp/m');
sh('mount', mapDisk, '/tmp/m');
let r = tool('mkstore', '--device', devCopy, '--identity', 'map-copy', '--store-device', mapDisk, '--file', '/tmp/m/map.store');
check(r.status === 0, `mkstore: ${r.out}`);
const trackLine = readFileSync(CONF, 'utf8').trim();
const stampAt = Number(/ stamp=(\d+)/.exec(trackLine)?.[1]) * 512;
check(Number.isSafeInteger(stampAt), 'the map line has stamp=');
const ckptLine = `checkpoint ${devCopy} identity=ck-raw store=${cstoreCopy} ranges=${STORE.start}+${STORE.count}`;
// The checkpoint's line only for the rollback: an attach would re-attach
// the active checkpoint of the copy in the running kernel.
const conf = (track, ckpt = true) => writeFileSync(CONF, `${track}\n${ckpt ? `${ckptLine}\n` : ''}`, { mode: 0o600 });
conf(trackLine, false);

r = tool('attach');
check(r.status === 0, 'the map attached');
let t = await kmod.trackerInfo2(devCopy);
let gen = t.generation;
async function takeAndSeal(what) {
  const s = await kmod.create([devCopy]);
  await kmod.take(s);
  await kmod.destroy(s);
  const out = tool('seal');
  check(out.status === 0 && /stamped/.test(out.out), `${what}: sealed and stamped`);
}
await takeAndSeal('first seal');

// ---- refused: the map's line without its stamp page ----
conf(trackLine.replace(/ stamp=\d+/, ''));
r = tool('rollback');
check(r.status === 1 && /has no stamp page/.test(r.out) && /nothing was written/.test(r.out), 'a map without a stamp page: the rollback is refused');
check(devsum(devCopy) === written, 'the refused rollback wrote nothing');
conf(trackLine);

// ---- the rollback: the map is told first ----
r = tool('rollback');
check(r.status === 0 && /rolled back: \d+ chunk/.test(r.out), 'rolled back');
check(r.out.includes(`${devCopy}: its change map restarts at the next attach`), 'the rollback says the map restarts');
check(readDirect(mapDisk, PAGE, stampAt).subarray(0, 21).toString() === 'snapkeep-stamp void: ', 'the stamp page is void');
check(devsum(devCopy) === ref, 'the device equals the image at the checkpoint');

r = tool('attach');
check(r.status === 0, 'attach after the rollback');
t = await kmod.trackerInfo2(devCopy);
check(!t.persist.continued && t.persist.reason === 'absent' && t.generation !== gen && t.number === 0,
  `the map restarts: a new generation, reason absent (${JSON.stringify({ ...t.persist, generation: t.generation, was: gen })})`);
check(r.out.includes('rolled back to checkpoint before-upgrade'), 'its log line names the rollback');
gen = t.generation;

// ---- the next seal stamps over the void page; the map continues ----
await takeAndSeal('seal after the rollback');
check(readDirect(mapDisk, PAGE, stampAt).subarray(0, 4).toString() === 'SKST', 'a stamp again');
r = tool('attach');
t = await kmod.trackerInfo2(devCopy);
check(r.status === 0 && t.persist.continued && t.generation === gen, `then the map continues (${JSON.stringify({ ...t.persist, generation: t.generation, was: gen })})`);
const s = tool('seal');
check(s.status === 0, 'sealed at the end');
sh('umount', '/tmp/m');
