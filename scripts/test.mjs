#!/usr/bin/env node
// `npm test`: the one test command. Installs what is missing, builds
// everything, runs every suite, and ends with one line summed over all of
// them: "N passed, N failed, N skipped".
//
//   node scripts/test.mjs [--only unit,e2e,...]   run a subset of the steps
//
// Steps that are not suites (build, typecheck, lint) count as one test each.
// The full-boot guests run in the background from the end of the build on
// and are reported at their step, after the VM tests.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { asanEnv } from './asan-env.mjs';
import { DebugKernelError, ensureDebugKernel } from './debug-kernel.mjs';
import { ensureAll } from './deps.mjs';
import { ensureGuestImage, GuestImageError } from './guest-image.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = join(root, 'out/results');
const npmBin = join(root, 'node_modules/.bin');

/** Runs a command with inherited output; resolves to its exit code. */
function sh(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, PATH: `${npmBin}:${process.env.PATH}`, FORCE_COLOR: '0', ...env },
    });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** Counts from a vitest JSON report; a missing report is one failure. */
function vitestCounts(file) {
  if (!existsSync(file)) return { passed: 0, failed: 1, skipped: 0, note: 'no report written' };
  const r = JSON.parse(readFileSync(file, 'utf8'));
  // A file that fails to load has no tests but is a failure all the same.
  const brokenFiles = (r.testResults ?? []).filter((t) => t.status === 'failed' && (t.assertionResults ?? []).length === 0).length;
  return {
    passed: r.numPassedTests,
    failed: r.numFailedTests + brokenFiles,
    skipped: r.numPendingTests + r.numTodoTests,
  };
}

function jsonCounts(file) {
  if (!existsSync(file)) return { passed: 0, failed: 1, skipped: 0, note: 'no report written' };
  const r = JSON.parse(readFileSync(file, 'utf8'));
  return { passed: r.passed, failed: r.failed, skipped: r.skipped ?? 0 };
}

const single = (code) => (code === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 });

const vitest = (config, name) => async () => {
  const out = join(results, `${name}.json`);
  rmSync(out, { force: true });
  await sh('vitest', ['run', '--config', config, '--reporter=default', '--reporter=json', `--outputFile=${out}`]);
  return vitestCounts(out);
};

