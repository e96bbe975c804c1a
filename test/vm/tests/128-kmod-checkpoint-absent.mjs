// A checkpoint whose devices were written while no module saved them
// (issue 15's guard): a boot of another kernel, or with snapkeep_boot=off,
// writes the devices unsaved, and a rollback after it would write back a
// mix of two states. The seal stamps each device of an attached checkpoint
// whose line names a stamp page (its file system's counters, as for the
// change maps); the next attach or rollback compares first.
//  - ext4 with a checkpoint, written under it, sealed: "stamped"; both
//    disks "power cut" onto two pairs of copies, the live one committed;
//  - pair 1, a file written while no module watched (mounted and written
//    as another kernel would): rollback --check and rollback refused with
//    the reason, nothing written; attach makes the checkpoint invalid
//    (reason absent) and does not re-attach it; a later rollback says why
//    it is invalid;
//  - pair 2, nothing written meanwhile: attach finds it "not written since
//    the seal", voids the stamp (compared once) and re-attaches it.
// vm: disks=96M,48M,96M,48M,96M,48M modules=ext4 timeout=300 kernels=6.12
import { check, devsum, disks, insmod, kmod, sh } from '../helpers/kmodlib.mjs';
import { bootTool } from '../helpers/boot-tool.mjs';
import { PAGE, readDirect, writeDirect } from '../helpers/persist.mjs';
import { writeFileSync } from 'node:fs';

const [disk, sdisk, copy1, scopy1, copy2, scopy2] = disks;
const STORE = { start: 2048, count: 24 * 2048 };
// One more page on the store device, outside the store's sectors.
const STAMP = STORE.start + STORE.count;
const MNT = '/tmp/ab';
insmod();
sh('mkdir', '-p', MNT);

const tool = (...args) => bootTool(args);
const conf = (dev, store) =>
  writeFileSync('/tmp/snapkeep-boot.conf', `checkpoint ${dev} identity=ck-a store=${store} ranges=${STORE.start}+${STORE.count} stamp=${STAMP}\n`, { mode: 0o600 });
const stampText = (dev) => readDirect(dev, PAGE, STAMP * 512).subarray(0, 24).toString('latin1');
const writeFiles = (dev, prefix, n) => {
  sh('mount', dev, MNT);
  for (let i = 0; i < n; i++) sh('dd', 'if=/dev/urandom', `of=${MNT}/${prefix}${i}`, 'bs=64k', 'count=4', 'status=none');
  sh('umount', MNT);
};

// ---- a checkpoint, written under it, sealed ----
sh('mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', disk);
writeFiles(disk, 'base', 8);
const ref = devsum(disk);
// What the tool that makes the store leaves on its stamp page.
writeDirect(sdisk, Buffer.from('snapkeep-stamp fresh\n'.padEnd(PAGE, '\0'), 'latin1'), STAMP * 512);
const id = await kmod.checkpointCreate([{ device: disk, identity: 'ck-a' }], { device: sdisk, ranges: [STORE] }, 'before');
writeFiles(disk, 'after', 6);
conf(disk, sdisk);
let r = tool('seal');
check(r.status === 0 && r.out.includes(`checkpoint before: ${disk}: stamped`), 'the seal stamps the checkpoint device');
check(stampText(sdisk).startsWith('SKST'), 'its stamp page holds a stamp');
for (const [from, to] of [[disk, copy1], [sdisk, scopy1], [disk, copy2], [sdisk, scopy2]])
  sh('dd', `if=${from}`, `of=${to}`, 'bs=1M', 'iflag=direct', 'oflag=direct', 'status=none');
await kmod.checkpointCommit(id);

// ---- pair 1: written while no module saved it ----
writeFiles(copy1, 'unsaved', 2);
const mixed = devsum(copy1);
conf(copy1, scopy1);
r = tool('rollback', '--check');
check(r.status === 1 && r.out.includes(`${copy1} was written while no module saved it`) && /mount count|write time|kbytes written/.test(r.out),
  'rollback --check refuses, naming what changed');
r = tool('rollback');
check(r.status === 1 && /rollback refused: .* was written while no module saved it/.test(r.out) && r.out.includes('nothing was written'), 'rollback refused');
check(devsum(copy1) === mixed, 'the refused rollback wrote nothing');
r = tool('attach');
check(r.out.includes('made invalid') && r.out.includes('NOT protected on this boot'), 'attach makes the checkpoint invalid and says so');
check((await kmod.listCheckpoints()).length === 0, 'and does not attach it');
r = tool('rollback');
check(r.status === 1 && /the checkpoint is invalid: its devices were written while no module saved them/.test(r.out), 'a later rollback says why it is invalid');
r = tool('status');
check(/state=invalid/.test(r.out), `status says invalid (${r.out.split('\n').find((l) => l.startsWith('checkpoint')) ?? ''})`);

// ---- pair 2: nothing written meanwhile ----
conf(copy2, scopy2);
r = tool('attach');
check(r.status === 0 && r.out.includes(`${copy2}: not written since the seal`) && /re-attached/.test(r.out), 'attach: not written since the seal, re-attached');
check(stampText(scopy2).startsWith('snapkeep-stamp void: '), 'the stamp was used once (voided)');
check((await kmod.listCheckpoints()).includes(id), 'attached');
await kmod.checkpointCommit(id);
check(devsum(copy2) !== ref, 'the copy holds the writes after the checkpoint (committed, nothing rolled back)');
