// A disk pulled out during a snapshot (qemu device_del). First the origin:
// its writers and the image's reads fail, nothing hangs, destroy, detach
// and unload work. Then the storage: the copies fail, the snapshot is
// corrupted with an overflow event (EIO), its image fails, while the
// original carries on with every write intact; destroy, detach and unload
// work.
// vm: disks=128M,128M,128M,128M timeout=240
// vm-allow-log: (Buffer I/O error on dev vd[ad]|I/O error, dev vd[ad]|blk_update_request: I/O error)
import { bash, check, devsum, disks, errnoOf, insmod, kmod, log, MiB, rmmod, sh, sleep, spawnLogged, HELPERS, wholeDevice } from '../helpers/kmodlib.mjs';

const [origin, store1, orig2, store2] = disks;
const hostctl = process.env.SNAPKEEP_HOSTCTL;
check(!!hostctl, 'the harness can unplug disks');
const devNode = (dev) => {
  // A node that outlives the device's own, for the calls that name it.
  const [maj, min] = sh('cat', `/sys/class/block/${dev.slice(5)}/dev`).split(':');
  const node = `/tmp/node-${dev.slice(5)}`;
  sh('mknod', node, 'b', maj, min);
  return node;
};
for (const d of [origin, orig2]) sh('dd', 'if=/dev/urandom', `of=${d}`, 'bs=1M', 'count=128', 'oflag=direct', 'status=none');
insmod();

// ---- the origin goes ----
const node1 = devNode(origin);
let id = await kmod.create([origin]);
await kmod.appendStorage(id, store1, wholeDevice(store1));
await kmod.take(id);
const image1 = await kmod.imagePath(id, origin);
const writer = spawnLogged(`${HELPERS}/aiowrite`, ['--depth', '8', '--bs', '64K', origin]);
await sleep(1500);
sh(hostctl, 'unplug', '0');
log(`${origin} unplugged during the snapshot`);
const code = await writer.done;
log(`the writer on it exited with ${code}`);
check(code !== 0, 'its writer saw the device go');
const read = bash(`dd if=${image1} of=/dev/null bs=1M count=128 iflag=direct 2>&1 || true`);
log(`reading the image: ${read.split('\n').pop()}`);
const info1 = await kmod.info(id);
log(`snapshot: corrupted ${info1.corrupted} (${info1.errno ?? 'no error'}), ${info1.devices[0].chunksCopied} chunk(s) copied`);
await kmod.destroy(id);
check((await errnoOf(kmod.detach(node1))) === null, 'the tracker of the vanished disk detaches');
check(!bash('ls /dev/snapkeep-img* 2>/dev/null || true'), 'no image is left');

// ---- the storage goes ----
const ref = devsum(orig2);
id = await kmod.create([orig2]);
await kmod.appendStorage(id, store2, wholeDevice(store2));
await kmod.take(id);
const image2 = await kmod.imagePath(id, orig2);
sh('dd', 'if=/dev/urandom', `of=${orig2}`, 'bs=1M', 'count=4', 'oflag=direct', 'status=none');
check(devsum(image2) === ref, 'the image is exact before the storage goes');
sh(hostctl, 'unplug', '3');
log(`${store2} unplugged during the snapshot`);
sh('dd', 'if=/dev/urandom', 'of=/tmp/data', 'bs=1M', 'count=32', 'status=none');
sh('dd', 'if=/tmp/data', `of=${orig2}`, 'bs=1M', 'count=32', 'seek=16', 'oflag=direct', 'status=none');
let ev = null;
for (let i = 0; i < 20 && ev?.kind !== 'overflow'; i++) ev = await kmod.waitEvent(id, 500);
log(`event: ${JSON.stringify(ev)}`);
check(ev?.kind === 'overflow' && ev.errno === 'EIO', 'an overflow event with EIO');
const info2 = await kmod.info(id);
check(info2.corrupted, 'the snapshot is corrupted');
check(bash(`dd if=${image2} of=/dev/null bs=1M count=1 iflag=direct 2>&1 && echo READ || true`).endsWith('READ') === false, 'its image fails');
check(bash(`cmp -n ${32 * MiB} -i 0:${16 * MiB} /tmp/data ${orig2} && echo same || true`) === 'same', 'the original holds every write');
await kmod.destroy(id);
check((await errnoOf(kmod.detach(orig2))) === null, 'detach');
rmmod();
log('ok');