const steps = [
  { name: 'build', needsBuild: false, run: async () => single(await sh('npm', ['run', '--silent', 'build'])) },
  {
    // `npm run typecheck` without its first project: the build step's
    // `tsc -p tsconfig.json` has just checked it (it fails on a type error).
    // The two left run side by side: each is one single-threaded process.
    name: 'typecheck',
    needsBuild: true,
    run: async () => {
      const codes = await Promise.all([sh('vue-tsc', ['-p', 'renderer/tsconfig.json', '--noEmit']), sh('tsc', ['-p', 'test/tsconfig.json', '--noEmit'])]);
      return single(codes.find((c) => c !== 0) ?? 0);
    },
  },
  { name: 'lint', needsBuild: false, run: async () => single(await sh('npm', ['run', '--silent', 'lint'])) },
  { name: 'unit', needsBuild: true, run: vitest('test/vitest.config.mts', 'unit') },
  {
    // The hostile-repository corpus, the engine's own tests and the file-system
    // bitmap reader's (hostile images, fuzz loop) again, against
    // the addon built with AddressSanitizer + UndefinedBehaviorSanitizer.
    name: 'asan',
    needsBuild: true,
    run: async () => {
      if ((await sh(process.execPath, ['scripts/build-native.mjs', '--asan'])) !== 0) return { passed: 0, failed: 1, skipped: 0, note: 'ASan build failed' };
      const out = join(results, 'asan.json');
      rmSync(out, { force: true });
      await sh(
        'vitest',
        ['run', '--config', 'test/vitest.config.mts', '--reporter=default', '--reporter=json', `--outputFile=${out}`, 'test/unit/core/engine/hostile-', 'test/unit/core/engine/algorithms', 'native/src/engine/', 'native/src/fs/'],
        asanEnv(),
      );
      return vitestCounts(out);
    },
  },
  {
    // libFuzzer over the native decoders, 60 s in all (npm run fuzz: longer).
    name: 'fuzz',
    needsBuild: true,
    run: async () => {
      const out = join(results, 'fuzz.json');
      rmSync(out, { force: true });
      await sh(process.execPath, ['scripts/fuzz.mjs', '--seconds', '60']);
      return jsonCounts(out);
    },
  },
  {
    // Concurrency torture of one repository, one and two "machines" (npm run torture runs it longer).
    // 45 s each: at 60 s a run stopped 11-12 lock holders and pruned 56-109 points, far above its minimums.
    name: 'torture',
    needsBuild: true,
    run: async () => {
      const one = single(await sh(process.execPath, ['test/torture/torture.mjs', '--seconds', '45', '--machines', '1']));
      const two = single(await sh(process.execPath, ['test/torture/torture.mjs', '--seconds', '45', '--machines', '2']));
      return { passed: one.passed + two.passed, failed: one.failed + two.failed, skipped: 0 };
    },
  },
  {
    name: 'vm',
    needsBuild: true,
    run: async () => {
      const out = join(results, 'vm.json');
      rmSync(out, { force: true });
      await sh(process.execPath, ['test/vm/run.mjs']);
      return jsonCounts(out);
    },
  },
  {
    // Started in the background after the build (startFullboot); here its
    // result is waited for and its output printed.
    name: 'fullboot',
    needsBuild: true,
    run: async () => {
      const counts = await (fullboot ?? Promise.resolve({ passed: 0, failed: 1, skipped: 0, note: 'not started' }));
      const log = join(results, 'fullboot.log');
      if (existsSync(log)) process.stdout.write(readFileSync(log, 'utf8'));
      return counts;
    },
    title: 'fullboot (ran in the background from the end of the build)',
  },
  { name: 'e2e', needsBuild: true, run: vitest('test/e2e/vitest.config.mts', 'e2e') },
];

/** @type {Promise<{passed: number, failed: number, skipped: number, note?: string}> | undefined} */
let fullboot;
/** When the full-boot run started and ended (ms): its time in the summary. */
const fullbootTimes = { started: 0, ended: 0 };

/**
 * The full-boot guests of lib/matrix.mjs (test/vm/fullboot/run.mjs --ci:
 * GRUB, initramfs-tools, reboots and power cuts), one guest at a time in
 * the background: the steps up to the VM tests leave a core idle much of
 * the time, and the VM harness runs one guest fewer while it runs
 * (test/vm/lib/host-threads.mjs). nice -5: its guests' time limits assume
 * a core. Output: out/results/fullboot.log, printed at its step.
 */
