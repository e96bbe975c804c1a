#!/usr/bin/env node
// npm run bench:kmod: the kernel module's overhead, measured in the test VM
// (test/bench/vm/kmod-bench.mjs, run through test/vm/run.mjs), against the
// same disk without the module and against the kernel's dm-snapshot.
//
//   node test/bench/kmod.mjs [--kernel 6.1|6.12]   (default 6.12)
//   node test/bench/kmod.mjs --from <run's bench.json>   (report again)
//
// The guest measures in rounds; every round has its own measurements
// without the module (`none`, before it and, as the next round's, after
// it). Each figure of a round is divided by the geometric mean of those
// two, which cancels the drift of the boot to first order; the ratios
// reported are the medians over the rounds, with their spread (min..max),
// and the same ratios of the median times of one I/O (p50), which a busy
// host's stalls move less (the targets are judged on the throughputs).
// Prints a table, then one line of JSON with the medians, the ratios, the
// spreads, the targets of issue 4 and whether each is met. TCG emulation
// makes absolute figures slow and noisy (the host is shared): read the
// ratios, and the host load printed with them.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const i = process.argv.indexOf('--kernel');
const kernel = i > 0 ? process.argv[i + 1] : '6.12';

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const hostLoad = load();
const started = Date.now();
const from = process.argv.indexOf('--from');
let found = from > 0 ? process.argv[from + 1] : null;
let hostLoadAfter = hostLoad;
if (!found) {
  // Disk images in RAM: the host writing back gigabytes of image files
  // would slow whatever runs after them, and the runs are compared with
  // each other.
  const r = spawnSync(process.execPath, ['test/vm/run.mjs', '--kernel', kernel, '--dir', 'test/bench/vm', '--disk-dir', '/dev/shm', '--results', 'out/results/bench-kmod-vm.json', 'kmod-bench'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  hostLoadAfter = load();
  if (r.status !== 0) {
    console.error('bench:kmod: the benchmark VM failed (see its logs above)');
    process.exit(1);
  }
  // The run's log directory, from its results (out/vm/runs/latest may be
  // another run's by now: the harness is shared).
  const results = JSON.parse(readFileSync(join(ROOT, 'out/results/bench-kmod-vm.json'), 'utf8'));
  found = join(ROOT, results.tests[0].logDir, 'bench.json');
}
if (!existsSync(found)) {
  console.error(`bench:kmod: ${found} is missing`);
  process.exit(1);
}
const f = JSON.parse(readFileSync(found, 'utf8'));
const rounds = f.rounds;
// The `none` after round k is the next round's, or the closing one.
const after = (k) => (k + 1 < rounds.length ? rounds[k + 1] : f.closing);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round3 = (x) => Number(x.toFixed(3));
const spreadOf = (xs) => [round3(Math.min(...xs)), round3(Math.max(...xs))];

// Figures: median and spread of MB/s over the rounds.
const names = Object.keys(rounds[0]).filter((k) => typeof rounds[0][k] === 'object');
const figures = {};
for (const k of names) {
  const mbps = rounds.map((x) => x[k].mbps);
  figures[k] = {
    mbps: round3(median(mbps)),
    min: round3(Math.min(...mbps)),
    max: round3(Math.max(...mbps)),
    iops: round3(median(rounds.map((x) => x[k].iops))),
    seconds: round3(median(rounds.map((x) => x[k].seconds))),
    p50_us: round3(median(rounds.map((x) => x[k].p50_us))),
  };
}

/** Per round: figure a / reference b; b from `none` is the mean of the round's two. */
function perRound(a, b) {
  return rounds.map((x, k) => {
    const ref = b.startsWith('none.') ? Math.sqrt(x[b].mbps * after(k)[b].mbps) : x[b].mbps;
    return x[a].mbps / ref;
  });
}
const defs = {
  filter_seq_write: ['filter.seq_write', 'none.seq_write'],
  filter_rand_write: ['filter.rand_write', 'none.rand_write'],
  snap_first_seq_write: ['snap.first_seq_write', 'none.seq_write'],
  snap_first_rand_write: ['snap.first_rand_write', 'none.rand_write'],
  snap_rewrite_seq_write: ['snap.rewrite_seq_write', 'none.seq_write'],
  snap_rewrite_rand_write: ['snap.rewrite_rand_write', 'none.rand_write'],
  snap_image_seq_read: ['snap.image_seq_read', 'raw.seq_read'],
  snap_image_read_fragmented: ['snap.image_read_fragmented', 'raw.read_b'],
  ckpt_first_seq_write: ['ckpt.first_seq_write', 'none.seq_write'],
  ckpt_first_rand_write: ['ckpt.first_rand_write', 'none.rand_write'],
  ckpt_rewrite_seq_write: ['ckpt.rewrite_seq_write', 'none.seq_write'],
  ckpt_rewrite_rand_write: ['ckpt.rewrite_rand_write', 'none.rand_write'],
  dm_first_seq_write: ['dm.first_seq_write', 'none.seq_write'],
  dm_first_rand_write: ['dm.first_rand_write', 'none.rand_write'],
  dm_rewrite_seq_write: ['dm.rewrite_seq_write', 'none.seq_write'],
  dm_rewrite_rand_write: ['dm.rewrite_rand_write', 'none.rand_write'],
  dm_image_seq_read: ['dm.image_seq_read', 'raw.seq_read'],
  dm_image_read_fragmented: ['dm.image_read_fragmented', 'raw.read_b'],
  // The drift the pairing cancels: `none` after each round against before.
  none_seq_write_drift: ['none.seq_write', 'none.seq_write'],
  none_rand_write_drift: ['none.rand_write', 'none.rand_write'],
};
const ratios = {};
const spread = {};
// The same from the median times of one I/O (reference p50 / figure p50):
// a busy host's stalls move these much less than the throughputs.
const ratiosP50 = {};
for (const [k, [a, b]] of Object.entries(defs)) {
  const xs = k.endsWith('_drift') ? rounds.map((x, j) => after(j)[a].mbps / x[a].mbps) : perRound(a, b);
  ratios[k] = round3(median(xs));
  spread[k] = spreadOf(xs);
  if (!k.endsWith('_drift')) ratiosP50[k] = round3(median(rounds.map((x) => x[b].p50_us / x[a].p50_us)));
}
const targets = {
  filter_seq_write: 0.98,
  filter_rand_write: 0.98,
  snap_first_seq_write: 0.7,
  snap_rewrite_seq_write: 0.95,
  snap_rewrite_rand_write: 0.95,
  snap_image_seq_read: 0.9,
};
const met = Object.fromEntries(Object.entries(targets).map(([k, t]) => [k, ratios[k] >= t]));

console.log(`\n${rounds.length} rounds; MB/s: median (min..max); IOPS, median time of one I/O (p50): medians`);
console.log('figure                          median       min       max      IOPS   p50 us');
for (const [k, v] of Object.entries(figures)) {
  console.log(`${k.padEnd(28)} ${v.mbps.toFixed(1).padStart(9)} ${v.min.toFixed(1).padStart(9)} ${v.max.toFixed(1).padStart(9)} ${v.iops.toFixed(0).padStart(9)} ${v.p50_us.toFixed(0).padStart(8)}`);
}
console.log('\nratio (per round, to none)  median   min..max       p50    target');
for (const [k, v] of Object.entries(ratios)) {
  const t = targets[k] === undefined ? '' : `${targets[k]} ${met[k] ? 'met' : 'MISSED'}`;
  const p = ratiosP50[k] === undefined ? '     ' : ratiosP50[k].toFixed(3);
  console.log(`${k.padEnd(27)} ${v.toFixed(3)}   ${spread[k][0].toFixed(3)}..${spread[k][1].toFixed(3)}   ${p}  ${t}`);
}
const seconds = Math.round((Date.now() - started) / 1000);
console.log(`host load before: ${hostLoad}, after: ${hostLoadAfter}; guest load: ${f.load} -> ${f.load_after}; ${seconds} s`);
console.log(JSON.stringify({ bench: 'kmod', kernel, rounds: rounds.length, figures, ratios, spread, ratiosP50, targets, met, hostLoad, hostLoadAfter, seconds }));
