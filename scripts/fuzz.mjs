#!/usr/bin/env node
// libFuzzer over every decoder of the native engine (test/fuzz/fuzz_*.cc),
// built with clang and AddressSanitizer + UndefinedBehaviorSanitizer.
//
//   node scripts/fuzz.mjs [--seconds N] [--only fuzz_index,...]
//
// For each harness: first every input kept in test/fuzz/regressions/<name>/
// runs once (a crash found earlier stays fixed), then the harness fuzzes for
// its share of N seconds (default 60, split evenly) starting from seeds cut
// from real repository files (test/fuzz/make-seeds.mjs) plus what earlier
// runs found (out/fuzz/corpus). A crash leaves its input in out/fuzz/crashes/:
// fix the decoder, then keep the input under test/fuzz/regressions/<name>/.
// Writes out/results/fuzz.json ({ passed, failed }) for npm test.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SANITIZE } from './asan-env.mjs';
import { cached, ccacheEnv } from './ccache.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fuzzDir = join(root, 'test/fuzz');
const out = join(root, 'out/fuzz');
const engineSrc = join(root, 'native/src/engine');

/** The engine sources the harnesses link: the decoders and what they call. */
const ENGINE = ['bytes', 'chunk_index', 'compress', 'crypto', 'crypto_openssl', 'engine_error', 'envelope', 'file_io', 'index_file', 'index_format', 'index_table', 'pack_format', 'pack_reader', 'repo_dir'];

const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const seconds = Number(arg('--seconds') ?? 60);
const only = arg('--only')?.split(',');

function fail(msg) {
  console.error(`fuzz: ${msg}`);
  writeResults(0, 1);
  process.exit(1);
}

