#!/usr/bin/env node
// Full-boot guest tests: a Debian bookworm system image booted by qemu
// (TCG) through its own GRUB, kernel and initramfs-tools initrd
// (scripts/guest-image.mjs builds and caches it), driven over a command
// agent, with real `systemctl reboot`s and power cuts (SIGKILL to qemu).
//
//   node test/vm/fullboot/run.mjs [--kernel 6.1|6.12]... [--jobs N] [--keep] [pattern]...
//   node test/vm/fullboot/run.mjs --ci [--jobs N]   what `npm test` runs (lib/matrix.mjs)
//   (npm run test:fullboot)
//
// Runs every file in test/vm/fullboot/tests/ whose name contains a pattern
// (all when none) on each kernel it lists (`export const kernels`), N at a
// time (default 2: each guest is one TCG thread, the machine has 2 cores).
// A test file exports:
//
//   kernels   ['6.1', '6.12']: the kernel of its first boot
//   timeout   seconds for the whole test, boots included
//   run(t)    async; throws to fail. t.boot(opts) starts a guest
//             (lib/guest.mjs), t.kernel, t.other (the other kernel),
//             t.image, t.dir, t.log(line)
//
// Logs stay in out/vm/fullboot/runs/<run>/<kernel>/<test>/ (console.log:
// every boot's serial console); a passing test's overlay and disks are
// deleted, a failing test's kept. Results: out/results/fullboot.json. Exit
// status 1 when anything failed. Details: docs/testing-fullboot.md.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureGuestImage, GuestImageError } from '../../../scripts/guest-image.mjs';
import { HarnessError } from '../lib/errors.mjs';
import { HOST_CORES, othersThreads, publishThreads, RECHECK_MS } from '../lib/host-threads.mjs';
import { checkQemu, installCleanup } from '../lib/qemu.mjs';
import { boot } from './lib/guest.mjs';
import { CI } from './lib/matrix.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..', '..');
const TESTS = join(HERE, 'tests');
const OUT = join(REPO, 'out');
const RESULTS_FILE = join(OUT, 'results', 'fullboot.json');
const KERNELS = ['6.1', '6.12'];

/** @param {string} p */
const rel = (p) => relative(process.cwd(), p) || '.';

/** @param {string[]} argv */
function parseArgs(argv) {
	const o = { /** @type {string[]} */ kernels: [],
		/** @type {string[]} */ patterns: [], keep: false, jobs: 2, ci: false };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--kernel') {
			const k = argv[++i];
			if (!KERNELS.includes(k))
				throw new HarnessError(`--kernel: one of ${KERNELS.join(', ')}`);
			o.kernels.push(k);
		} else if (a === '--jobs') {
			const n = Number(argv[++i]);
			if (!Number.isInteger(n) || n < 1 || n > 8)
				throw new HarnessError('--jobs: a number from 1 to 8');
			o.jobs = n;
		} else if (a === '--keep') {
			o.keep = true;
		} else if (a === '--ci') {
			o.ci = true;
		} else if (a === '-h' || a === '--help') {
			console.log('usage: node test/vm/fullboot/run.mjs ' +
				'[--kernel 6.1|6.12]... [--jobs N] [--keep] [pattern]...\n' +
				'       node test/vm/fullboot/run.mjs --ci [--jobs N] [--keep]');
			process.exit(0);
		} else if (a.startsWith('-')) {
			throw new HarnessError(`unknown option ${a}`);
		} else {
			o.patterns.push(a);
		}
	}
	if (o.ci && (o.kernels.length || o.patterns.length))
		throw new HarnessError('--ci runs lib/matrix.mjs: no --kernel or pattern with it');
	return o;
}

/**
 * @typedef {object} Result
 * @property {string} name
 * @property {string} kernel
 * @property {'passed'|'failed'} status
 * @property {number} seconds
 * @property {number[]} bootSeconds
 * @property {string} logDir
 * @property {string} [reason]
 */

/** @param {Result[]} results @param {string} [error] */
function writeResults(results, error) {
	const json = {
		suite: 'fullboot',
		passed: results.filter((r) => r.status === 'passed').length,
		failed: results.filter((r) => r.status === 'failed').length +
			(error ? 1 : 0),
		skipped: 0,
		...(error ? { error } : {}),
		tests: results,
	};
	mkdirSync(dirname(RESULTS_FILE), { recursive: true });
	writeFileSync(RESULTS_FILE, `${JSON.stringify(json, null, 2)}\n`);
	return json;
}

/**
 * Run one test on one kernel; never throws.
 * @param {{name: string, mod: any}} test
 * @param {string} kernel
 * @param {string} dir
 * @param {import('../../../scripts/guest-image.mjs').GuestImage} image
 * @param {boolean} keep
 * @returns {Promise<Result>}
 */
