#!/usr/bin/env node
// Kernel tests in qemu: boots Debian's own kernels (TCG) with a busybox
// initramfs, mounts the host's root read-only over 9p and runs one test
// file per boot, chrooted into it, as root.
//
//   node test/vm/run.mjs [--kernel 6.1|6.12|6.1-rt|6.12-rt|debug|<version>]...
//        [pattern]...
//        [--jobs N] [--repeat N] [--smp N] [--tcg single|multi] [--keep-disks]
//        [--disk-cache none|writeback|unsafe] [--disk-dir DIR]
//        [--dir DIR] [--results FILE]
//   (npm run test:vm -- --kernel 6.12 001)
//
// Runs every file in test/vm/tests/ (or --dir, e.g. the benchmarks in
// test/bench/vm/) whose name contains a pattern (all when none) on every
// kernel named with --kernel, or by default on the kernels the matrix
// (lib/matrix.mjs) gives each test: all on 6.1 and 6.12, 0xx-3xx on the
// debug kernel, 1xx on 6.1-rt (--dir: 6.1 and 6.12). The debug kernel is
// built once per machine (scripts/debug-kernel.mjs). Before the tests it
// builds snapkeep.ko per kernel
// (scripts/build-kmod.mjs), the C helpers (test/vm/helpers/) and a cached
// initramfs per kernel (lib/initramfs.mjs); booting and judging one test
// is lib/runner.mjs, which host-side scripts use too (startTest).
//
// A test file (*.sh: bash, *.mjs: node) declares what it needs in its
// leading comment lines; all keys are optional:
//
//   # vm: disks=2x256M,64M:4k:discard,3T:nvme memory=1024 timeout=180
//   # vm: smp=2 tcg=multi modules=ext4,xfs,dm-snapshot,loop,nbd
//   # vm: kernels=stock,debug
//   # vm-allow-log: <regexp of kernel log lines this test may cause>
//
//   disks    "NxSIZE" or "SIZE,SIZE" (K/M/G/T, s = 512-byte sectors), each
//            with options after colons: 4k 512e discard nvme iops=N mbps=N
//   memory   guest RAM, MiB or with a unit (default 1024)
//   timeout  seconds for the test itself, boot excluded (default 120)
//   smp      virtual CPUs (default 1; see docs/testing-vm.md)
//   tcg      single or multi: host threads of a guest with smp > 1
//            (default: the kernel's, lib/matrix.mjs; test-file.mjs says
//            why single)
//   modules  kernel modules loaded before the test, with dependencies
//   kernels  kernels (names, groups stock rt) the test may run on; on
//            others it is skipped
//   net      a NIC on qemu's user network, host loopback ports
//            forwarded: "HOST:GUEST" or "HOST" (same port), 0 = a free
//            one; "on" forwards nothing (docs/testing-vm.md)
//
// In the guest the test runs with cwd /tmp and the environment
//   SNAPKEEP_REPO     absolute path of this repository (read-only)
//   SNAPKEEP_KO       snapkeep.ko built for the running kernel
//   SNAPKEEP_KERNEL   full kernel version (uname -r)
//   SNAPKEEP_DISKS    "/dev/vda /dev/vdb", in header order
//   SNAPKEEP_HELPERS  directory of the compiled test/vm/helpers/*.c
//   SNAPKEEP_RESULTS  writable directory kept with the logs on the host
//   SNAPKEEP_TEST     the test's name
//   SNAPKEEP_HOSTFWD  "HOST:GUEST ..." forwarded ports (only with net=)
//   SNAPKEEP_HOSTCTL  a script asking the host to act on the VM, e.g.
//                     "$SNAPKEEP_HOSTCTL unplug 1" (lib/hostctl.mjs)
// and / read-only, /tmp /run /dev/shm as tmpfs.
//
// A test fails when it exits non-zero, exceeds its timeout, the guest
// panics or never reports, or the kernel log shows a warning, oops, lock
// or memory-debugging report (lib/kernel-log.mjs) or a bad taint flag.
// Logs stay in out/vm/runs/<run>/<kernel>/<test>/; results are written to
// out/results/vm.json. Exit status 1 when anything failed.
// Details and measurements: docs/testing-vm.md.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO } from '../../scripts/build-kmod.mjs';
import { cacheRoot, DebugKernelError, ensureDebugKernel } from '../../scripts/debug-kernel.mjs';
import {
	KERNEL_NAMES, KernelError, resolveKernels, SUPPORTED_KERNELS,
} from '../../scripts/kernels.mjs';
import { HarnessError } from './lib/errors.mjs';
import { buildHelpers } from './lib/helpers.mjs';
import { othersThreads, publishThreads, RECHECK_MS } from './lib/host-threads.mjs';
import { kernelRun, matrixKernels } from './lib/matrix.mjs';
import { checkQemu, installCleanup } from './lib/qemu.mjs';
import {
	DISK_CACHE, newRunDir, prepareKernel, runOne, TESTS_DIR, VM_OUT,
} from './lib/runner.mjs';
import { discoverTests, parseTcg } from './lib/test-file.mjs';

