#!/usr/bin/env node
// npm run bench:kmod: the kernel module's overhead, measured in the test VM
// (test/bench/vm/kmod-bench.mjs, run through test/vm/run.mjs), against the
// same disks without the module and against the kernel's dm-snapshot.
//
//   node test/bench/kmod.mjs [--kernel 6.1|6.12]   (default 6.12)
//
// Prints a table, then one line of JSON with the figures, the ratios and
// the targets of issue 4. TCG emulation makes absolute figures slow and
// noisy (the host is shared): read the ratios, measured in one boot.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const i = process.argv.indexOf('--kernel');
const kernel = i > 0 ? process.argv[i + 1] : '6.12';

const hostLoad = loadavg().map((x) => x.toFixed(2)).join(' ');
// Disk images in RAM: the host writing back gigabytes of image files would
// slow whatever runs after them, and the runs are compared with each other.
const r = spawnSync(process.execPath, ['test/vm/run.mjs', '--kernel', kernel, '--dir', 'test/bench/vm', '--disk-dir', '/dev/shm', '--results', 'out/results/bench-kmod-vm.json', 'kmod-bench'], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (r.status !== 0) {
  console.error('bench:kmod: the benchmark VM failed (see its logs above)');
  process.exit(1);
}
// The run's log directory, from its results (out/vm/runs/latest may be
// another run's by now: the harness is shared).
const results = JSON.parse(readFileSync(join(ROOT, 'out/results/bench-kmod-vm.json'), 'utf8'));
const found = join(ROOT, results.tests[0].logDir, 'bench.json');
if (!existsSync(found)) {
  console.error(`bench:kmod: ${found} is missing`);
  process.exit(1);
}
const f = JSON.parse(readFileSync(found, 'utf8'));
const mb = (k) => f[k].mbps;
const ratio = (a, b) => Number((mb(a) / mb(b)).toFixed(3));
const ratios = {
  filter_seq_write: ratio('filter.seq_write', 'none.seq_write'),
  filter_rand_write: ratio('filter.rand_write', 'none.rand_write'),
  snap_first_seq_write: ratio('snap.first_seq_write', 'none.seq_write'),
  snap_first_rand_write: ratio('snap.first_rand_write', 'none.rand_write'),
  snap_rewrite_seq_write: ratio('snap.rewrite_seq_write', 'none.seq_write'),
  snap_rewrite_rand_write: ratio('snap.rewrite_rand_write', 'none.rand_write'),
  snap_image_seq_read: ratio('snap.image_seq_read', 'raw.seq_read'),
  snap_image_read_fragmented: ratio('snap.image_read_fragmented', 'raw.seq_read'),
  dm_first_seq_write: ratio('dm.first_seq_write', 'none.seq_write'),
  dm_first_rand_write: ratio('dm.first_rand_write', 'none.rand_write'),
  dm_rewrite_seq_write: ratio('dm.rewrite_seq_write', 'none.seq_write'),
  dm_rewrite_rand_write: ratio('dm.rewrite_rand_write', 'none.rand_write'),
  dm_image_seq_read: ratio('dm.image_seq_read', 'raw.seq_read'),
  dm_image_read_fragmented: ratio('dm.image_read_fragmented', 'raw.seq_read'),
  // The untracked control disk late in the boot against early: the drift.
  control_seq_write_late: ratio('control.seq_write_late', 'control.seq_write'),
  control_rand_write_late: ratio('control.rand_write_late', 'control.rand_write'),
  // Rewrites against the control written just before them.
  snap_rewrite_seq_vs_control: ratio('snap.rewrite_seq_write', 'control.seq_write_late'),
  snap_rewrite_rand_vs_control: ratio('snap.rewrite_rand_write', 'control.rand_write_late'),
  dm_rewrite_seq_vs_control: ratio('dm.rewrite_seq_write', 'control.seq_write_dm'),
  dm_rewrite_rand_vs_control: ratio('dm.rewrite_rand_write', 'control.rand_write_dm'),
};
const targets = {
  filter_seq_write: 0.98,
  filter_rand_write: 0.98,
  snap_first_seq_write: 0.7,
  snap_rewrite_seq_write: 0.95,
  snap_rewrite_rand_write: 0.95,
  snap_image_seq_read: 0.9,
};

console.log('\nfigure                          MB/s      IOPS');
for (const [k, v] of Object.entries(f)) {
  if (typeof v !== 'object') continue;
  console.log(`${k.padEnd(28)} ${v.mbps.toFixed(1).padStart(8)} ${v.iops.toFixed(0).padStart(9)}`);
}
console.log('\nratio                      value   target');
for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(26)} ${v.toFixed(3)}   ${targets[k] ?? ''}`);
console.log(`host load before: ${hostLoad}; guest load: ${f.load} -> ${f.load_after}`);
console.log(JSON.stringify({ bench: 'kmod', kernel, figures: f, ratios, targets, hostLoad }));
