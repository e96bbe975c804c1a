#!/usr/bin/env node
// Kernel tests in qemu: boots Debian's own kernels (TCG) with a busybox
// initramfs, mounts the host's root read-only over 9p and runs one test
// file per boot, chrooted into it, as root.
//
//   node test/vm/run.mjs [--kernel 6.1|6.12|<version>]... [pattern]...
//        [--jobs N] [--repeat N] [--smp N] [--keep-disks]
//        [--disk-cache none|writeback|unsafe] [--disk-dir DIR]
//        [--dir DIR] [--results FILE]
//   (npm run test:vm -- --kernel 6.12 001)
//
// Runs every file in test/vm/tests/ (or --dir, e.g. the benchmarks in
// test/bench/vm/) whose name contains a pattern (all when none) on every selected kernel (default: the supported matrix of
// scripts/kernels.mjs). Before that it builds snapkeep.ko per kernel
// (scripts/build-kmod.mjs), the C helpers (test/vm/helpers/) and a cached
// initramfs per kernel (lib/initramfs.mjs).
//
// A test file (*.sh: bash, *.mjs: node) declares what it needs in its
// leading comment lines; all keys are optional:
//
//   # vm: disks=2x256M memory=1024 timeout=180 smp=2
//   # vm: modules=ext4,xfs,dm-snapshot,loop,nbd kernels=6.12
//   # vm-allow-log: <regexp of kernel log lines this test may cause>
//
//   disks    virtio disks, "NxSIZE" or "SIZE,SIZE" (K/M/G/T), none default
//   memory   guest RAM, MiB or with a unit (default 1024)
//   timeout  seconds for the test itself, boot excluded (default 120)
//   smp      virtual CPUs (default 1; see docs/testing-vm.md)
//   modules  kernel modules loaded before the test, with dependencies
//   kernels  series the test applies to; on others it is skipped
//
// In the guest the test runs with cwd /tmp and the environment
//   SNAPKEEP_REPO     absolute path of this repository (read-only)
//   SNAPKEEP_KO       snapkeep.ko built for the running kernel
//   SNAPKEEP_KERNEL   full kernel version (uname -r)
//   SNAPKEEP_DISKS    "/dev/vda /dev/vdb", in header order
//   SNAPKEEP_HELPERS  directory of the compiled test/vm/helpers/*.c
//   SNAPKEEP_RESULTS  writable directory kept with the logs on the host
//   SNAPKEEP_TEST     the test's name
// and / read-only, /tmp /run /dev/shm as tmpfs.
//
// A test fails when it exits non-zero, exceeds its timeout, the guest
// panics or never reports, or the kernel log shows a warning, oops, lock
// or memory-debugging report (lib/kernel-log.mjs) or a bad taint flag.
// Logs stay in out/vm/runs/<run>/<kernel>/<test>/; results are written to
// out/results/vm.json. Exit status 1 when anything failed.
// Details and measurements: docs/testing-vm.md.

import {
	closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync,
	rmSync,
	symlinkSync, truncateSync, writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildError, buildKmod, REPO } from '../../scripts/build-kmod.mjs';
import { KernelError, resolveKernels } from '../../scripts/kernels.mjs';
import { HarnessError } from './lib/errors.mjs';
import { buildHelpers } from './lib/helpers.mjs';
import {
	buildInitramfs, guestModulePath, resolveModulesDetailed,
} from './lib/initramfs.mjs';
import {
	badTaints, firstReport, panicked, scanKernelLogs,
} from './lib/kernel-log.mjs';
import { checkQemu, installCleanup, qemuArgs, runQemu } from './lib/qemu.mjs';
import { discoverTests } from './lib/test-file.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TESTS_DIR = join(HERE, 'tests');
const OUT = join(REPO, 'out');
const VM_OUT = join(OUT, 'vm');
const RESULTS_FILE = join(OUT, 'results', 'vm.json');

/**
 * Tests run at once. Two: one per core, the two kernels side by side
 * (docs/testing-vm.md has the measurements behind this).
 */
