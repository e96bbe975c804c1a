// Is the emulator safe for live kernel code patching? The kernel's own
// function tracer is switched on and off on submit_bio_noacct while two
// writers run on the other vCPU; snapkeep is not loaded. Each switch
// patches the call site with the int3 protocol of text_poke_bp(), as the
// module's hook does on attach and detach.
//
//   npm run test:vm -- --dir test/vm/diag --tcg multi   # qemu 7.2: Oops: int3
//   npm run test:vm -- --dir test/vm/diag               # passes
//
// Measured on the Debian 12 host (qemu 7.2.22): with a host thread per vCPU
// 5 runs of 5 failed on 6.12 within 10-45 s ("Oops: int3" in __schedule and
// other patched sites), and 6.1 hung until the timeout (1 run); with one
// thread for both vCPUs every run passed on both kernels. Hence the harness
// default tcg=single.
// vm: disks=128M,128M modules=xfs timeout=600 smp=2
import { bash, disks, log, MiB, sh, startHelper } from '../helpers/kmodlib.mjs';

const [fsdisk, raw] = disks;
const tracing = '/sys/kernel/tracing';
bash(`TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f ${fsdisk}`);
sh('mkdir', '-p', '/tmp/o');
sh('mount', fsdisk, '/tmp/o');
bash(`mountpoint -q ${tracing} || mount -t tracefs nodev ${tracing}`);
const writers = [
  startHelper('randwrite', ['--seed', '11', raw]),
  startHelper('randwrite', ['--size', `${24 * MiB}`, '--seed', '12', '/tmp/o/churn']),
];
bash(`echo submit_bio_noacct > ${tracing}/set_ftrace_filter`);
const toggles = 200;
for (let i = 0; i < toggles; i++) bash(`echo function > ${tracing}/current_tracer; echo nop > ${tracing}/current_tracer`);
log(`${toggles} switches of the function tracer on submit_bio_noacct under load`);
for (const w of writers) w.child.kill('SIGTERM');
for (const w of writers) await w.done;
sh('umount', '/tmp/o');
log('ok');