function startFullboot() {
  const out = join(results, 'fullboot.json');
  rmSync(out, { force: true });
  const logFile = join(results, 'fullboot.log');
  const fd = openSync(logFile, 'w');
  console.log(`npm test: full-boot guests started in the background (log: ${logFile})`);
  fullbootTimes.started = Date.now();
  const child = spawn('nice', ['-n', '-5', process.execPath, join(root, 'test/vm/fullboot/run.mjs'), '--ci', '--jobs', '1'], {
    cwd: root,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  closeSync(fd);
  const stop = () => child.kill('SIGTERM');
  process.on('exit', stop);
  fullboot = new Promise((resolve) => {
    child.on('error', (e) => resolve({ passed: 0, failed: 1, skipped: 0, note: e.message }));
    child.on('exit', () => {
      fullbootTimes.ended = Date.now();
      process.off('exit', stop);
      resolve(jsonCounts(out));
    });
  });
}

/**
 * On a machine without the full-boot guest image (debootstrap and a first
 * boot, 8-14 minutes), starts its build now at nice 10, beside the debug
 * kernel's; the full-boot run waits for it (the image's lock). Its log:
 * out/results/guest-image.log.
 */
function startGuestImageBuild() {
  try {
    ensureGuestImage({ build: false });
    return;
  } catch (e) {
    if (!(e instanceof GuestImageError)) throw e;
  }
  const logFile = join(results, 'guest-image.log');
  const fd = openSync(logFile, 'w');
  console.log(`npm test: building the full-boot guest image in the background (log: ${logFile})`);
  const child = spawn('nice', ['-n', '10', process.execPath, join(root, 'scripts/guest-image.mjs')], { cwd: root, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.on('error', () => {});
  // Like the debug kernel: a half-made image would only be started again.
  child.unref();
}

/** Whether the debug kernel of the VM tests is built for its current inputs. */
function debugKernelReady() {
  try {
    ensureDebugKernel({ build: false });
    return true;
  } catch (e) {
    if (e instanceof DebugKernelError) return false;
    throw e;
  }
}

/**
 * On a machine without the debug kernel (about 38 CPU minutes to build),
 * starts its build now at the lowest priority, so it uses what the steps
 * before the VM tests leave idle; the VM harness waits for it (the cache's
 * lock) or runs the other kernels' tests meanwhile. Its log:
 * out/results/debug-kernel.log.
 */
function startDebugKernelBuild() {
  if (debugKernelReady()) return;
  const logFile = join(results, 'debug-kernel.log');
  const fd = openSync(logFile, 'w');
  console.log(`npm test: building the debug kernel in the background (log: ${logFile})`);
  const child = spawn('nice', ['-n', '19', process.execPath, join(root, 'scripts/debug-kernel.mjs')], { cwd: root, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.on('error', () => {});
  // Not stopped when npm test ends early (a failed build skips the VM
  // tests): a make killed halfway would only be started again next time.
  child.unref();
}

async function main() {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]?.split(',') : null;
  const started = Date.now();
  mkdirSync(results, { recursive: true });
  try {
    ensureAll();
  } catch (e) {
    console.error(`\nnpm test: ${e.message}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  if (!only || only.includes('vm')) startDebugKernelBuild();
  const wantFullboot = !only || only.includes('fullboot');
  if (wantFullboot) startGuestImageBuild();

  const table = [];
  let buildOk = true;
  for (const step of steps) {
    if (only && !only.includes(step.name) && !(step.name === 'build' && only.some((o) => steps.find((s) => s.name === o)?.needsBuild))) continue;
    console.log(`\n=== ${step.title ?? step.name} ===`);
    const t0 = Date.now();
    let counts;
    if (step.needsBuild && !buildOk) counts = { passed: 0, failed: 1, skipped: 0, note: 'not run: build failed' };
    else counts = await step.run();
    if (step.name === 'build' && counts.failed) buildOk = false;
    if (step.name === 'build' && buildOk && wantFullboot) startFullboot();
    // The full-boot run's own time, not the wait for it at its step.
    const ms = step.name === 'fullboot' && fullbootTimes.ended ? fullbootTimes.ended - fullbootTimes.started : Date.now() - t0;
    table.push({ step: step.name, ...counts, seconds: (ms / 1000).toFixed(1) });
  }

  const sum = table.reduce((a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped }), {
    passed: 0,
    failed: 0,
    skipped: 0,
  });
  console.log('\n=== summary ===');
  for (const r of table)
    console.log(`${r.step.padEnd(10)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed ${String(r.skipped).padStart(3)} skipped  ${r.seconds.padStart(7)} s${r.note ? `  (${r.note})` : ''}`);
  console.log(`total time ${((Date.now() - started) / 60000).toFixed(1)} min`);
  console.log(`${sum.passed} passed, ${sum.failed} failed` + (sum.skipped ? `, ${sum.skipped} skipped` : ''));
  process.exit(sum.failed === 0 ? 0 : 1);
}

main();
