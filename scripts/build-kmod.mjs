#!/usr/bin/env node
// Build snapkeep.ko out of tree for one or more kernels.
//
//   node scripts/build-kmod.mjs [--kernel 6.1|6.12|<full version>]...
//   (npm run build:kmod -- --kernel 6.12)
//
// Default: every supported kernel (scripts/kernels.mjs) that is installed.
// Each kernel gets its own copy of the sources in out/kmod/<version>/, so
// two kernels never share object files and kmod/ stays clean. Only changed
// files are copied, so make stays incremental.
//
// Exported for the VM harness: buildKmod(kernel) -> path of the .ko.

import { spawnSync } from 'node:child_process';
import {
	copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelError, resolveKernel, resolveKernels } from './kernels.mjs';
import { LockError, withLock } from './lock-file.mjs';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const KMOD_SRC = join(REPO, 'kmod');
export const KMOD_OUT = join(REPO, 'out', 'kmod');

/** Compiler or tooling failure; .output holds what the tool printed. */
export class BuildError extends Error {
	name = 'BuildError';

	/**
	 * @param {string} message
	 * @param {string} [output]
	 */
	constructor(message, output = '') {
		super(message);
		this.output = output;
	}
}

/** Files that make up the module sources (no build products). */
const SOURCE_RE = /^(Kbuild|Makefile|dkms\.conf|.*\.[ch])$/;

/**
 * Copy kmod/ sources into dest, touching only files whose content changed
 * (an unchanged mtime keeps make from rebuilding).
 * @param {string} src
 * @param {string} dest
 */
function syncSources(src, dest) {
	mkdirSync(dest, { recursive: true });
	for (const ent of readdirSync(src, { withFileTypes: true })) {
		const from = join(src, ent.name);
		const to = join(dest, ent.name);
		if (ent.isDirectory()) {
			syncSources(from, to);
		} else if (ent.isFile() && SOURCE_RE.test(ent.name)) {
			const data = readFileSync(from);
			if (!existsSync(to) || !readFileSync(to).equals(data))
				copyFileSync(from, to);
		}
	}
}

/** dkms.conf and version.h must announce the same release. */
function checkVersions() {
	const h = readFileSync(join(KMOD_SRC, 'version.h'), 'utf8');
	const d = readFileSync(join(KMOD_SRC, 'dkms.conf'), 'utf8');
	const hv = /#define\s+SNAPKEEP_VERSION\s+"([^"]+)"/.exec(h)?.[1];
	const dv = /^PACKAGE_VERSION="?([^"\s]+)"?/m.exec(d)?.[1];
	if (!hv || hv !== dv) {
		throw new BuildError(`kmod/version.h SNAPKEEP_VERSION (${hv}) ` +
			`!= kmod/dkms.conf PACKAGE_VERSION (${dv})`);
	}
}

/**
 * Make sure the kbuild tree of kernel k exists: as root install the exact
 * headers package with apt-get, otherwise explain how.
 * @param {import('./kernels.mjs').Kernel} k
 * @param {(s: string) => void} log
 * @returns {import('./kernels.mjs').Kernel}
 */
function ensureHeaders(k, log) {
	if (k.hasHeaders)
		return k;
	const cmd = `apt-get install -y ${k.exactHeadersPackage}`;
	if (process.getuid?.() !== 0) {
		throw new KernelError(`kernel headers for ${k.version} are missing ` +
			`(${k.headersDir}); install them as root with:\n  ${cmd}\n` +
			`(or the series meta package ${k.headersPackage})`);
	}
	log(`headers for ${k.version} missing: ${cmd}`);
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	let r = spawnSync('apt-get', ['install', '-y', k.exactHeadersPackage],
		{ stdio: 'inherit', env });
	if (r.status !== 0) {
		// The package lists may be stale or absent on a fresh machine.
		spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
		r = spawnSync('apt-get', ['install', '-y', k.exactHeadersPackage],
			{ stdio: 'inherit', env });
	}
	const again = resolveKernel(k.version);
	if (r.status !== 0 || !again.hasHeaders)
		throw new KernelError(`could not install ${k.exactHeadersPackage}`);
	return again;
}

/**
 * Build snapkeep.ko for one kernel.
 * @param {import('./kernels.mjs').Kernel} kernel
 * @param {{log?: (s: string) => void, jobs?: number}} [opts]
 * @returns {string} absolute path of the built snapkeep.ko
 */
export function buildKmod(kernel, opts = {}) {
	const log = opts.log ?? ((s) => console.error(s));
	checkVersions();
	const k = ensureHeaders(kernel, log);
	const dir = join(KMOD_OUT, k.version);
	mkdirSync(KMOD_OUT, { recursive: true });
	try {
		return withLock(`${dir}.lock`, () => make(k, dir, opts.jobs ?? 2));
	} catch (e) {
		if (e instanceof LockError)
			throw new BuildError(e.message);
		throw e;
	}
}

/**
 * @param {import('./kernels.mjs').Kernel} k
 * @param {string} dir
 * @param {number} jobs
 */
function make(k, dir, jobs) {
	syncSources(KMOD_SRC, dir);
	const args = ['-C', k.headersDir, `M=${dir}`, `-j${jobs}`,
		// Warnings are errors here, not in Kbuild: a user's DKMS build
		// with a newer compiler must not fail on a new warning.
		'KCFLAGS=-Werror', 'modules'];
	const r = spawnSync('make', args, { encoding: 'utf8' });
	const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
	if (r.error)
		throw new BuildError(`cannot run make: ${r.error.message}`, output);
	const ko = join(dir, 'snapkeep.ko');
	if (r.status !== 0 || !existsSync(ko)) {
		throw new BuildError(`building snapkeep.ko for ${k.version} ` +
			`failed (make ${args.join(' ')})`, output);
	}
	return ko;
}

/** @param {string[]} argv */
function parseArgs(argv) {
	/** @type {string[]} */
	const kernels = [];
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--kernel' && argv[i + 1]) {
			kernels.push(argv[++i]);
		} else if (a.startsWith('--kernel=')) {
			kernels.push(a.slice('--kernel='.length));
		} else if (a === '-h' || a === '--help') {
			console.log('usage: node scripts/build-kmod.mjs ' +
				'[--kernel 6.1|6.12|<full version>]...');
			process.exit(0);
		} else {
			throw new KernelError(`unknown argument: ${a}`);
		}
	}
	return kernels;
}

function main() {
	try {
		const specs = parseArgs(process.argv.slice(2));
		const { kernels, missing } =
			resolveKernels(specs, { installedOnly: true });
		for (const e of missing)
			console.error(`skipping: ${e.message}`);
		if (!kernels.length)
			throw new KernelError('no supported kernel is installed');
		for (const k of kernels) {
			const t0 = Date.now();
			const ko = buildKmod(k);
			const s = ((Date.now() - t0) / 1000).toFixed(1);
			console.log(`snapkeep.ko for ${k.version}: ` +
				`${relative(process.cwd(), ko) || ko} ` +
				`(${statSync(ko).size} bytes, ${s} s)`);
		}
	} catch (e) {
		if (e instanceof BuildError && e.output)
			process.stderr.write(e.output);
		if (e instanceof BuildError || e instanceof KernelError) {
			console.error(`build-kmod: ${e.message}`);
			process.exit(1);
		}
		throw e;
	}
}

if (process.argv[1] && resolve(process.argv[1]) ===
    fileURLToPath(import.meta.url))
	main();
