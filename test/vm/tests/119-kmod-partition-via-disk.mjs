// Writes that reach a tracked partition's sectors through the whole disk
// (review A8: dd to /dev/vda, a boot-loader tool, a VM on the raw disk)
// are copied and marked like writes through the partition. Partition 1 is
// tracked and in a snapshot; partition 2 is tracked too. Writes through
// /dev/vda land inside partition 1, across its end into partition 2, and
// across both; the images stay exact and the next take's maps mark the
// blocks written.
// vm: disks=96M,96M timeout=180
import { bash, check, devsum, disks, insmod, kmod, log, rmmod, sh, sleep, wholeDevice } from '../helpers/kmodlib.mjs';

const [disk, store] = disks;
bash(`printf 'label: dos\\nstart=2048, size=65536\\nstart=67584, size=65536\\n' | sfdisk -q ${disk}`);
const [p1, p2] = [`${disk}1`, `${disk}2`];
for (let i = 0; i < 50 && !bash(`[ -b ${p2} ] && echo y || true`); i++) await sleep(100);
sh('dd', 'if=/dev/urandom', `of=${disk}`, 'bs=1M', 'count=96', 'oflag=direct', 'status=none');
const start = (p) => Number(sh('cat', `/sys/class/block/${p.slice(5)}/start`));
const [s1, s2] = [start(p1), start(p2)];

insmod();
const refs = { [p1]: devsum(p1), [p2]: devsum(p2) };
const id = await kmod.create([p1, p2]);
await kmod.appendStorage(id, store, wholeDevice(store));
await kmod.take(id);
const n = (await kmod.trackerInfo(p1)).number;
const writes = [
  { at: s1 + 1000, count: 64, what: 'inside partition 1' },
  { at: s2 - 16, count: 32, what: 'across the end of partition 1 into partition 2' },
  { at: s1 + 60000, count: 16000, what: 'over both (8 MiB)' },
];
for (const w of writes) {
  sh('dd', 'if=/dev/urandom', `of=${disk}`, 'bs=512', `seek=${w.at}`, `count=${w.count}`, 'oflag=direct', 'status=none');
  log(`wrote ${w.count} sector(s) through ${disk} ${w.what}`);
}
const info = await kmod.info(id);
log(`chunks copied: ${info.devices.map((d) => d.chunksCopied).join(', ')}`);
for (const p of [p1, p2]) {
  check(devsum(p) !== refs[p], `${p} changed`);
  check(devsum(await kmod.imagePath(id, p)) === refs[p], `the image of ${p} did not change`);
}
await kmod.destroy(id);

const next = await kmod.create([p1, p2]);
await kmod.take(next);
for (const [p, base] of [
  [p1, s1],
  [p2, s2],
]) {
  const t = await kmod.trackerInfo(p);
  const map = await kmod.readCbtMap(p);
  const bs = t.blockSize / 512;
  for (const w of writes) {
    const from = Math.max(w.at, base) - base;
    const to = Math.min(w.at + w.count, base + 65536) - base;
    if (from >= to) continue;
    for (let b = Math.floor(from / bs); b <= Math.floor((to - 1) / bs); b++) check(map[b] >= n, `${p}: block ${b} written through the disk is marked (${map[b]})`);
  }
}
log('the maps mark every block written through the disk');
await kmod.destroy(next);
await kmod.detach(p1);
await kmod.detach(p2);
rmmod();
log('ok');