const OUT = join(REPO, 'out');
const RESULTS_FILE = join(OUT, 'results', 'vm.json');
// In the machine's test cache, not the checkout: CI runs on a fresh clone,
// and without the times of the last run it cannot start the longest first.
const DURATIONS_FILE = join(cacheRoot(), 'vm-durations.json');

/**
 * Tests run at once. Two: one per core, the two kernels side by side
 * (docs/testing-vm.md has the measurements behind this).
 */
const DEFAULT_JOBS = 2;

/**
 * @typedef {import('./lib/runner.mjs').Result} Result
 * @typedef {import('./lib/runner.mjs').Detailed} Detailed
 * @typedef {import('./lib/runner.mjs').Prepared} Prepared
 */

/** @param {string[]} argv */
function parseArgs(argv) {
	const o = {
		/** @type {string[]} */ kernels: [],
		/** @type {string[]} */ patterns: [],
		jobs: DEFAULT_JOBS,
		repeat: 1,
		/** @type {number|undefined} */ smp: undefined,
		/** @type {import('./lib/test-file.mjs').Tcg|undefined} */ tcg: undefined,
		keepDisks: false,
		diskCache: DISK_CACHE,
		/** @type {string|undefined} */ diskDir: undefined,
		testsDir: TESTS_DIR,
		resultsFile: RESULTS_FILE,
	};
	const num = (/** @type {string} */ flag, /** @type {string} */ v) => {
		if (!/^\d+$/.test(v ?? '') || Number(v) < 1)
			throw new HarnessError(`${flag} needs a positive number`);
		return Number(v);
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const [flag, inline] = a.startsWith('--') && a.includes('=') ?
			[a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] :
			[a, undefined];
		const value = () => inline ?? argv[++i];
		switch (flag) {
		case '--kernel': o.kernels.push(value()); break;
		case '--jobs': o.jobs = num(flag, value()); break;
		case '--repeat': o.repeat = num(flag, value()); break;
		case '--smp': o.smp = num(flag, value()); break;
		case '--tcg':
			try {
				o.tcg = parseTcg(value());
			} catch (e) {
				throw new HarnessError(`--tcg: ${/** @type {Error} */ (e).message}`);
			}
			break;
		case '--keep-disks': o.keepDisks = true; break;
		case '--disk-cache': o.diskCache = value(); break;
		case '--disk-dir': o.diskDir = resolve(value()); break;
		case '--dir': o.testsDir = resolve(value()); break;
		case '--results': o.resultsFile = resolve(value()); break;
		case '-h': case '--help':
			console.log('usage: node test/vm/run.mjs [--kernel K]... ' +
				'[--jobs N] [--repeat N] [--smp N] [--tcg single|multi] ' +
				'[--keep-disks] ' +
				'[--disk-cache MODE] [--disk-dir DIR] [--dir DIR] ' +
				'[--results FILE] ' +
				'[pattern]...');
			process.exit(0);
			break;
		default:
			if (a.startsWith('-'))
				throw new HarnessError(`unknown option ${a}`);
			o.patterns.push(a);
		}
	}
	return o;
}

