#!/usr/bin/env node
// Curated mutation testing (issue 22): applies one plausible bug at a time
// (scripts/mutate/mutants.mjs), runs only the tests meant to catch it, and
// reports which bugs the tests let through. Not Stryker: it cannot build the
// native addon and is far too slow on two cores; a short list of bugs that
// real code could have is worth more here than thousands of syntax mutants.
//
//   npm run mutate                       every mutant
//   npm run mutate -- --only a,b         these ids
//   npm run mutate -- --layer engine     one layer (engine|helper|contract|native)
//   npm run mutate -- --list             print the list, run nothing
//   npm run mutate -- --no-baseline      skip the unmutated run of the tests
//
// Exit status: 1 when an engine or helper mutant survives or anything could
// not be run (a find string gone stale, a build failing, a timeout); 2 when
// the tests fail without any mutant. Report: out/mutate/report.json.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { LAYERS, mutants as allMutants } from './mutate/mutants.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TEST_TIMEOUT_MS = 15 * 60_000;
const BUILD_TIMEOUT_MS = 20 * 60_000;
// Survivors here fail the run; contract and native survivors are listed only.
const STRICT_LAYERS = new Set(['engine', 'helper']);

function usage(msg) {
  console.error(`mutate: ${msg}\nusage: npm run mutate -- [--only id,...] [--layer ${LAYERS.join('|')}] [--list] [--no-baseline]`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { only: null, layer: null, list: false, baseline: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--list') o.list = true;
    else if (a === '--no-baseline') o.baseline = false;
    else if (a === '--only') o.only = (argv[++i] ?? usage('--only needs ids')).split(',').filter(Boolean);
    else if (a === '--layer') o.layer = argv[++i] ?? usage('--layer needs a layer');
    else usage(`unknown argument ${a}`);
  }
  if (o.layer && !LAYERS.includes(o.layer)) usage(`unknown layer ${o.layer}`);
  return o;
}

/** Problems with the list itself: these must fail loudly, or the list rots silently. */
function checkList(list) {
  const problems = [];
  const seen = new Set();
  for (const m of list) {
    const where = `mutant ${m.id ?? '(no id)'}`;
    if (!m.id || seen.has(m.id)) problems.push(`${where}: missing or duplicate id`);
    seen.add(m.id);
    if (!LAYERS.includes(m.layer)) problems.push(`${where}: layer ${m.layer} is not one of ${LAYERS.join(', ')}`);
    if (!m.description) problems.push(`${where}: no description`);
    if (m.build !== undefined && m.build !== 'electron' && m.build !== 'native') problems.push(`${where}: build must be 'electron' or 'native'`);
    if (!Array.isArray(m.tests) || m.tests.length === 0) problems.push(`${where}: no tests`);
    for (const t of m.tests ?? []) if (!existsSync(join(root, t))) problems.push(`${where}: test ${t} does not exist`);
    if (m.find === m.replace) problems.push(`${where}: replace equals find`);
    const file = join(root, m.file ?? '');
    const stale = applyProblem(m, m.file && existsSync(file) ? readFileSync(file, 'utf8') : null);
    if (stale) problems.push(`${where}: ${stale}`);
  }
  return problems;
}

/** Why a mutant cannot be applied to the file as it is now, or null. */
function applyProblem(m, text) {
  if (text === null) return `${m.file} does not exist`;
  const n = text.split(m.find).length - 1;
  if (n !== 1) return `find string occurs ${n} times in ${m.file} (must be exactly once): update the mutant`;
  return null;
}

// --- child processes --------------------------------------------------------

let child = null;
let interrupted = 0;
/** The file being mutated and its original text, restored whatever happens. */
let applied = null;

function restoreSync() {
  if (!applied) return;
  writeFileSync(applied.path, applied.original);
  applied = null;
}

process.on('SIGINT', () => {
  interrupted++;
  if (child) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  if (interrupted > 1) {
    // Second ^C: restore the source now and leave the build to the user.
    restoreSync();
    console.error('\nmutate: interrupted twice; sources restored, builds may hold a mutant: run npm run build');
    process.exit(130);
  }
  console.error('\nmutate: interrupted; restoring and rebuilding (^C again to skip the rebuild)');
});
process.on('exit', restoreSync);

/** Runs a command in its own process group; resolves { code, out, timedOut }. */
function run(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const out = [];
    child = spawn(cmd, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } });
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child = null;
      resolve({ code: code ?? (signal ? 128 : 1), out: Buffer.concat(out).toString(), timedOut });
    });
  });
}

