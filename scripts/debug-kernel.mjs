#!/usr/bin/env node
// The debug kernel of the VM matrix: Debian's linux-source-6.12 built with
// scripts/kernel-debug.config (lockdep, PROVE_RCU, KASAN, KFENCE, object
// debugging, hung-task and lockup detectors), so the kernel tests see the
// bugs stock kernels stay silent about.
//
//   node scripts/debug-kernel.mjs            build unless cached, print it
//   node scripts/debug-kernel.mjs --check    only say whether it is cached
//   (npm run build:kernel)
//
// Built once per machine, in a cache outside the checkout keyed by the hash
// of everything that shapes it (source package version, config fragment,
// compiler, these build steps), so clean clones and CI runs reuse it:
//
//   <cache>/kernels/debug-<key>/
//     vmlinuz          the image qemu boots
//     mods/lib/modules/<release>/   modules_install (depmod done); its
//                      build -> the object tree, for `make M=` (snapkeep.ko)
//     src/ build/      the source and object trees (object files pruned:
//                      what out-of-tree modules need stays)
//     build.log        the compiler's output
//     ready.json       written last: the entry is complete
//
// <cache> is $SNAPKEEP_TEST_CACHE, else /var/cache/snapkeep-test when
// writable, else ~/.cache/snapkeep-test. The release is
// 6.12.N-sk-debug-<key>, so `uname -r` says which build booted.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
	accessSync, constants, copyFileSync, existsSync, mkdirSync, openSync,
	closeSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync,
	utimesSync, writeFileSync,
} from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLock } from './lock-file.mjs';

export const SOURCE_PACKAGE = 'linux-source-6.12';
export const SOURCE_TARBALL = `/usr/src/${SOURCE_PACKAGE}.tar.xz`;
export const FRAGMENT = join(dirname(fileURLToPath(import.meta.url)),
	'kernel-debug.config');
/** Bump when the build steps below change what is built. */
const FORMAT = 1;
/** Cache entries kept (branches with different fragments share a machine). */
const KEEP = 3;
/** How long a second process waits for a build already under way. */
const BUILD_WAIT_MS = 90 * 60 * 1000;

/** Anything the user fixes by installing a package or freeing space. */
export class DebugKernelError extends Error {
	name = 'DebugKernelError';
}

/**
 * The machine-wide cache directory of test kernels.
 * @returns {string}
 */
export function cacheRoot() {
	if (process.env.SNAPKEEP_TEST_CACHE)
		return resolve(process.env.SNAPKEEP_TEST_CACHE);
	const system = '/var/cache/snapkeep-test';
	try {
		mkdirSync(system, { recursive: true });
		accessSync(system, constants.W_OK);
		return system;
	} catch {
		return join(homedir(), '.cache', 'snapkeep-test');
	}
}

/** @param {string} cmd @param {string[]} args */
function firstLine(cmd, args) {
	const r = spawnSync(cmd, args, { encoding: 'utf8' });
	if (r.error || r.status !== 0)
		throw new DebugKernelError(`cannot run ${cmd}: apt-get install build-essential`);
	return r.stdout.split('\n')[0].trim();
}

/**
 * What the build depends on, and its cache key.
 * @returns {{sourceVersion: string, fragment: string, compiler: string,
 *   linker: string, key: string}}
 */
export function debugKernelInputs() {
	const q = spawnSync('dpkg-query', ['-W', '-f=${Status} ${Version}',
		SOURCE_PACKAGE], { encoding: 'utf8' });
	const m = /install ok installed (\S+)/.exec(q.stdout ?? '');
	if (!m || !existsSync(SOURCE_TARBALL)) {
		throw new DebugKernelError(`${SOURCE_PACKAGE} is not installed ` +
			`(the debug kernel is built from it): apt-get install ` +
			`${SOURCE_PACKAGE} flex bison libelf-dev bc`);
	}
	const inputs = {
		sourceVersion: m[1],
		fragment: readFileSync(FRAGMENT, 'utf8'),
		compiler: firstLine('gcc', ['--version']),
		linker: firstLine('ld', ['--version']),
	};
	const key = createHash('sha256')
		.update(JSON.stringify({ FORMAT, arch: process.arch, ...inputs }))
		.digest('hex').slice(0, 12);
	return { ...inputs, key };
}

/**
 * @typedef {object} DebugKernel
 * @property {string} version     the release (uname -r)
 * @property {string} vmlinuz
 * @property {string} modulesRoot holds lib/modules/<version>
 * @property {string} buildDir    the kbuild tree for `make -C ... M=`
 * @property {string} dir         the cache entry
 */

