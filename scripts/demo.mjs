#!/usr/bin/env node
// npm run demo: the backup cycle end to end, live, with the real kernel
// module, in the test VM (test/vm/run.mjs boots Debian's kernel in qemu):
// a mounted ext4 disk with a writer running the whole time; snapshot, full
// backup from the snapshot image; more writes; snapshot, incremental that
// reads only the blocks the change tracker marked; both points restored to
// fresh disks, e2fsck -fn, and compared with their snapshot, byte for byte
// and file by file. The guest runs test/vm/demo/demo-live.mjs (the cycle is
// test/vm/helpers/live-cycle.mjs, which test 202 asserts on); this prints
// its table.
//
//   npm run demo [-- --kernel 6.1|6.12 ...]      (default 6.12)
//
// Needs `npm run build` (the addon and out/js; the harness builds the module
// for the kernel itself) and what the VM tests need (docs/testing-vm.md:
// qemu, busybox-static, the kernel images and headers); run as root here.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { liveOk, liveTable } from '../test/vm/helpers/live-table.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = 'out/results/demo-vm.json';

const kernels = process.argv.flatMap((a, i) => (process.argv[i - 1] === '--kernel' ? [a] : []));
if (kernels.length === 0) kernels.push('6.12');
for (const f of ['out/js/electron/core/engine/index.js', 'native/build/Release/snapkeep.node'])
  if (!existsSync(join(ROOT, f))) {
    console.error(`demo: ${f} is missing: build first (npm run build)`);
    process.exit(1);
  }

const r = spawnSync(process.execPath, ['test/vm/run.mjs', ...kernels.flatMap((k) => ['--kernel', k]), '--dir', 'test/vm/demo', '--results', RESULTS, 'demo-live'], {
  cwd: ROOT,
  stdio: 'inherit',
});
let results;
try {
  results = JSON.parse(readFileSync(join(ROOT, RESULTS), 'utf8'));
} catch {
  console.error('demo: the VM harness did not run (see above)');
  process.exit(1);
}
let ok = r.status === 0;
for (const t of results.tests ?? []) {
  const file = join(ROOT, t.logDir, 'demo.json');
  console.log(`\n${t.kernelVersion}: live ext4 under a writer, snapshots by snapkeep.ko`);
  if (!existsSync(file)) {
    console.log(`  no result: the guest failed (${t.reason ?? t.status}); logs in ${t.logDir}`);
    ok = false;
    continue;
  }
  const cycle = JSON.parse(readFileSync(file, 'utf8'));
  for (const line of liveTable(cycle)) console.log(line && `  ${line}`);
  ok &&= liveOk(cycle);
}
console.log('\n(qemu without KVM emulates every instruction: the rates are tens of times below real hardware)');
process.exit(ok ? 0 : 1);