/** @param {string} p */
const rel = (p) => relative(process.cwd(), p) || '.';

/**
 * Seconds each test took on each kernel when it last ran here
 * ("kernel/test" -> s), to start the longest first.
 * @returns {Record<string, number>}
 */
function readDurations() {
	try {
		return JSON.parse(readFileSync(DURATIONS_FILE, 'utf8'));
	} catch {
		return {};
	}
}

/**
 * @param {Record<string, number>} took
 * @param {Result[]} results
 */
function writeDurations(took, results) {
	for (const r of results) {
		if (r.status !== 'skipped' && r.seconds > 0)
			took[`${r.kernel}/${r.name.replace(/\.\d+$/, '')}`] = r.seconds;
	}
	try {
		mkdirSync(dirname(DURATIONS_FILE), { recursive: true });
		writeFileSync(DURATIONS_FILE, `${JSON.stringify(took, null, 1)}\n`);
	} catch {
		// Only an optimisation of the order.
	}
}

/** Whether the debug kernel's cache has a build for the current inputs. */
function debugKernelReady() {
	try {
		ensureDebugKernel({ build: false });
		return true;
	} catch (e) {
		if (e instanceof DebugKernelError)
			return false;
		throw e;
	}
}

/**
 * Builds the debug kernel in a child process (scripts/debug-kernel.mjs,
 * which waits for a build under way elsewhere), so the event loop keeps
 * serving the running guests; resolves whether it is there.
 * @returns {Promise<boolean>}
 */
function buildDebugKernel() {
	console.log('vm: building the debug kernel while the other kernels\' ' +
		'tests run');
	return new Promise((done) => {
		const child = spawn(process.execPath,
			[join(REPO, 'scripts/debug-kernel.mjs')],
			{ stdio: ['ignore', 'inherit', 'inherit'] });
		child.on('error', () => done(false));
		child.on('exit', (code) => done(code === 0));
	});
}

/** @param {Detailed} r */
function printResult(r) {
	const tag = { passed: 'ok  ', failed: 'FAIL', skipped: 'skip' }[r.status];
	const time = r.status === 'skipped' ? '' : `  (${r.seconds.toFixed(1)} s)`;
	let s = `${tag} ${r.kernel.padEnd(7)} ${r.name}${time}` +
		`${r.reason ? `  ${r.reason}` : ''}\n`;
	if (r.status === 'failed') {
		const indent = (/** @type {string} */ t) => t.trimEnd().split('\n')
			.map((l) => `     | ${l}`).join('\n');
		if (r.outputTail.trim())
			s += `     test output (last lines):\n${indent(r.outputTail)}\n`;
		if (r.consoleTail?.trim() && !r.offending.length)
			s += `     console (last lines):\n${indent(r.consoleTail)}\n`;
		if (r.atTimeout?.length)
			s += `     at the timeout:\n${indent(r.atTimeout.join('\n'))}\n`;
		if (r.offending.length) {
			s += `     kernel log:\n${indent(r.offending.slice(0, 60)
				.join('\n'))}\n`;
			s += `     first report:\n${indent(r.report.join('\n'))}\n`;
		}
		s += `     logs: ${rel(join(REPO, r.logDir))}/\n`;
	}
	process.stdout.write(s);
}

/**
 * @param {Result[]} results
 * @param {string} [error]
 */
function writeResults(results, error, file = RESULTS_FILE) {
	const count = (/** @type {string} */ s) =>
		results.filter((r) => r.status === s).length;
	const json = {
		suite: 'vm',
		passed: count('passed'),
		failed: count('failed') + (error ? 1 : 0),
		skipped: count('skipped'),
		...(error ? { error } : {}),
		tests: results.map(({ name, kernel, kernelVersion, status,
			seconds, logDir, reason, bootSeconds }) => ({
			name, kernel, kernelVersion, status, seconds, logDir,
			...(reason ? { reason } : {}),
			...(bootSeconds ? { bootSeconds } : {}),
		})),
	};
	mkdirSync(dirname(file), { recursive: true });
	writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
	return json;
}

