// The guest side of `npm run demo` (scripts/demo.mjs), run through the VM
// harness: the live backup cycle of test/vm/helpers/live-cycle.mjs (the one
// test 202 asserts on) with an encrypted repository. Writes demo.json into
// $SNAPKEEP_RESULTS for the host to print, prints the table too, and exits 1
// when a restore is not clean and equal to its snapshot.
// vm: disks=128M,384M,128M,128M modules=ext4 timeout=300 memory=1024
import { writeFileSync } from 'node:fs';

import { disks } from '../helpers/kmodlib.mjs';
import { liveCycle } from '../helpers/live-cycle.mjs';
import { liveOk, liveTable } from '../helpers/live-table.mjs';

const r = await liveCycle({ disks, passphrase: 'demo' });
r.kernel = process.env.SNAPKEEP_KERNEL;
writeFileSync(`${process.env.SNAPKEEP_RESULTS}/demo.json`, JSON.stringify(r, null, 1));
for (const line of liveTable(r)) console.log(line);
process.exitCode = liveOk(r) ? 0 : 1;