/**
 * The cached debug kernel, built first if needed (`build`), else an error.
 * @param {{build?: boolean, log?: (s: string) => void}} [o]
 * @returns {DebugKernel}
 */
export function ensureDebugKernel(o = {}) {
	const log = o.log ?? ((s) => console.error(s));
	const inputs = debugKernelInputs();
	const kernels = join(cacheRoot(), 'kernels');
	const dir = join(kernels, `debug-${inputs.key}`);
	const found = readEntry(dir);
	if (found)
		return found;
	if (o.build === false) {
		throw new DebugKernelError('the debug kernel is not built yet: ' +
			'npm run build:kernel');
	}
	mkdirSync(kernels, { recursive: true });
	return withLock(`${dir}.lock`, () => readEntry(dir) ??
		build(dir, inputs, log), BUILD_WAIT_MS);
}

/**
 * A complete cache entry, or undefined. Marks it used (pruning keeps the
 * most recently used).
 * @param {string} dir
 * @returns {DebugKernel|undefined}
 */
function readEntry(dir) {
	let ready;
	try {
		ready = JSON.parse(readFileSync(join(dir, 'ready.json'), 'utf8'));
	} catch {
		return undefined;
	}
	const now = new Date();
	try {
		utimesSync(join(dir, 'ready.json'), now, now);
	} catch {
		// A read-only cache still serves.
	}
	return entry(dir, ready.version);
}

/** @param {string} dir @param {string} version @returns {DebugKernel} */
function entry(dir, version) {
	return {
		version,
		vmlinuz: join(dir, 'vmlinuz'),
		modulesRoot: join(dir, 'mods'),
		buildDir: join(dir, 'build'),
		dir,
	};
}

/**
 * Run a build step with its output appended to the log; on failure, the
 * log's tail in the error.
 * @param {string} logFile
 * @param {string} cmd
 * @param {string[]} args
 * @param {{cwd?: string}} [o]
 */
function step(logFile, cmd, args, o = {}) {
	writeFileSync(logFile, `\n$ ${cmd} ${args.join(' ')}\n`, { flag: 'a' });
	const fd = openSync(logFile, 'a');
	let r;
	try {
		r = spawnSync(cmd, args, { stdio: ['ignore', fd, fd], cwd: o.cwd,
			env: { ...process.env, LC_ALL: 'C' } });
	} finally {
		closeSync(fd);
	}
	if (r.error || r.status !== 0) {
		const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n')
			.slice(-30).join('\n');
		throw new DebugKernelError(`debug kernel: ${cmd} ${args.join(' ')} ` +
			`failed (${r.error?.message ?? `exit ${r.status}`}); ` +
			`log: ${logFile}\n${tail}`);
	}
}

/**
 * Options of the fragment the resolved .config lacks or contradicts.
 * @param {string} fragment
 * @param {string} config the resolved .config
 * @returns {string[]}
 */
export function missingOptions(fragment, config) {
	const have = new Map();
	for (const line of config.split('\n')) {
		const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
		if (m)
			have.set(m[1], m[2]);
	}
	const bad = [];
	for (const line of fragment.split('\n')) {
		const m = /^(CONFIG_\w+)=(.*)$/.exec(line.trim());
		if (!m)
			continue;
		const got = have.get(m[1]);
		const ok = m[2] === 'n' ? got === undefined || got === 'n' :
			got === m[2];
		if (!ok)
			bad.push(`${m[1]}=${m[2]} (got ${got ?? 'not set'})`);
	}
	return bad;
}

/**
 * CPU seconds used by this process's waited-for children so far (compile
 * time independent of how busy the machine was).
 */
function childCpuSeconds() {
	try {
		const stat = readFileSync('/proc/self/stat', 'utf8');
		const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		// Fields 16 and 17 (cutime, cstime) are 13 and 14 after "state".
		return (Number(f[13]) + Number(f[14])) / 100;
	} catch {
		return 0;
	}
}

/**
 * Build the entry from scratch (under the lock).
 * @param {string} dir
 * @param {ReturnType<typeof debugKernelInputs>} inputs
 * @param {(s: string) => void} log
 * @returns {DebugKernel}
 */