async function main() {
	const t0 = Date.now();
	const o = parseArgs(process.argv.slice(2));
	const tests = discoverTests(o.testsDir, o.patterns);
	if (!tests.length) {
		throw new HarnessError(`no test in ${rel(o.testsDir)} matches ` +
			`${o.patterns.join(', ')}`);
	}
	// The default matrix (lib/matrix.mjs) for test/vm/tests/ without
	// --kernel; the stock kernels for other directories (benchmarks,
	// diagnostics, the demo).
	const useMatrix = !o.kernels.length && o.testsDir === TESTS_DIR;
	/** @type {(t: import('./lib/test-file.mjs').TestSpec) => string[]} */
	const wanted = (t) => useMatrix ? matrixKernels(t.name) :
		SUPPORTED_KERNELS;
	const names = o.kernels.length ? o.kernels : KERNEL_NAMES.filter((n) =>
		tests.some((t) => wanted(t).includes(n) &&
			(!t.kernels.length || t.kernels.includes(n))));
	// The debug kernel is built the first time a run needs it (about 38
	// CPU minutes): the other kernels' tests run meanwhile and its own
	// join the queue when it is ready, instead of every test waiting.
	const buildDebug = names.includes('debug') && !debugKernelReady();
	const vmLog = { log: (/** @type {string} */ s) => console.log(`vm: ${s}`) };
	const now = buildDebug ? names.filter((n) => n !== 'debug') : names;
	const { kernels } = now.length ? resolveKernels(now, vmLog) :
		{ kernels: [] };
	checkQemu();
	const helpers = buildHelpers(REPO, join(VM_OUT, 'helpers'));

	/** @type {Prepared[]} */
	const prepared = kernels.map((kernel) => prepareKernel(kernel,
		o.testsDir, vmLog));
	console.log(`vm: ${tests.length} test(s) on ` +
		kernels.map((k) => `${k.name} (${k.version})`).join(', ') +
		`${buildDebug ? `${kernels.length ? ', ' : ''}debug (once built)` : ''}` +
		`${useMatrix ? ' (default matrix)' : ''}, ${o.jobs} at a time`);

	const runDir = newRunDir();
	const took = readDurations();
	/**
	 * @type {Array<{job: (dirSuffix?: string) => Promise<Detailed>,
	 *   estimate: number, threads: number, retried?: boolean}>}
	 */
	const queue = [];
	/** @type {Result[]} */
	const results = [];
	/** Queues every selected test of these kernels, longest first. */
	const enqueue = (/** @type {Prepared[]} */ preps) => {
		for (const test of tests) {
			for (let n = 1; n <= o.repeat; n++) {
				for (const prep of preps) {
					const k = prep.kernel;
					const name = o.repeat > 1 ? `${test.name}.${n}` : test.name;
					const dir = join(runDir, k.version, name);
					if (useMatrix && !wanted(test).includes(k.name))
						continue;
					// A test for other kernels is out of scope here,
					// not skipped: it is not counted at all.
					if (test.kernels.length && !test.kernels.includes(k.name))
						continue;
					const smp = o.smp ?? test.smp;
					const tcg = o.tcg ?? test.tcg ?? kernelRun(k.name).tcg;
					queue.push({
						job: (suffix = '') => runOne(prep, test, `${dir}${suffix}`,
							{ ...o, helpers }),
						// Unknown: a fraction of the time limit.
						estimate: took[`${k.name}/${test.name}`] ??
							test.timeout * kernelRun(k.name).timeoutScale / 4,
						// Host threads that run its vCPUs.
						threads: tcg === 'multi' ? smp : 1,
					});
				}
			}
		}
		// Longest first: with two VMs at a time, a long test started last
		// would leave one core idle at the end.
		queue.sort((a, b) => b.estimate - a.estimate);
	};
	enqueue(prepared);
	/** @type {string[]} tests run a second time (see below) */
	const again = [];
	// --jobs is a budget of host threads: a guest under tcg=multi takes
	// one per vCPU, so two of those do not share two cores at once. The
	// first queued test that fits starts; one larger than the whole
	// budget runs alone.
	// Another harness's guests (lib/host-threads.mjs: npm test's
	// full-boot run) take from the same budget while they run.
	let free = o.jobs;
	let building = buildDebug;
	/** @type {string|undefined} */
	let buildError;
	/** @type {NodeJS.Timeout|undefined} */
	let recheck;
	await new Promise((resolve) => {
		const next = () => {
			clearTimeout(recheck);
			recheck = undefined;
			if (!queue.length && free === o.jobs && !building)
				return resolve(undefined);
			const others = queue.length ? othersThreads() : 0;
			for (let i = 0; i < queue.length; i++) {
				const need = Math.min(queue[i].threads, o.jobs);
				if (need > free - others)
					continue;
				const [item] = queue.splice(i--, 1);
				free -= need;
				publishThreads(o.jobs - free);
				item.job(item.retried ? '.again' : '').then((r) => {
					free += need;
					publishThreads(o.jobs - free);
					// qemu held the guest's disk requests and never
					// completed them (lib/virtio-probe.mjs): the host
					// stalled, not the code under test. Or the guest
					// hung while the module held no write at all: the
					// hang lies outside the write path under test.
					// Once, and said with what the guest showed.
					const why = r.status !== 'failed' || item.retried ? '' :
						r.hostStall ? `stalled below the guest (${r.hostStall})` :
						r.idleHang ? 'hung while the module held no write' : '';
					if (why) {
						console.log(`again ${r.kernel.padEnd(7)} ${r.name}  ` +
							`${why}; first run's logs: ` +
							`${rel(join(REPO, r.logDir))}/`);
						if (r.atTimeout?.length)
							console.log(r.atTimeout.map((l) => `     | ${l}`)
								.join('\n'));
						again.push(`${r.kernel} ${r.name}`);
						queue.unshift({ ...item, retried: true });
					} else {
						printResult(r);
						results.push(r);
					}
					next();
				});
			}
			// Held off by another harness's guests: look again later.
			if (queue.length && free > 0)
				recheck = setTimeout(next, RECHECK_MS);
		};
		if (buildDebug) {
			buildDebugKernel().then((built) => {
				building = false;
				if (built) {
					const debug = resolveKernels(['debug'], vmLog).kernels;
					enqueue(debug.map((k) => prepareKernel(k, o.testsDir,
						vmLog)));
				} else {
					buildError = 'the debug kernel did not build ' +
						'(its log: the lines above); its tests did not run';
					console.log(`vm: ${buildError}`);
				}
				next();
			});
		}
		next();
	});

	if (again.length)
		console.log(`vm: ran again after a hang outside the module's ` +
			`write path or below the guest: ${again.join(', ')}`);
	const json = writeResults(results, buildError, o.resultsFile);
	writeDurations(took, results);
	const secs = ((Date.now() - t0) / 1000).toFixed(1);
	/** @type {Map<string, number>} */
	const perKernel = new Map();
	for (const r of results)
		perKernel.set(r.kernel, (perKernel.get(r.kernel) ?? 0) + r.seconds);
	console.log(`vm: VM time per kernel: ${[...perKernel].map(([k, v]) =>
		`${k} ${v.toFixed(0)} s`).join(', ')}`);
	console.log(`vm: logs in ${rel(runDir)}/, results in ` +
		`${rel(o.resultsFile)} (${secs} s)`);
	console.log(`vm: ${json.passed} passed, ${json.failed} failed, ` +
		`${json.skipped} skipped`);
	return json.failed ? 1 : 0;
}

installCleanup((e) => {
	const known = e instanceof HarnessError || e instanceof KernelError ||
		e instanceof DebugKernelError;
	console.error(`vm: ${known ? e.message : e instanceof Error ?
		e.stack : e}`);
	try {
		writeResults([], known ? e.message : String(e));
	} catch {
		// Nothing more to report with.
	}
});

// A rejection reaches installCleanup's handler, which reports it.
main().then((code) => {
	process.exitCode = code;
});
