// `sysctl kernel.ftrace_enabled=0` must not switch copy-on-write and
// tracking off behind the module's back (review A4). With a snapshot held
// the sysctl is refused (EBUSY) and a write afterwards is still copied and
// marked. With ftrace switched off beforehand, the module either refuses
// to load or refuses to attach; it never claims to track without a hook.
// vm: disks=64M,64M timeout=180
import { bash, check, devsum, disks, errnoOf, insmod, KO, kmod, log, rmmod, sh, wholeDevice } from '../helpers/kmodlib.mjs';

const [disk, store] = disks;
const sysctl = (v) => bash(`sysctl -q -w kernel.ftrace_enabled=${v} 2>&1 && echo OK || true`);
const enabled = () => sh('cat', '/proc/sys/kernel/ftrace_enabled');
sh('dd', 'if=/dev/urandom', `of=${disk}`, 'bs=1M', 'count=64', 'oflag=direct', 'status=none');

// ---- with a snapshot held ----
insmod();
const ref = devsum(disk);
const id = await kmod.create([disk]);
await kmod.appendStorage(id, store, wholeDevice(store));
await kmod.take(id);
const before = (await kmod.trackerInfo(disk)).number;
const answer = sysctl(0);
log(`sysctl kernel.ftrace_enabled=0 with a snapshot held: ${answer}; ftrace_enabled is now ${enabled()}`);
sh('dd', 'if=/dev/urandom', `of=${disk}`, 'bs=64K', 'count=16', 'seek=100', 'oflag=direct', 'status=none');
const image = await kmod.imagePath(id, disk);
const intact = devsum(image) === ref;
const map = await kmod.readCbtMap(disk);
sysctl(1);
check(intact, 'the image did not change with a write after the sysctl');
check(answer !== 'OK', 'the sysctl is refused while the module depends on ftrace');
await kmod.destroy(id);
const s2 = await kmod.create([disk]);
await kmod.take(s2);
const marked = (await kmod.readCbtMap(disk))[Math.floor((100 * 65536) / (await kmod.trackerInfo(disk)).blockSize)];
check(marked >= before, `the write after the sysctl was marked (cell ${marked}, number ${before}, map cells before: ${map.length})`);
await kmod.destroy(s2);
await kmod.detach(disk);
rmmod();

// ---- ftrace off before the module loads ----
check(sysctl(0) === 'OK', 'ftrace can be switched off with nothing hooked');
const load = bash(`insmod ${KO} 2>&1 && echo LOADED || true`);
log(`insmod with ftrace_enabled=0: ${load.split('\n').pop()}`);
if (load.endsWith('LOADED')) {
  const attach = await errnoOf(kmod.attach(disk));
  log(`attach with ftrace_enabled=0: ${attach ?? 'accepted'}`);
  check(attach !== null, 'no tracking without the hook');
  rmmod();
} else {
  check(bash('dmesg | tail -5').includes('ftrace'), 'the log says why the module did not load');
}
check(sysctl(1) === 'OK', 'ftrace back on');
insmod();
await kmod.attach(disk);
await kmod.detach(disk);
rmmod();
log('ok');