function build(dir, inputs, log) {
	const t0 = Date.now();
	const cpu0 = childCpuSeconds();
	rmSync(dir, { recursive: true, force: true });
	const src = join(dir, 'src');
	const obj = join(dir, 'build');
	const logFile = join(dir, 'build.log');
	mkdirSync(src, { recursive: true });
	mkdirSync(obj);
	log(`debug kernel: building from ${SOURCE_PACKAGE} ` +
		`${inputs.sourceVersion} into ${dir} (once per machine; about ` +
		'20 min on 2 cores; log: build.log there)');
	step(logFile, 'tar', ['-xf', SOURCE_TARBALL, '-C', src,
		'--strip-components=1']);
	const fragment = join(dir, 'kernel-debug.config');
	writeFileSync(fragment, inputs.fragment);
	const make = (/** @type {string[]} */ args) => step(logFile, 'nice',
		['-n', '10', 'make', '-C', src, `O=${obj}`, 'ARCH=x86_64',
			'KBUILD_BUILD_USER=snapkeep', 'KBUILD_BUILD_HOST=snapkeep',
			...args]);
	make(['allnoconfig', `KCONFIG_ALLCONFIG=${fragment}`]);
	step(logFile, join(src, 'scripts', 'config'), ['--file',
		join(obj, '.config'), '--set-str', 'LOCALVERSION',
		`-sk-debug-${inputs.key}`]);
	make(['olddefconfig']);
	const missing = missingOptions(inputs.fragment,
		readFileSync(join(obj, '.config'), 'utf8'));
	if (missing.length) {
		throw new DebugKernelError('debug kernel: scripts/kernel-debug.config ' +
			'asks for options the kernel did not take (a missing ' +
			`dependency?): ${missing.join(', ')}`);
	}
	make([`-j${availableParallelism()}`, 'bzImage', 'modules']);
	const mods = join(dir, 'mods');
	make(['modules_install', `INSTALL_MOD_PATH=${mods}`,
		'INSTALL_MOD_STRIP=1']);
	const version = readFileSync(join(obj, 'include', 'config',
		'kernel.release'), 'utf8').trim();
	copyFileSync(join(obj, 'arch', 'x86', 'boot', 'bzImage'),
		join(dir, 'vmlinuz'));
	const buildLink = join(mods, 'lib', 'modules', version, 'build');
	rmSync(buildLink, { force: true });
	symlinkSync(obj, buildLink);
	pruneObjects(obj);
	const seconds = Math.round((Date.now() - t0) / 1000);
	const cpuSeconds = Math.round(childCpuSeconds() - cpu0);
	writeFileSync(join(dir, 'ready.json'), `${JSON.stringify({
		version, seconds, cpuSeconds, builtAt: new Date().toISOString(),
		sourceVersion: inputs.sourceVersion, compiler: inputs.compiler,
		linker: inputs.linker, format: FORMAT,
	}, null, 2)}\n`);
	log(`debug kernel: ${version} built in ${(seconds / 60).toFixed(1)} ` +
		`min (${(cpuSeconds / 60).toFixed(1)} CPU min)`);
	pruneCache(dirname(dir), dir);
	return entry(dir, version);
}

/**
 * Drop what out-of-tree module builds never read: object files and
 * archives of the kernel itself (host tools under scripts/ and tools/
 * keep theirs), and vmlinux.o.
 * @param {string} obj
 */
function pruneObjects(obj) {
	const walk = (/** @type {string} */ d, /** @type {boolean} */ keep) => {
		for (const e of readdirSync(d, { withFileTypes: true })) {
			const p = join(d, e.name);
			if (e.isDirectory()) {
				walk(p, keep || (d === obj &&
					(e.name === 'scripts' || e.name === 'tools')));
			} else if (!keep && /\.(o|a)$/.test(e.name)) {
				rmSync(p, { force: true });
			}
		}
	};
	walk(obj, false);
}

/**
 * Keep the KEEP most recently used entries (never `current`).
 * @param {string} kernels
 * @param {string} current
 */
function pruneCache(kernels, current) {
	const entries = readdirSync(kernels)
		.filter((n) => /^debug-[0-9a-f]+$/.test(n))
		.map((n) => join(kernels, n))
		.filter((d) => d !== current)
		.map((d) => {
			let used = 0;
			try {
				used = statSync(join(d, 'ready.json')).mtimeMs;
			} catch {
				// Incomplete: a failed build, or one under way (locked).
				used = existsSync(`${d}.lock`) ? Date.now() : 0;
			}
			return { d, used };
		})
		.sort((a, b) => b.used - a.used);
	for (const { d } of entries.slice(KEEP - 1))
		rmSync(d, { recursive: true, force: true });
}

function main() {
	const check = process.argv.includes('--check');
	try {
		const k = ensureDebugKernel({ build: !check,
			log: (s) => console.log(s) });
		console.log(`debug kernel ${k.version}: ${k.vmlinuz}`);
	} catch (e) {
		if (!(e instanceof DebugKernelError))
			throw e;
		console.error(e.message);
		process.exit(1);
	}
}

if (process.argv[1] && resolve(process.argv[1]) ===
    fileURLToPath(import.meta.url))
	main();
