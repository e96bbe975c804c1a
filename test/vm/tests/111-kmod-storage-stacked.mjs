// Difference storage stacked above a tracked disk (review A2), the usual
// encrypted single-disk laptop: the whole disk is tracked, its second
// partition holds LUKS, LVM inside, an ext4 on a logical volume, and the
// snapshot's storage file on that ext4. Every copy written there goes
// through dm-crypt and dm-linear back onto the tracked disk. The module
// must either refuse that storage (-ELOOP), or, if it takes it, copy a
// 64 MiB overwrite without copying its own copies (storage use stays near
// what was overwritten) and keep the image exact. The same for storage on
// a loop device whose file lives on the tracked disk, and for a disk
// attached after such storage was given to another snapshot.
// vm: disks=512M,64M modules=dm-mod,dm-crypt,xts,ecb,algif_skcipher,algif_hash,loop,ext4 timeout=300 memory=1536
import { bash, check, devsum, disks, errnoOf, finishes, insmod, kmod, log, MiB, native, rmmod, sh, sleep } from '../helpers/kmodlib.mjs';

const [disk, other] = disks;
const [p1, p2] = [`${disk}1`, `${disk}2`];
bash(`printf 'label: gpt\\n,160M\\n,\\n' | sfdisk -q ${disk}`);
for (let i = 0; i < 50 && !bash(`[ -b ${p2} ] && echo y || true`); i++) await sleep(100);
sh('dd', 'if=/dev/urandom', `of=${p1}`, 'bs=1M', 'count=160', 'oflag=direct', 'status=none');

// LUKS (a fast KDF: TCG), LVM inside, no udev in the guest.
process.env.DM_DISABLE_UDEV = '1';
sh('mkdir', '-p', '/run/cryptsetup', '/run/lock/lvm');
sh('dd', 'if=/dev/urandom', 'of=/tmp/key', 'bs=64', 'count=1', 'status=none');
bash(`cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file /tmp/key ${p2}`);
bash(`cryptsetup open --key-file /tmp/key ${p2} crypt`);
const lvmConf = 'devices { obtain_device_list_from_udev = 0 use_devicesfile = 0 } activation { udev_sync = 0 udev_rules = 0 } backup { backup = 0 archive = 0 }';
const lvm = (...args) => sh('lvm', ...args, '--config', lvmConf);
lvm('pvcreate', '-q', '/dev/mapper/crypt');
lvm('vgcreate', '-q', 'vg', '/dev/mapper/crypt');
lvm('lvcreate', '-q', '-L', '200M', '-n', 'store', 'vg');
sh('mkfs.ext4', '-q', '-F', '/dev/vg/store');
sh('mkdir', '-p', '/tmp/s');
sh('mount', '/dev/vg/store', '/tmp/s');
log(`storage stack: ${bash(`lsblk -no NAME,TYPE ${disk} | tr -s ' \\n' ' '`)}`);

/** Appends the extents of a fresh file in `dir` (on device `dev`). */
async function storageFile(id, dir, dev, mib) {
  const path = `${dir}/diff${Date.now()}`;
  await native.allocateFile(path, mib * MiB);
  const fx = await native.fileExtents(path);
  const ranges = fx.extents.map((e) => ({ start: e.physical / 512, count: e.length / 512 }));
  return errnoOf(kmod.appendStorage(id, dev, ranges));
}

insmod();
// ---- the storage above the tracked disk ----
const ref = devsum(p1);
let id = await kmod.create([disk]);
let err = await storageFile(id, '/tmp/s', '/dev/vg/store', 150);
log(`storage on LVM on LUKS on ${p2}, disk tracked: ${err ?? 'accepted'}`);
if (err === null) {
  // Taken: the copies must not copy themselves.
  await kmod.take(id);
  await finishes('64 MiB overwritten on the tracked disk', 'dd', ['if=/dev/urandom', `of=${p1}`, 'bs=1M', 'count=64', 'oflag=direct', 'status=none'], 120);
  const info = await kmod.info(id);
  log(`storage used ${(info.storageUsedSectors / 2048).toFixed(1)} MiB for 64 MiB overwritten; corrupted: ${info.corrupted}`);
  check(!info.corrupted, 'the snapshot is intact');
  check(info.storageUsedSectors / 2048 < 80, 'the copies were not copied again');
  const p1Start = Number(sh('cat', `/sys/class/block/${p1.slice(5)}/start`)) * 512;
  check(devsum(await kmod.imagePath(id, disk), 160 * MiB, p1Start) === ref, 'the image of the first partition is exact');
} else {
  check(err === 'ELOOP', `refused with ELOOP (got ${err})`);
}
await kmod.destroy(id);

// ---- a loop device whose backing file is on the tracked disk ----
sh('truncate', '-s', '64M', '/tmp/s/loopfile');
const loopdev = sh('losetup', '-f', '--show', '/tmp/s/loopfile');
sh('mkfs.ext4', '-q', '-F', loopdev);
sh('mkdir', '-p', '/tmp/l');
sh('mount', loopdev, '/tmp/l');
id = await kmod.create([disk]);
err = await storageFile(id, '/tmp/l', loopdev, 32);
log(`storage on ${loopdev} backed by a file above the tracked disk: ${err ?? 'accepted'}`);
check(err === 'ELOOP', `refused with ELOOP (got ${err})`);
await kmod.destroy(id);

// ---- the tracked disk attached after the storage was given ----
await kmod.detach(disk);
id = await kmod.create([other]);
err = await storageFile(id, '/tmp/s', '/dev/vg/store', 16);
check(err === null, `storage above an untracked disk is fine (${err})`);
const attach = await errnoOf(kmod.attach(disk));
log(`attaching ${disk} below a snapshot's storage: ${attach ?? 'accepted'}`);
check(attach === 'ELOOP', `refused with ELOOP (got ${attach})`);
check((await errnoOf(kmod.create([disk]))) === 'ELOOP', 'a snapshot of it too');
await kmod.destroy(id);
await kmod.detach(other);

sh('umount', '/tmp/l');
sh('losetup', '-d', loopdev);
sh('umount', '/tmp/s');
lvm('vgchange', '-q', '-an', 'vg');
sh('cryptsetup', 'close', 'crypt');
rmmod();
log('ok');
