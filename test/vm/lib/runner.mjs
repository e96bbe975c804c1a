// Booting one test on one kernel and judging it: shared by run.mjs (the
// command line, many tests) and host-side scripts that need a guest of
// their own while they work on it (startTest: the e2e suite drives the
// app served from a guest through a forwarded port).

import {
	closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync,
	rmSync, symlinkSync, truncateSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BuildError, buildKmod, REPO } from '../../../scripts/build-kmod.mjs';
import { resolveKernels } from '../../../scripts/kernels.mjs';
import { HarnessError } from './errors.mjs';
import { serveHostctl } from './hostctl.mjs';
import {
	buildInitramfs, guestModulePath, resolveModulesDetailed,
} from './initramfs.mjs';
import {
	badTaints, firstReport, hangReport, moduleIdleAtTimeout, panicked,
	scanKernelLogs,
} from './kernel-log.mjs';
import { kernelRun } from './matrix.mjs';
import { LazyQmp } from './qmp.mjs';
import { checkQemu, killOnExit, qemuArgs, runQemu } from './qemu.mjs';
import { discoverTests, parseTest } from './test-file.mjs';
import { watchStall } from './virtio-probe.mjs';

export const TESTS_DIR = join(REPO, 'test', 'vm', 'tests');
export const VM_OUT = join(REPO, 'out', 'vm');
/** Disk image cache mode (measured: docs/testing-vm.md). */
export const DISK_CACHE = 'writeback';
/** Seconds allowed for boot, setup and power-off on top of the timeout. */
export const BOOT_BUDGET = 90;
/** Run directories kept in out/vm/runs/. */
const KEEP_RUNS = 10;

/**
 * @typedef {import('../../../scripts/kernels.mjs').Kernel} Kernel
 * @typedef {import('./test-file.mjs').TestSpec} TestSpec
 * @typedef {import('./test-file.mjs').Forward} Forward
 * @typedef {{name: string, kernel: string, kernelVersion: string,
 *   status: 'passed'|'failed'|'skipped', seconds: number, logDir: string,
 *   reason?: string, bootSeconds?: number}} Result
 * @typedef {Result & {offending: string[], report: string[],
 *   outputTail: string, consoleTail?: string, hostStall?: string,
 *   atTimeout?: string[], idleHang?: boolean}} Detailed
 *   atTimeout: what a guest that timed out showed of its hang
 *   (kernel-log.mjs hangReport())
 *   idleHang: the guest timed out while the module held no write (no
 *   copy in progress, none held or queued) or was not loaded
 *   hostStall: set when the guest timed out while qemu held requests of
 *   its disks it never completed (virtio-probe.mjs): a stall below the
 *   guest
 */

/**
 * Everything one kernel needs before its tests boot.
 * @typedef {{kernel: Kernel, ko?: string, buildError?: string,
 *   initramfs: string}} Prepared
 */

/**
 * Options of one boot.
 * @typedef {object} BootOptions
 * @property {string} helpers   directory of the compiled C helpers
 * @property {number} [smp]     overrides the test's
 * @property {'single'|'multi'} [tcg] overrides the test's
 * @property {boolean} keepDisks
 * @property {string} diskCache
 * @property {string} [diskDir]
 * @property {AbortSignal} [signal] kills the guest when aborted
 * @property {(forwards: Forward[]) => void} [onForwards] called with the
 *   host ports chosen, before qemu starts
 */

/** @param {string} s */
const shq = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

/** @param {string} path */
function readOr(path, fallback = '') {
	try {
		return readFileSync(path, 'utf8');
	} catch {
		return fallback;
	}
}

/** A fresh run directory, the "latest" link, and old runs pruned. */
export function newRunDir() {
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
 * The initramfs and snapkeep.ko of a kernel. The initramfs holds the
 * modules of every test in `testsDir` (and `extraModules`), not just the
 * selected ones: one cached image serves all.
 * @param {Kernel} kernel
 * @param {string} testsDir
 * @param {{extraModules?: string[], log?: (s: string) => void}} [o]
 * @returns {Prepared}
 */
export function prepareKernel(kernel, testsDir, o = {}) {
	// A module this kernel lacks fails only the tests that need it
	// (runOne), not the whole kernel: the debug kernel has a different
	// set from Debian's.
	const allModules = [...new Set([
		...discoverTests(testsDir, []).flatMap((t) => t.modules),
		...(o.extraModules ?? []),
	])].sort().filter((m) => {
		try {
			resolveModulesDetailed(kernel, [m]);
			return true;
		} catch (e) {
			if (!(e instanceof HarnessError))
				throw e;
			return false;
		}
	});
	/** @type {Prepared} */
	const p = {
		kernel,
		initramfs: buildInitramfs(kernel, allModules,
			join(VM_OUT, 'initramfs')).path,
	};
	try {
		p.ko = buildKmod(kernel, { log: o.log ?? (() => {}) });
	} catch (e) {
		if (!(e instanceof BuildError))
			throw e;
		p.buildError = `${e.output}\n${e.message}`;
		o.log?.(`${e.message}\n${e.output}`);
	}
	return p;
}

/**
 * A TCP port free on the host's loopback right now (qemu binds it a
 * moment later; another process taking it in between makes qemu fail
 * to start, which is reported).
 * @returns {Promise<number>}
 */
function freePort() {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const a = s.address();
			const port = typeof a === 'object' && a ? a.port : 0;
			s.close(() => resolve(port));
		});
	});
}