async function runTest(test, kernel, dir, image, keep) {
	mkdirSync(dir, { recursive: true });
	/** @type {import('./lib/guest.mjs').Guest[]} */
	const guests = [];
	const lines = [];
	const t0 = Date.now();
	const t = {
		kernel,
		other: KERNELS.find((k) => k !== kernel),
		image,
		dir,
		log: (/** @type {string} */ s) => lines.push(s),
		/** @param {Partial<import('./lib/guest.mjs').BootOptions>} [o] */
		boot: async (o = {}) => {
			const g = await boot(image, { dir, kernel, ...o });
			guests.push(g);
			return g;
		},
	};
	let reason;
	let timer;
	try {
		const limit = (test.mod.timeout ?? 600) * 1000;
		await Promise.race([test.mod.run(t), new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(`timed out after ` +
				`${limit / 1000} s`)), limit);
		})]);
	} catch (e) {
		reason = e instanceof Error ? e.message : String(e);
	} finally {
		clearTimeout(timer);
	}
	const bootSeconds = guests.flatMap((g) => g.bootSeconds);
	writeFileSync(join(dir, 'test.log'), lines.map((l) => `${l}\n`).join('') +
		(reason ? `FAILED: ${reason}\n` : 'passed\n'));
	for (const g of guests) {
		if (reason || keep)
			await g.kill();
		else
			await g.discard();
	}
	return { name: test.name, kernel, status: reason ? 'failed' : 'passed',
		seconds: (Date.now() - t0) / 1000, bootSeconds, logDir: rel(dir),
		...(reason ? { reason } : {}) };
}

/** @param {Result} r */
function printResult(r) {
	const tag = r.status === 'passed' ? 'ok  ' : 'FAIL';
	let s = `${tag} ${r.kernel.padEnd(5)} ${r.name}  (${r.seconds.toFixed(1)} s;` +
		` boots ${r.bootSeconds.map((b) => b.toFixed(0)).join(', ')} s)\n`;
	if (r.reason) {
		s += `${r.reason.trimEnd().split('\n').slice(0, 40)
			.map((l) => `     | ${l}`).join('\n')}\n`;
		s += `     logs: ${r.logDir}/\n`;
	}
	process.stdout.write(s);
}

async function main() {
	const t0 = Date.now();
	const o = parseArgs(process.argv.slice(2));
	checkQemu();
	const ciNames = CI.map((r) => `${r.test}.mjs`);
	const files = readdirSync(TESTS).filter((f) => f.endsWith('.mjs')).sort()
		.filter((f) => o.ci ? ciNames.includes(f) : !o.patterns.length ||
			o.patterns.some((p) => f.includes(p)));
	if (o.ci && files.length !== CI.length)
		throw new HarnessError(`lib/matrix.mjs names a test that is not in ${rel(TESTS)}`);
	if (!files.length)
		throw new HarnessError(`no test in ${rel(TESTS)} matches ${o.patterns.join(', ')}`);
	const image = ensureGuestImage({ log: (s) => console.log(`fullboot: ${s}`) });
	const tests = [];
	for (const f of files) {
		const mod = await import(pathToFileURL(join(TESTS, f)).href);
		tests.push({ name: basename(f, '.mjs'), mod });
	}
	const stamp = new Date().toISOString().replace(/[:.]/g, '-');
	const runDir = join(OUT, 'vm', 'fullboot', 'runs', stamp);
	for (const r of o.ci ? CI : []) {
		const mod = tests.find((t) => t.name === r.test)?.mod;
		if (!(mod.kernels ?? KERNELS).includes(r.kernel))
			throw new HarnessError(`lib/matrix.mjs: ${r.test} does not run on ${r.kernel}`);
	}
	// --ci: in the matrix's order (longest first, for two at a time).
	const jobs = o.ci ? CI.map((r) => ({
		test: tests.find((t) => t.name === r.test), kernel: r.kernel })) :
		tests.flatMap((test) => (test.mod.kernels ?? KERNELS)
			.filter((/** @type {string} */ k) => !o.kernels.length ||
				o.kernels.includes(k))
			.map((/** @type {string} */ k) => ({ test, kernel: k })));
	console.log(`fullboot: ${jobs.length} test run(s), image ${rel(image.dir)} ` +
		`(${Object.values(image.kernels).map((k) => k.release).join(', ')})`);
	/** @type {Result[]} */
	const results = [];
	// o.jobs workers take the runs in order; a TCG guest keeps a core
	// busy, so one waits while another harness's guests
	// (lib/host-threads.mjs) take the other cores.
	let next = 0;
	let running = 0;
	// A worker keeps its core from its first test to its last: released
	// in between, the other harness would take it back at once.
	const worker = async () => {
		while (running + 1 + othersThreads() > Math.max(o.jobs, HOST_CORES))
			await new Promise((r) => setTimeout(r, RECHECK_MS));
		publishThreads(++running);
		while (next < jobs.length) {
			const { test, kernel } = jobs[next++];
			const r = await runTest(test, kernel, join(runDir, kernel, test.name),
				image, o.keep);
			printResult(r);
			results.push(r);
		}
		publishThreads(--running);
	};
	await Promise.all(Array.from({ length: Math.min(o.jobs, jobs.length) }, worker));
	const json = writeResults(results);
	const secs = ((Date.now() - t0) / 1000).toFixed(1);
	console.log(`fullboot: logs in ${rel(runDir)}/, results in ` +
		`${rel(RESULTS_FILE)} (${secs} s)`);
	console.log(`fullboot: ${json.passed} passed, ${json.failed} failed`);
	return json.failed ? 1 : 0;
}

installCleanup((e) => {
	const known = e instanceof HarnessError || e instanceof GuestImageError;
	console.error(`fullboot: ${known ? e.message : e instanceof Error ?
		e.stack : e}`);
	try {
		writeResults([], known ? e.message : String(e));
	} catch {
		// Nothing more to report with.
	}
});

main().then((code) => {
	process.exitCode = code;
});