const DEFAULT_JOBS = 2;
/** Disk image cache mode (measured: docs/testing-vm.md). */
const DISK_CACHE = 'writeback';
/** Seconds allowed for boot, setup and power-off on top of the timeout. */
const BOOT_BUDGET = 90;
/** Run directories kept in out/vm/runs/. */
const KEEP_RUNS = 10;

/**
 * @typedef {import('../../scripts/kernels.mjs').Kernel} Kernel
 * @typedef {import('./lib/test-file.mjs').TestSpec} TestSpec
 * @typedef {{name: string, kernel: string, kernelVersion: string,
 *   status: 'passed'|'failed'|'skipped', seconds: number, logDir: string,
 *   reason?: string, bootSeconds?: number}} Result
 * @typedef {Result & {offending: string[], report: string[],
 *   outputTail: string, consoleTail?: string}} Detailed
 */

/** @param {string[]} argv */
function parseArgs(argv) {
	const o = {
		/** @type {string[]} */ kernels: [],
		/** @type {string[]} */ patterns: [],
		jobs: DEFAULT_JOBS,
		repeat: 1,
		/** @type {number|undefined} */ smp: undefined,
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
		case '--keep-disks': o.keepDisks = true; break;
		case '--disk-cache': o.diskCache = value(); break;
		case '--disk-dir': o.diskDir = resolve(value()); break;
		case '--dir': o.testsDir = resolve(value()); break;
		case '--results': o.resultsFile = resolve(value()); break;
		case '-h': case '--help':
			console.log('usage: node test/vm/run.mjs [--kernel K]... ' +
				'[--jobs N] [--repeat N] [--smp N] [--keep-disks] ' +
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

/** @param {string} s */
const shq = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

/** @param {string} p */
const rel = (p) => relative(process.cwd(), p) || '.';

/** @param {string} path */
function readOr(path, fallback = '') {
	try {
		return readFileSync(path, 'utf8');
	} catch {
		return fallback;
	}
}

/** A fresh run directory, the "latest" link, and old runs pruned. */
function newRunDir() {
	const runs = join(VM_OUT, 'runs');
	mkdirSync(runs, { recursive: true });
	const stamp = new Date().toISOString().replace(/[:.]/g, '-')
		.replace(/-\d+Z$/, '');
	const dir = join(runs, `${stamp}-${process.pid}`);
	mkdirSync(dir);
	const old = readdirSync(runs).filter((n) => n !== 'latest').sort();
	for (const n of old.slice(0, Math.max(0, old.length - KEEP_RUNS)))
		rmSync(join(runs, n), { recursive: true, force: true });
	rmSync(join(runs, 'latest'), { force: true });
	symlinkSync(relative(runs, dir), join(runs, 'latest'));
	return dir;
}

/**
 * Everything one kernel needs before its tests boot.
 * @typedef {{kernel: Kernel, ko?: string, buildError?: string,
 *   initramfs: string}} Prepared
 */

/**
 * Boot one test on one kernel and judge it.
 * @param {Prepared} prep
 * @param {TestSpec} test
 * @param {string} dir  fresh log directory, shared read-write with the guest
 * @param {{helpers: string, smp?: number, keepDisks: boolean,
 *   diskCache: string, diskDir?: string}} o
 * @returns {Promise<Detailed>}
 */
async function runOne(prep, test, dir, o) {
	const k = prep.kernel;
	const base = {
		name: test.name, kernel: k.series, kernelVersion: k.version,
		logDir: relative(REPO, dir),
	};
	if (!prep.ko) {
		mkdirSync(dir, { recursive: true });
		writeFileSync(join(dir, 'build.log'), prep.buildError ?? '');
		return { ...base, status: 'failed', seconds: 0,
			reason: 'snapkeep.ko did not build (compiler output above)',
			offending: [], report: [], outputTail: '' };
	}
	mkdirSync(dir, { recursive: true });
	// --disk-dir (e.g. /dev/shm for benchmarks): away from the run dir,
	// so the host's write-back of the images does not disturb timings.
	const diskDir = o.diskDir ?
		mkdtempSync(join(o.diskDir, 'snapkeep-vm-')) : dir;
	const disks = test.disks.map((size, i) => {
		const f = join(diskDir, `disk${i}.img`);
		closeSync(openSync(f, 'w'));
		truncateSync(f, size);
		return f;
	});
	const mods = resolveModulesDetailed(k, test.modules);
	const env = {
		TEST_NAME: test.name,
		TEST_FILE: test.file,
		TEST_INTERP: test.interp,
		TEST_TIMEOUT: test.timeout,
		TEST_DISK_COUNT: disks.length,
		TEST_MODULES: mods.files.map(guestModulePath).join(' '),
		TEST_MODULE_NAMES: test.modules
			.filter((m) => !mods.builtin.includes(m)).join(' '),
		SNAPKEEP_REPO: REPO,
		SNAPKEEP_KO: prep.ko,
		SNAPKEEP_KERNEL: k.version,
		SNAPKEEP_HELPERS: o.helpers,
	};
	for (const [key, v] of Object.entries(env)) {
		if (v === undefined)
			throw new Error(`job.env: ${key} is undefined`);
	}
	writeFileSync(join(dir, 'job.env'), Object.entries(env)
		.map(([key, v]) => `${key}=${shq(String(v))}\n`).join(''));

	const smp = o.smp ?? test.smp;
	const q = await runQemu(qemuArgs({
		vmlinuz: k.vmlinuz,
		initramfs: prep.initramfs,
		memory: test.memory,
		smp,
		disks,
		cache: o.diskCache,
		resultsDir: dir,
		consoleLog: join(dir, 'console.log'),
	}), {
		logFile: join(dir, 'qemu.log'),
		timeoutMs: (test.timeout + BOOT_BUDGET) * 1000,
	});

	const consoleText = readOr(join(dir, 'console.log'));
	const dmesg = readOr(join(dir, 'dmesg.log'));
	const status = readOr(join(dir, 'exit-status')).trim();
	const guestTimeout = readOr(join(dir, 'timed-out')).trim();
	/** @type {string[]} */
	const reasons = [];
	if (guestTimeout)
		reasons.push(`timed out after ${guestTimeout} s`);
	if (panicked(consoleText))
		reasons.push('guest kernel panicked');
	if (q.killed) {
		reasons.push(`guest did not power off within ` +
			`${test.timeout + BOOT_BUDGET} s, qemu killed`);
	} else if (q.code !== 0) {
		const first = readOr(join(dir, 'qemu.log')).trim().split('\n')[0];
		reasons.push(`qemu exited with ${q.code ?? q.signal}: ${first}`);
	}
	if (status === '')
		reasons.push('guest never reported an exit status');
	else if (status === '125' && /vm-init: setup failed/.test(consoleText))
		reasons.push('guest setup failed (see output)');
	else if (status !== '0' && !guestTimeout)
		reasons.push(`exit status ${status}`);
	const offending = scanKernelLogs([dmesg, consoleText], test.allowLog);
	const trace = firstReport(dmesg || consoleText, offending);
	if (offending.length)
		reasons.push(`kernel log: ${offending.length} suspicious line(s)`);
	const taints = badTaints(readOr(join(dir, 'tainted'), '0'));
	if (taints.length)
		reasons.push(`kernel tainted ${taints.join(', ')}`);

	const start = Number(readOr(join(dir, 'uptime-start')).split(' ')[0]);
	const passed = reasons.length === 0;
	if (passed && !o.keepDisks) {
		for (const f of disks)
			rmSync(f, { force: true });
		if (diskDir !== dir)
			rmSync(diskDir, { recursive: true, force: true });
	}
	const output = readOr(join(dir, 'output.log'));
	return {
		...base,
		status: passed ? 'passed' : 'failed',
		seconds: Math.round(q.seconds * 10) / 10,
		...(start ? { bootSeconds: start } : {}),
		...(passed ? {} : { reason: reasons.join('; ') }),
		offending,
		report: trace,
		outputTail: output.split('\n').slice(-40).join('\n'),
		// Without a report from the guest, the console tells how far
		// it got (no init, a module that would not load, a hang).
		consoleTail: status === '' ?
			consoleText.split('\n').slice(-25).join('\n') : '',
	};
}

/** @param {Detailed} r */
function printResult(r) {
	const tag = { passed: 'ok  ', failed: 'FAIL', skipped: 'skip' }[r.status];
	const time = r.status === 'skipped' ? '' : `  (${r.seconds.toFixed(1)} s)`;
	let s = `${tag} ${r.kernel.padEnd(5)} ${r.name}${time}` +
		`${r.reason ? `  ${r.reason}` : ''}\n`;
	if (r.status === 'failed') {
		const indent = (/** @type {string} */ t) => t.trimEnd().split('\n')
			.map((l) => `     | ${l}`).join('\n');
		if (r.outputTail.trim())
			s += `     test output (last lines):\n${indent(r.outputTail)}\n`;
		if (r.consoleTail?.trim() && !r.offending.length)
			s += `     console (last lines):\n${indent(r.consoleTail)}\n`;
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
	const { kernels } = resolveKernels(o.kernels);
	checkQemu();
	const helpers = buildHelpers(REPO, join(VM_OUT, 'helpers'));

	// One initramfs per kernel with the modules of every test in the
	// directory, not just the selected ones: one cached image serves all.
	const allModules = [...new Set(discoverTests(o.testsDir, [])
		.flatMap((t) => t.modules))].sort();
	/** @type {Prepared[]} */
	const prepared = kernels.map((kernel) => {
		/** @type {Prepared} */
		const p = {
			kernel,
			initramfs: buildInitramfs(kernel, allModules,
				join(VM_OUT, 'initramfs')).path,
		};
		try {
			p.ko = buildKmod(kernel, { log: (s) => console.log(`vm: ${s}`) });
		} catch (e) {
			if (!(e instanceof BuildError))
				throw e;
			p.buildError = `${e.output}\n${e.message}`;
			console.log(`vm: ${e.message}\n${e.output}`);
		}
		return p;
	});
	console.log(`vm: ${tests.length} test(s) on ` +
		kernels.map((k) => `${k.series} (${k.version})`).join(', ') +
		`, ${o.jobs} at a time`);

	const runDir = newRunDir();
	/** @type {Array<() => Promise<Detailed>>} */
	const queue = [];
	/** @type {Result[]} */
	const results = [];
	for (const test of tests) {
		for (let n = 1; n <= o.repeat; n++) {
			for (const prep of prepared) {
				const k = prep.kernel;
				const name = o.repeat > 1 ? `${test.name}.${n}` : test.name;
				const dir = join(runDir, k.version, name);
				if (test.kernels.length && !test.kernels.includes(k.series)) {
					const r = { name: test.name, kernel: k.series,
						kernelVersion: k.version, status:
						/** @type {const} */ ('skipped'), seconds: 0,
						logDir: '', reason: `only on ${test.kernels}`,
						offending: [], report: [], outputTail: '' };
					queue.push(async () => r);
					continue;
				}
				queue.push(() => runOne(prep, test, dir,
					{ ...o, helpers }));
			}
		}
	}
	const worker = async () => {
		for (let job = queue.shift(); job; job = queue.shift()) {
			const r = await job();
			printResult(r);
			results.push(r);
		}
	};
	await Promise.all(Array.from({ length: o.jobs }, worker));

	const json = writeResults(results, undefined, o.resultsFile);
	const secs = ((Date.now() - t0) / 1000).toFixed(1);
	console.log(`vm: logs in ${rel(runDir)}/, results in ` +
		`${rel(o.resultsFile)} (${secs} s)`);
	console.log(`vm: ${json.passed} passed, ${json.failed} failed, ` +
		`${json.skipped} skipped`);
	return json.failed ? 1 : 0;
}

installCleanup((e) => {
	const known = e instanceof HarnessError || e instanceof KernelError;
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
