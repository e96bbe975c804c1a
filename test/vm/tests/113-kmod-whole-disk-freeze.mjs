// A whole-disk snapshot freezes every file system on the disk (review B1):
// the disk has an ext4 and an xfs on two partitions and LUKS with an ext4
// inside on a third, all mounted and written by ordinary programs while
// the take happens. The snapshot is of the whole disk, so the take must
// freeze the file systems of its partitions and of the device-mapper
// device above one of them, top-down: then each file system in the image
// is clean as it stands, without replaying its journal or log (an ext4's
// journal needs no recovery and e2fsck -fn finds nothing; an xfs's log
// holds nothing but the freeze's own superblock update).
// vm: disks=512M,256M modules=ext4,xfs,dm-mod,dm-crypt,xts,ecb,algif_skcipher,algif_hash,loop timeout=300 memory=1536
import { bash, check, disks, insmod, kmod, log, R, rmmod, sh, sleep, spawnLogged, wholeDevice } from '../helpers/kmodlib.mjs';

const [disk, store] = disks;
bash(`printf 'label: gpt\\n,100M\\n,200M\\n,\\n' | sfdisk -q ${disk}`);
const parts = [1, 2, 3].map((n) => `${disk}${n}`);
for (let i = 0; i < 50 && !bash(`[ -b ${parts[2]} ] && echo y || true`); i++) await sleep(100);
process.env.DM_DISABLE_UDEV = '1';
sh('mkdir', '-p', '/run/cryptsetup');
sh('dd', 'if=/dev/urandom', 'of=/tmp/key', 'bs=64', 'count=1', 'status=none');
bash(`cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file /tmp/key ${parts[2]}`);
bash(`cryptsetup open --key-file /tmp/key ${parts[2]} crypt`);

const fs = [
  { dev: parts[0], type: 'ext4', dir: '/tmp/a' },
  { dev: parts[1], type: 'xfs', dir: '/tmp/b' },
  { dev: '/dev/mapper/crypt', type: 'ext4', dir: '/tmp/c' },
];
for (const f of fs) {
  if (f.type === 'ext4') sh('mkfs.ext4', '-q', '-F', f.dev);
  else bash(`TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f ${f.dev}`); // below 300 MB
  sh('mkdir', '-p', f.dir);
  sh('mount', f.dev, f.dir);
  sh('mkdir', `${f.dir}/w`);
}
const writers = fs.map((f) => spawnLogged('node', [`${R}/test/vm/helpers/fs-writer.mjs`, `${f.dir}/w`]));
await sleep(4000);

insmod();
const id = await kmod.create([disk]);
await kmod.appendStorage(id, store, wholeDevice(store));
await kmod.take(id);
log(`taken: ${bash("dmesg | grep -E 'snapkeep.*(froze|frozen)' | tail -4 | sed 's/^\\[[^]]*\\] //' | tr '\\n' ';' || true")}`);
await sleep(2000);
for (const w of writers) w.child.kill('SIGTERM');
for (const w of writers) check((await w.done) === 0, 'the writers saw no error');

// The image's partitions, read-only, as loop devices over the image.
const image = await kmod.imagePath(id, disk);
const loops = parts.map((p) => {
  const start = Number(sh('cat', `/sys/class/block/${p.slice(5)}/start`)) * 512;
  const size = Number(sh('cat', `/sys/class/block/${p.slice(5)}/size`)) * 512;
  return sh('losetup', '-r', '-f', '--show', '-o', `${start}`, '--sizelimit', `${size}`, image);
});
bash(`cryptsetup open --readonly --key-file /tmp/key ${loops[2]} imgcrypt`);
const checks = [
  { name: 'ext4 on partition 1', dev: loops[0], type: 'ext4' },
  { name: 'xfs on partition 2', dev: loops[1], type: 'xfs' },
  { name: 'ext4 in LUKS on partition 3', dev: '/dev/mapper/imgcrypt', type: 'ext4' },
];
let clean = 0;
for (const c of checks) {
  if (c.type === 'ext4') {
    const features = bash(`dumpe2fs -h ${c.dev} 2>/dev/null | grep -i 'features'`);
    const replay = features.includes('needs_recovery');
    const fsck = bash(`e2fsck -fn ${c.dev} >/tmp/fsck.log 2>&1; echo $?`);
    log(`${c.name} in the image: ${replay ? 'journal needs replay' : 'journal clean'}, e2fsck -fn exit ${fsck}`);
    if (!replay && fsck === '0') clean++;
  } else {
    // A frozen xfs leaves one transaction in its log, the superblock of
    // the freeze's log cover (xfs_repair -n calls any log dirty): what
    // counts is that the log holds nothing else.
    const items = bash(`xfs_logprint -t ${c.dev} 2>&1 || true`)
      .split('\n')
      .filter((l) => /^\s*(INO|INODE|EFI|EFD|ICR|RUI|RUD|CUI|CUD|BUI|BUD|DQ|QOFF|ATTRI|ATTRD):|blkno:/.test(l));
    const beyond = items.filter((l) => !/^\s*BUF:.*start blkno:0x0\s/.test(l));
    sh('mkdir', '-p', '/tmp/ix');
    const mounted = bash(`mount -o ro,norecovery,nouuid ${c.dev} /tmp/ix 2>&1 && ls -R /tmp/ix | wc -l && umount /tmp/ix || true`);
    log(`${c.name} in the image: ${beyond.length ? `${beyond.length} log item(s) to replay beyond the freeze's superblock (${beyond.slice(0, 2).join(' | ').trim()})` : 'log holds only the freeze\'s cover'}; mounted without recovery: ${mounted.split('\n').pop()} entries`);
    if (!beyond.length && /^\d+$/.test(mounted.split('\n').pop())) clean++;
  }
}
check(clean === checks.length, 'every file system in the image is clean without replay');

sh('cryptsetup', 'close', 'imgcrypt');
for (const l of loops) sh('losetup', '-d', l);
await kmod.destroy(id);
await kmod.detach(disk);
for (const f of fs) sh('umount', f.dir);
sh('cryptsetup', 'close', 'crypt');
rmmod();
log('ok');