function tail(text, lines = 15) {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function buildElectron() {
  return run('npm', ['run', '-s', 'build:electron'], BUILD_TIMEOUT_MS);
}

// build-native.mjs runs `node-gyp rebuild` (everything, minutes); once
// configured, `node-gyp build` is make, which recompiles only the changed file.
function buildNative() {
  const gyp = join(root, 'node_modules/.bin/node-gyp');
  if (!existsSync(join(root, 'native/build/Makefile'))) return run(process.execPath, ['scripts/build-native.mjs'], BUILD_TIMEOUT_MS);
  const args = ['build', '-C', 'native', '--jobs', 'max', '--loglevel', 'error'];
  if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
  return run(gyp, args, BUILD_TIMEOUT_MS);
}

const BUILDERS = { electron: buildElectron, native: buildNative };

function vitest(files) {
  return run('npx', ['vitest', 'run', '--config', 'test/vitest.config.mts', ...files], TEST_TIMEOUT_MS);
}

/** The first failing test vitest names, as evidence of what killed a mutant. */
function firstFailure(out) {
  const lines = out.split('\n');
  const test = lines.find((l) => /^\s*(×|FAIL)\s/.test(l));
  const why = lines.find((l) => /(AssertionError|Error):/.test(l));
  if (!test) return tail(out, 3);
  return why ? `${test.trim().slice(0, 200)}\n${why.trim().slice(0, 300)}` : test.trim().slice(0, 200);
}

// --- one mutant -------------------------------------------------------------

/** Builds that hold a mutant until rebuilt from the restored sources. */
const dirty = new Set();

/** Rebuilds what holds an earlier mutant; `except` is rebuilt by the mutant's own build anyway. */
async function rebuildDirty(except) {
  for (const kind of [...dirty]) {
    if (kind === except) continue;
    const r = await BUILDERS[kind]();
    if (r.code !== 0) throw new Error(`restoring the ${kind} build failed:\n${tail(r.out)}`);
    dirty.delete(kind);
  }
}

async function runMutant(m) {
  const path = join(root, m.file);
  const original = existsSync(path) ? readFileSync(path, 'utf8') : null;
  const problem = applyProblem(m, original);
  if (problem) return { status: 'error', detail: problem };
  // Clean builds first: a mutant whose tests spawn out/js must not see the last
  // one. Its own kind of build recompiles the restored file with the mutant.
  await rebuildDirty(m.build);
  applied = { path, original };
  try {
    writeFileSync(path, original.replace(m.find, () => m.replace));
    if (m.build) {
      dirty.add(m.build);
      const b = await BUILDERS[m.build]();
      if (interrupted) return { status: 'error', detail: 'interrupted' };
      if (b.timedOut) return { status: 'error', detail: `${m.build} build timed out` };
      if (b.code !== 0) return { status: 'error', detail: `${m.build} build failed with the mutant:\n${tail(b.out)}` };
    }
    const t = await vitest(m.tests);
    if (interrupted) return { status: 'error', detail: 'interrupted' };
    if (t.timedOut) return { status: 'error', detail: `tests timed out after ${TEST_TIMEOUT_MS / 60_000} min` };
    return t.code === 0 ? { status: 'survived', detail: 'all tests passed with the mutant' } : { status: 'killed', detail: firstFailure(t.out) };
  } finally {
    restoreSync();
  }
}

// --- main -------------------------------------------------------------------

function printList(list) {
  for (const m of list) console.log(`${m.id.padEnd(34)} ${m.layer.padEnd(8)} ${m.build ?? '-'} ${m.file}\n${' '.repeat(35)}${m.description}\n${' '.repeat(35)}tests: ${m.tests.join(' ')}`);
}

function printTable(results) {
  const w = Math.max(...results.map((r) => r.id.length), 2);
  console.log(`\n${'id'.padEnd(w)}  ${'layer'.padEnd(8)}  ${'result'.padEnd(8)}  secs  detail`);
  for (const r of results) {
    const first = (r.detail ?? '').split('\n')[0].slice(0, 110);
    console.log(`${r.id.padEnd(w)}  ${r.layer.padEnd(8)}  ${r.status.padEnd(8)}  ${String(r.seconds).padStart(4)}  ${first}`);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const problems = checkList(allMutants);
  let list = allMutants;
  if (opts.only) {
    const unknown = opts.only.filter((id) => !list.some((m) => m.id === id));
    if (unknown.length) usage(`unknown mutant ids: ${unknown.join(', ')}`);
    list = list.filter((m) => opts.only.includes(m.id));
  }
  if (opts.layer) list = list.filter((m) => m.layer === opts.layer);
  if (opts.list) {
    printList(list);
    if (problems.length) console.error(`\nmutate: the list has problems:\n  ${problems.join('\n  ')}`);
    process.exit(problems.length ? 1 : 0);
  }
  if (problems.length) usage(`the list has problems:\n  ${problems.join('\n  ')}`);

  const started = Date.now();
  if (opts.baseline) {
    // A test that fails anyway would "kill" every mutant: the tests must pass unmutated first.
    const files = [...new Set(list.flatMap((m) => m.tests))];
    console.log(`mutate: baseline: ${files.length} test files without mutants`);
    const b = await vitest(files);
    if (b.code !== 0) {
      console.error(`mutate: the tests fail without any mutant; fix that first:\n${tail(b.out, 30)}`);
      process.exit(2);
    }
  }

  const results = [];
  for (const m of list) {
    if (interrupted) break;
    const t0 = Date.now();
    process.stdout.write(`mutate: ${m.id} (${m.layer}) ... `);
    let r;
    try {
      r = await runMutant(m);
    } catch (e) {
      r = { status: 'error', detail: e instanceof Error ? e.message : String(e) };
    }
    const seconds = Math.round((Date.now() - t0) / 1000);
    console.log(`${r.status} (${seconds}s)${r.status === 'killed' ? '' : `: ${(r.detail ?? '').split('\n')[0]}`}`);
    results.push({ id: m.id, layer: m.layer, file: m.file, description: m.description, tests: m.tests, ...(m.build && { build: m.build }), status: r.status, detail: r.detail, seconds });
  }
  try {
    await rebuildDirty();
  } catch (e) {
    results.push({ id: 'restore-builds', layer: 'native', file: '-', description: 'rebuild from the restored sources', tests: [], status: 'error', detail: e.message, seconds: 0 });
  }

  const count = (s) => results.filter((r) => r.status === s).length;
  const wallSeconds = Math.round((Date.now() - started) / 1000);
  printTable(results);
  const report = {
    finishedAt: new Date().toISOString(),
    wallSeconds,
    counts: { killed: count('killed'), survived: count('survived'), errors: count('error') },
    results,
  };
  mkdirSync(join(root, 'out/mutate'), { recursive: true });
  writeFileSync(join(root, 'out/mutate/report.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(`\nmutate: ${report.counts.killed} killed, ${report.counts.survived} survived, ${report.counts.errors} errors (${wallSeconds}s; out/mutate/report.json)`);
  const strictSurvivors = results.filter((r) => r.status === 'survived' && STRICT_LAYERS.has(r.layer));
  for (const r of strictSurvivors) console.error(`mutate: ${r.layer} mutant survived: ${r.id}: ${r.description}`);
  process.exit(interrupted ? 130 : strictSurvivors.length || report.counts.errors ? 1 : 0);
}

await main();