function writeResults(passed, failed) {
  mkdirSync(join(root, 'out/results'), { recursive: true });
  writeFileSync(join(root, 'out/results/fuzz.json'), JSON.stringify({ passed, failed, skipped: 0 }));
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Runs a harness with its output in a log file; prints the stats, or the log's end on failure. */
async function runLogged(h, what, bin, args, env) {
  const logs = join(out, 'logs');
  mkdirSync(logs, { recursive: true });
  const log = join(logs, `${h}-${what}.log`);
  const fd = openSync(log, 'w');
  const code = await run(bin, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const text = readFileSync(log, 'utf8');
  if (code !== 0) console.log(text.split('\n').slice(-60).join('\n'));
  const stat = (k) => text.match(new RegExp(`stat::${k}:\\s+(\\d+)`))?.[1];
  return { code, runs: stat('number_of_executed_units'), perSec: stat('average_exec_per_sec'), added: stat('new_units_added'), log };
}

function newer(a, b) {
  return !existsSync(b) || statSync(a).mtimeMs > statSync(b).mtimeMs;
}

async function build(harnesses) {
  if (spawnSync('clang++', ['--version']).status !== 0) fail('clang++ is missing: apt-get install clang libclang-rt-14-dev');
  const pkg = (kind) => execFileSync('pkg-config', [kind, 'libzstd', 'libsodium', 'libcrypto'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
  const cflags = ['-std=c++17', ...SANITIZE, '-O1', `-I${engineSrc}`, ...pkg('--cflags')];
  const objDir = join(out, 'obj');
  mkdirSync(objDir, { recursive: true });
  mkdirSync(join(out, 'bin'), { recursive: true });
  const headers = readdirSync(engineSrc).filter((f) => f.endsWith('.h')).map((f) => join(engineSrc, f));
  headers.push(join(fuzzDir, 'fuzz_support.h'));
  const newestHeader = Math.max(...headers.map((h) => statSync(h).mtimeMs));
  const stale = (src, obj) => newer(src, obj) || newestHeader > statSync(obj).mtimeMs;
  const jobs = [];
  for (const name of ENGINE) {
    const src = join(engineSrc, `${name}.cc`);
    if (!existsSync(src)) continue; // header-only
    const obj = join(objDir, `${name}.o`);
    if (stale(src, obj)) jobs.push(cached('clang++', [...cflags, '-fsanitize=fuzzer-no-link', '-c', src, '-o', obj]));
  }
  for (const h of harnesses) {
    const obj = join(objDir, `${h}.o`);
    if (stale(join(fuzzDir, `${h}.cc`), obj)) jobs.push(cached('clang++', [...cflags, '-fsanitize=fuzzer', '-c', join(fuzzDir, `${h}.cc`), '-o', obj]));
  }
  let next = 0;
  let failed = false;
  const worker = async () => {
    for (let j = jobs[next++]; j; j = jobs[next++]) if ((await run(j[0], j[1], { env: { ...process.env, ...ccacheEnv() } })) !== 0) failed = true;
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(availableParallelism(), 4)) }, worker));
  if (failed) fail('compiling the harnesses failed (output above)');
  const engineObjs = ENGINE.map((n) => join(objDir, `${n}.o`)).filter(existsSync);
  for (const h of harnesses) {
    const bin = join(out, 'bin', h);
    const objs = [join(objDir, `${h}.o`), ...engineObjs];
    if (!existsSync(bin) || objs.some((o) => newer(o, bin)))
      if ((await run('clang++', [...SANITIZE, '-fsanitize=fuzzer', '-o', bin, ...objs, ...pkg('--libs')])) !== 0) fail(`linking ${h} failed`);
  }
}

async function main() {
  const harnesses = readdirSync(fuzzDir)
    .filter((f) => /^fuzz_.*\.cc$/.test(f))
    .map((f) => f.slice(0, -3))
    .filter((h) => !only || only.includes(h))
    .sort();
  if (!harnesses.length) fail('no harness selected');
  const t0 = Date.now();
  await build(harnesses);
  const built = Date.now();

  const seeds = join(out, 'seeds');
  rmSync(seeds, { recursive: true, force: true });
  if (!existsSync(join(root, 'out/js/native/engine.js'))) fail('out/js is not built: run npm run build first (the seeds come from the real engine)');
  if ((await run(process.execPath, [join(fuzzDir, 'make-seeds.mjs'), seeds])) !== 0) fail('making the seed corpus failed');

  const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' };
  delete env.LD_PRELOAD;
  let passed = 0;
  let failed = 0;
  const each = Math.max(1, Math.floor(seconds / harnesses.length));
  for (const h of harnesses) {
    const bin = join(out, 'bin', h);
    const regressions = join(fuzzDir, 'regressions', h);
    const kept = existsSync(regressions) ? readdirSync(regressions).map((f) => join(regressions, f)) : [];
    if (kept.length) {
      const { code } = await runLogged(h, 'regressions', bin, kept, env);
      console.log(`fuzz: ${h}: ${kept.length} regression inputs ${code === 0 ? 'pass' : 'FAIL'}`);
      if (code === 0) passed++;
      else failed++;
    }
    const corpus = join(out, 'corpus', h);
    const crashes = join(out, 'crashes');
    mkdirSync(corpus, { recursive: true });
    mkdirSync(crashes, { recursive: true });
    const r = await runLogged(
      h,
      'fuzz',
      bin,
      [`-max_total_time=${each}`, '-rss_limit_mb=2048', '-timeout=20', '-print_final_stats=1', `-artifact_prefix=${crashes}/${h}-`, corpus, join(seeds, h)],
      env,
    );
    const code = r.code;
    console.log(
      `fuzz: ${h}: ${each} s, ${r.runs ?? '?'} inputs (${r.perSec ?? '?'}/s, ${r.added ?? '?'} new) ` +
        (code === 0 ? 'no crash' : `CRASH (input in ${crashes}; keep it in test/fuzz/regressions/${h}/ once fixed; log ${r.log})`),
    );
    if (code === 0) passed++;
    else failed++;
  }
  console.log(`fuzz: build ${((built - t0) / 1000).toFixed(1)} s, total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  writeResults(passed, failed);
  process.exit(failed ? 1 : 0);
}

main();