/**
 * The forwards of a test with the free ports picked.
 * @param {Forward[]} forwards
 * @returns {Promise<Forward[]>}
 */
async function pickPorts(forwards) {
	/** @type {Forward[]} */
	const out = [];
	for (const f of forwards) {
		const host = f.host || await freePort();
		out.push({ host, guest: f.guest || host });
	}
	return out;
}

/**
 * Boot one test on one kernel and judge it.
 * @param {Prepared} prep
 * @param {TestSpec} test
 * @param {string} dir  fresh log directory, shared read-write with the guest
 * @param {BootOptions} o
 * @returns {Promise<Detailed>}
 */
export async function runOne(prep, test, dir, o) {
	const k = prep.kernel;
	const base = {
		name: test.name, kernel: k.name, kernelVersion: k.version,
		logDir: relative(REPO, dir),
	};
	const run = kernelRun(k.name);
	const timeout = Math.round(test.timeout * run.timeoutScale);
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
	// Sparse: a 3 TiB disk costs nothing until the guest writes to it.
	const disks = test.disks.map((disk, i) => {
		const file = join(diskDir, `disk${i}.img`);
		closeSync(openSync(file, 'w'));
		truncateSync(file, disk.size);
		return { file, disk };
	});
	let mods;
	try {
		mods = resolveModulesDetailed(k, test.modules);
	} catch (e) {
		if (!(e instanceof HarnessError))
			throw e;
		return { ...base, status: 'failed', seconds: 0,
			reason: e.message, offending: [], report: [], outputTail: '' };
	}
	const forwards = test.net ? await pickPorts(test.net.forwards) : undefined;
	const env = {
		TEST_NAME: test.name,
		TEST_FILE: test.file,
		TEST_INTERP: test.interp,
		TEST_TIMEOUT: timeout,
		TEST_DISK_COUNT: disks.length,
		TEST_MODULES: mods.files.map(guestModulePath).join(' '),
		TEST_MODULE_NAMES: test.modules
			.filter((m) => !mods.builtin.includes(m)).join(' '),
		SNAPKEEP_REPO: REPO,
		SNAPKEEP_KO: prep.ko,
		SNAPKEEP_KERNEL: k.version,
		SNAPKEEP_HELPERS: o.helpers,
		...(k.modulesRoot && k.modulesRoot !== '/' ?
			{ TEST_MODULES_ROOT: k.modulesRoot } : {}),
		...(test.disks.some((d) => d.bus === 'nvme') ?
			{ TEST_NVME: '1' } : {}),
		...(forwards ? {
			TEST_NET: '1',
			TEST_HOSTFWD: forwards.map((f) => `${f.host}:${f.guest}`)
				.join(' '),
		} : {}),
	};
	for (const [key, v] of Object.entries(env)) {
		if (v === undefined)
			throw new Error(`job.env: ${key} is undefined`);
	}
	writeFileSync(join(dir, 'job.env'), Object.entries(env)
		.map(([key, v]) => `${key}=${shq(String(v))}\n`).join(''));
	if (forwards)
		o.onForwards?.(forwards);

	const smp = o.smp ?? test.smp;
	// The monitor's socket lives in /tmp: a unix socket path has at most
	// 107 bytes, and run directories are deep.
	const qmpDir = mkdtempSync(join(tmpdir(), 'snapkeep-qmp-'));
	const qmpSocket = join(qmpDir, 'qmp.sock');
	const qmp = new LazyQmp(qmpSocket);
	const stopHostctl = new AbortController();
	const hostctl = serveHostctl({ dir, qmp, diskCount: disks.length,
		signal: stopHostctl.signal });
	// qemu holding the disks' requests for good: nothing the guest does
	// gets it out, so the guest is not waited for.
	const stalled = new AbortController();
	const probe = watchStall({ dir, consoleLog: join(dir, 'console.log'),
		qmp, diskCount: disks.length, signal: stopHostctl.signal,
		onHostStall: () => stalled.abort() });
	let q;
	try {
		q = await runQemu(qemuArgs({
			vmlinuz: k.vmlinuz,
			initramfs: prep.initramfs,
			memory: test.memory,
			smp,
			tcg: o.tcg ?? test.tcg ?? run.tcg,
			disks,
			cache: o.diskCache,
			resultsDir: dir,
			consoleLog: join(dir, 'console.log'),
			qmpSocket,
			...(forwards ? { forwards } : {}),
		}), {
			logFile: join(dir, 'qemu.log'),
			timeoutMs: (timeout + BOOT_BUDGET) * 1000,
			signal: o.signal ? AbortSignal.any([o.signal, stalled.signal]) :
				stalled.signal,
		});
	} finally {
		stopHostctl.abort();
		await hostctl.catch(() => {});
		qmp.close();
		rmSync(qmpDir, { recursive: true, force: true });
	}
	const stall = await probe;

	const consoleText = readOr(join(dir, 'console.log'));
	const dmesg = readOr(join(dir, 'dmesg.log'));
	const status = readOr(join(dir, 'exit-status')).trim();
	const guestTimeout = readOr(join(dir, 'timed-out')).trim();
	const ioAtTimeout = readOr(join(dir, 'io-at-timeout'));
	/** @type {string[]} */
	const reasons = [];
	if (guestTimeout)
		reasons.push(`timed out after ${guestTimeout} s`);
	if (stall?.findings.length)
		reasons.push(`virtio queues of the hung guest: ${stall.findings.join(', ')}`);
	if (panicked(consoleText))
		reasons.push('guest kernel panicked');
	if (q.killed && o.signal?.aborted) {
		reasons.push('guest killed by the caller');
	} else if (q.killed && stalled.signal.aborted) {
		reasons.push('qemu killed: its disk requests stalled');
	} else if (q.killed) {
		reasons.push(`guest did not power off within ` +
			`${timeout + BOOT_BUDGET} s, qemu killed`);
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
	// A failed test keeps its disks for a post-mortem, but not in a
	// --disk-dir such as /dev/shm, where they would hold RAM until reboot.
	if (!o.keepDisks && (passed || diskDir !== dir)) {
		for (const { file } of disks)
			rmSync(file, { force: true });
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
		...(stall?.hostHeld ? { hostStall: stall.findings.join(', ') } : {}),
		offending,
		report: trace,
		...(guestTimeout && !passed ? {
			atTimeout: hangReport(ioAtTimeout, dmesg || consoleText),
			idleHang: moduleIdleAtTimeout(ioAtTimeout),
		} : {}),
		outputTail: output.split('\n').slice(-40).join('\n'),
		// Without a report from the guest, the console tells how far
		// it got (no init, a module that would not load, a hang).
		consoleTail: status === '' ?
			consoleText.split('\n').slice(-25).join('\n') : '',
	};
}

/**
 * A guest booted for a host-side script.
 * @typedef {object} StartedTest
 * @property {string} dir        the test's log directory, which the guest
 *   sees read-write as $SNAPKEEP_RESULTS: files there are the channel
 *   between the script and the test
 * @property {Forward[]} forwards the ports forwarded, free ones picked
 * @property {Promise<Detailed>} result judged as run.mjs judges (exit
 *   status, kernel log, taint); never rejects
 * @property {() => void} kill   kill the guest now (idempotent); `result`
 *   then says "guest killed by the caller"
 */

/**
 * Boot one test file (anywhere, not only in test/vm/tests/) on one kernel
 * for a host-side script, and return once qemu is starting. Builds what
 * run.mjs builds (snapkeep.ko, the initramfs) but not the C helpers. The
 * guest is killed when this process exits; call kill() on every other
 * way out (a failed assertion, a timeout).
 * @param {{file: string, kernel?: string, keepDisks?: boolean}} o
 *   `kernel`: "6.1", "6.12" or a full version (default 6.12)
 * @returns {Promise<StartedTest>}
 */
export async function startTest(o) {
	const test = parseTest(readFileSync(o.file, 'utf8'), o.file);
	checkQemu();
	const { kernels } = resolveKernels([o.kernel ?? '6.12']);
	const prep = prepareKernel(kernels[0], TESTS_DIR,
		{ extraModules: test.modules });
	if (!prep.ko)
		throw new HarnessError(`snapkeep.ko did not build:\n${prep.buildError}`);
	const dir = join(newRunDir(), prep.kernel.version, test.name);
	killOnExit();
	const abort = new AbortController();
	/** @type {Forward[]} */
	let forwards = [];
	/** @type {(f: unknown) => void} */
	let ready = () => {};
	const portsKnown = new Promise((resolve) => {
		ready = resolve;
	});
	const result = runOne(prep, test, dir, {
		helpers: join(VM_OUT, 'helpers'),
		keepDisks: o.keepDisks ?? false,
		diskCache: DISK_CACHE,
		signal: abort.signal,
		onForwards: (f) => {
			forwards = f;
			ready(f);
		},
	}).catch((e) => /** @type {Detailed} */ ({
		name: test.name, kernel: prep.kernel.name,
		kernelVersion: prep.kernel.version, status: 'failed', seconds: 0,
		logDir: relative(REPO, dir), reason: String(e), offending: [],
		report: [], outputTail: '',
	}));
	// Return once the ports are known (runOne picks them just before qemu
	// starts), or at once for a guest without a network.
	if (test.net)
		await Promise.race([portsKnown, result]);
	return { dir, forwards, result, kill: () => abort.abort() };
}
