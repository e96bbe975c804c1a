// A snapshot of two devices is one instant. One workload writes both in
// lockstep (record i to disk A, then, once that is done, record i to disk
// B: helpers/pingpong.c) with nothing to freeze (raw devices), while
// snapshots are taken again and again: every time, image B holds as many
// records as image A or one fewer, never more, never far behind.
// vm: disks=64M,64M,128M timeout=300 smp=2
import { check, disks, insmod, kmod, log, rmmod, runHelper, sleep, startHelper, wholeDevice } from '../helpers/kmodlib.mjs';

const [a, b, store] = disks;
insmod();
const nonce = String(Date.now());
const writer = startHelper('pingpong', ['write', a, b, nonce]);
await sleep(1500);

for (let round = 1; round <= 8; round++) {
  const id = await kmod.create([a, b]);
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  const [ia, ib] = await Promise.all([kmod.imagePath(id, a), kmod.imagePath(id, b)]);
  const out = runHelper('pingpong', 'check', ia, ib, nonce);
  log(`round ${round}: ${out}`);
  await kmod.destroy(id);
  await sleep(300);
}
writer.child.kill('SIGTERM');
check((await writer.done) === 0, 'the writer failed');
await kmod.detach(a);
await kmod.detach(b);
rmmod();
log('ok');
