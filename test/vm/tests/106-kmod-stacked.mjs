// Writes from a driver stacked on a tracked disk are copied first too. A
// dm-linear device maps the tracked disk; 16 MiB written through it with
// O_DIRECT while a snapshot is held (they reach the disk from inside
// device mapper's submit path, where the filter cannot wait: a worker
// copies first) leave the image unchanged. The same through a dm-linear
// on a partition of another tracked disk, mapped at an offset.
// vm: disks=64M,64M,128M modules=dm-mod timeout=240
import { check, devsum, disks, insmod, kmod, log, rmmod, sh, sleep, wholeDevice, bash } from '../helpers/kmodlib.mjs';

const [a, b, store] = disks;
bash(`printf 'label: dos\\nstart=8192\\n' | sfdisk -q ${b}`);
const bpart = `${b}1`;
for (let i = 0; i < 50 && !bash(`[ -b ${bpart} ] && echo y || true`); i++) await sleep(100);
for (const d of [a, bpart]) sh('dd', 'if=/dev/urandom', `of=${d}`, 'bs=1M', 'count=40', 'oflag=direct', 'status=none');
const sz = (d) => sh('blockdev', '--getsz', d);
sh('dmsetup', 'create', 'lina', '--table', `0 ${sz(a)} linear ${a} 0`);
sh('dmsetup', 'create', 'linb', '--table', `0 ${Number(sz(bpart)) - 2048} linear ${bpart} 2048`);
sh('dmsetup', 'mknodes'); // no udev in the guest
for (const n of ['lina', 'linb']) check(bash(`[ -b /dev/mapper/${n} ] && echo y || true`) === 'y', `/dev/mapper/${n} exists`);
insmod();

const refs = { [a]: devsum(a), [bpart]: devsum(bpart) };
const id = await kmod.create([a, bpart]);
await kmod.appendStorage(id, store, wholeDevice(store));
await kmod.take(id);
for (const [dm, seek] of [
  ['/dev/mapper/lina', 4],
  ['/dev/mapper/linb', 9],
]) {
  sh('dd', 'if=/dev/urandom', `of=${dm}`, 'bs=1M', 'count=16', `seek=${seek}`, 'oflag=direct', 'status=none');
  sh('dd', 'if=/dev/urandom', `of=${dm}`, 'bs=4k', 'count=64', 'seek=3000', 'oflag=direct', 'status=none');
}
const info = await kmod.info(id);
log(`chunks copied: ${info.devices.map((d) => d.chunksCopied).join(', ')}`);
for (const d of [a, bpart]) {
  check(devsum(d) !== refs[d], `${d} changed through device mapper`);
  check(devsum(await kmod.imagePath(id, d)) === refs[d], `the image of ${d} did not change`);
}
await kmod.destroy(id);
sh('dmsetup', 'remove', 'lina');
sh('dmsetup', 'remove', 'linb');
await kmod.detach(a);
await kmod.detach(bpart);
rmmod();
log('ok');
