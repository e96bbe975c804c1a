// The image is the device at take time, byte for byte, while writers keep
// changing the mounted file system during the hold: random writes of 512 B
// to 1 MiB, O_DIRECT and buffered, and discards (punched holes, mounted
// with -o discard). Two rounds, each one snapshot of two devices: ext4 on a
// whole disk with xfs on a partition, then xfs on the whole disk with ext4
// on the partition. The reference checksum is read (O_DIRECT) while the
// file systems are frozen, and the snapshot taken then; the images must
// match it after the writers ran, and pass the file system checkers (an
// xfs image is mounted read-write first, replaying its log into the image).
// vm: disks=128M,128M,256M modules=ext4,xfs timeout=420 memory=1024
import { bash, check, devsum, disks, insmod, kmod, log, MiB, rmmod, sh, sleep, startHelper, wholeDevice } from '../helpers/kmodlib.mjs';

const [whole, parted, store] = disks;
// The partition starts 16 MiB in: its sectors differ from the disk's.
bash(`printf 'label: dos\\nstart=32768, size=196608\\n' | sfdisk -q ${parted}`);
const part = `${parted}1`;
for (let i = 0; i < 50 && !bash(`[ -b ${part} ] && echo y || true`); i++) await sleep(100);

const xfsEnv = 'TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1'; // xfs below 300 MB
function mkfs(fs, dev) {
  if (fs === 'ext4') sh('mkfs.ext4', '-q', '-F', dev);
  else bash(`${xfsEnv} mkfs.xfs -q -f ${dev}`);
}
// A frozen xfs keeps its log dirty: mount the image (its log replays into
// the difference storage: image writes) before checking it.
function fsck(fs, dev) {
  if (fs === 'ext4') {
    sh('e2fsck', '-fn', dev);
    return;
  }
  sh('mkdir', '-p', '/tmp/img');
  sh('mount', '-o', 'nouuid', dev, '/tmp/img');
  check(sh('stat', '-c', '%s', '/tmp/img/static') === String(12 * MiB), 'the image shows the files');
  sh('umount', '/tmp/img');
  sh('xfs_repair', '-n', dev);
}

insmod();
for (const [fsWhole, fsPart] of [
  ['ext4', 'xfs'],
  ['xfs', 'ext4'],
]) {
  const devs = [
    { dev: whole, fs: fsWhole, mnt: '/tmp/a' },
    { dev: part, fs: fsPart, mnt: '/tmp/b' },
  ];
  for (const d of devs) {
    mkfs(d.fs, d.dev);
    sh('mkdir', '-p', d.mnt);
    sh('mount', '-o', 'discard', d.dev, d.mnt);
    sh('dd', 'if=/dev/urandom', `of=${d.mnt}/static`, 'bs=1M', 'count=12', 'status=none');
    sh('sync');
  }
  log(`round: ${fsWhole} on ${whole}, ${fsPart} on ${part}`);
  const writers = devs.map((d, i) =>
    startHelper('randwrite', ['--size', `${24 * MiB}`, '--max-io', `${MiB}`, '--seed', `${i + 7}`, `${d.mnt}/churn`]),
  );
  await sleep(3000);

  for (const d of devs) sh('fsfreeze', '-f', d.mnt);
  for (const d of devs) d.ref = devsum(d.dev);
  const id = await kmod.create(devs.map((d) => d.dev));
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  for (const d of devs) sh('fsfreeze', '-u', d.mnt);
  log('taken while frozen; writers go on');
  await sleep(5000);
  for (const w of writers) w.child.kill('SIGTERM');
  for (const w of writers) check((await w.done) === 0, 'a writer failed');

  const info = await kmod.info(id);
  log(`storage used ${(info.storageUsedSectors / 2048).toFixed(1)} MiB, chunks ${info.devices.map((d) => d.chunksCopied).join('+')}`);
  check(!info.corrupted, 'snapshot not corrupted');
  for (const d of devs) {
    const image = await kmod.imagePath(id, d.dev);
    const got = devsum(image);
    check(got === d.ref, `image of ${d.dev} (${d.fs}) equals the device at take time`);
    fsck(d.fs, image);
    log(`${image}: ${d.fs} of ${d.dev} exact and clean`);
  }
  await kmod.destroy(id);
  for (const d of devs) sh('umount', d.mnt);
}
await kmod.detach(whole);
await kmod.detach(part);
rmmod();
log('ok');
