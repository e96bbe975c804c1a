// Kernel resolution shared by scripts/build-kmod.mjs and the VM harness
// (test/vm/). Nothing here hard-codes a full kernel version: a series such
// as "6.12" resolves to the newest /boot/vmlinuz-6.12.* of the machine's
// flavour, so a Debian point release changes nothing in the project.
//
// Kernels have names: "6.1" and "6.12" are Debian's stock kernels (what
// users run, what `npm run build:kmod` builds for), "6.1-rt" and "6.12-rt"
// Debian's PREEMPT_RT kernels, "debug" our own 6.12 with lockdep, KASAN
// and friends (scripts/debug-kernel.mjs builds and caches it). Which tests
// run on which by default is test/vm/lib/matrix.mjs.

import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebugKernel } from './debug-kernel.mjs';

/** Kernels users run: the default of build:kmod. */
export const SUPPORTED_KERNELS = ['6.1', '6.12'];

/**
 * Every kernel name the harness knows, in run order. Groups name several
 * at once in a test header (`kernels=stock,debug`).
 */
export const KERNEL_NAMES = ['6.1', '6.12', 'debug', '6.1-rt', '6.12-rt'];
export const KERNEL_GROUPS = Object.freeze({
	stock: ['6.1', '6.12'],
	rt: ['6.1-rt', '6.12-rt'],
});

/** Debian kernel flavour of this architecture. */
export const FLAVOUR = process.arch === 'arm64' ? 'arm64' : 'amd64';

/**
 * Debian packages that install each supported series. 6.1 is bookworm's
 * default kernel (the unversioned meta packages); 6.12 comes from
 * bookworm-security / backports under a versioned meta package.
 * @type {Record<string, {image: string, headers: string}>}
 */
const SERIES_PACKAGES = {
	'6.1': {
		image: `linux-image-${FLAVOUR}`,
		headers: `linux-headers-${FLAVOUR}`,
	},
	'6.1-rt': {
		image: `linux-image-rt-${FLAVOUR}`,
		headers: `linux-headers-rt-${FLAVOUR}`,
	},
};

/** Thrown for anything the user fixes by installing or naming a kernel. */
export class KernelError extends Error {
	name = 'KernelError';
}

/**
 * @typedef {object} Kernel
 * @property {string} name       "6.1", "6.12", "6.1-rt", "debug" (KERNEL_NAMES)
 * @property {string} series     "6.1", "6.12"
 * @property {string} version    full release, e.g. "6.12.117+deb12-amd64"
 * @property {string} vmlinuz    /boot/vmlinuz-<version>
 * @property {string} modulesRoot root of its lib/modules tree: "/", or
 *   the debug kernel's cache directory
 * @property {string} modulesDir <modulesRoot>/lib/modules/<version>
 * @property {string} headersDir the kbuild tree (/lib/modules/<v>/build)
 * @property {boolean} hasHeaders whether headersDir holds a usable tree
 * @property {string} imagePackage   apt meta package of the series
 * @property {string} headersPackage apt meta package of the series' headers
 * @property {string} exactHeadersPackage headers of exactly this version
 */

/**
 * @param {string} name "6.1", "6.12-rt"
 * @returns {{image: string, headers: string}}
 */
export function aptPackages(name) {
	const rt = name.endsWith('-rt');
	const series = rt ? name.slice(0, -3) : name;
	return SERIES_PACKAGES[name] ?? {
		image: `linux-image-${series}-${rt ? 'rt-' : ''}${FLAVOUR}`,
		headers: `linux-headers-${series}-${rt ? 'rt-' : ''}${FLAVOUR}`,
	};
}

/**
 * The name of an installed kernel's release: "6.1.0-57-rt-amd64" -> "6.1-rt".
 * @param {string} version
 */
export function nameOf(version) {
	return `${seriesOf(version)}${version.endsWith(`-rt-${FLAVOUR}`) ?
		'-rt' : ''}`;
}

/**
 * "6.12.117+deb12-amd64" -> "6.12".
 * @param {string} version
 */
export function seriesOf(version) {
	const m = /^(\d+)\.(\d+)/.exec(version);
	if (!m)
		throw new KernelError(`not a kernel version: ${version}`);
	return `${m[1]}.${m[2]}`;
}

/**
 * Numeric-aware comparison of release strings ("6.1.0-9" < "6.1.0-56").
 * @param {string} a
 * @param {string} b
 */
function compareVersions(a, b) {
	const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
	const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
	for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
		const d = (pa[i] ?? -1) - (pb[i] ?? -1);
		if (d)
			return d;
	}
	return a.localeCompare(b);
}

/**
 * Full versions of the installed kernel images of our flavour, newest
 * first: the stock ones, or with `rt` the PREEMPT_RT ones. The cloud
 * flavour is never taken: it lacks drivers we need.
 * @param {string} [bootDir]
 * @param {{rt?: boolean}} [o]
 */
export function installedKernels(bootDir = '/boot', o = {}) {
	let names = [];
	try {
		names = readdirSync(bootDir);
	} catch {
		return [];
	}
	return names
		.filter((n) => n.startsWith('vmlinuz-'))
		.map((n) => n.slice('vmlinuz-'.length))
		.filter((v) => o.rt ? v.endsWith(`-rt-${FLAVOUR}`) :
			v.endsWith(`-${FLAVOUR}`) && !/-(rt|cloud)-/.test(v))
		.sort((a, b) => compareVersions(b, a));
}

/**
 * Resolve a kernel name ("6.1", "6.12-rt", "debug") or a full version to
 * an installed kernel. "debug" builds the debug kernel when its cache has
 * none for the current inputs (scripts/debug-kernel.mjs; `build: false`
 * refuses instead).
 * @param {string} spec
 * @param {{bootDir?: string, modulesBase?: string, build?: boolean,
 *   log?: (s: string) => void}} [opts]
 * @returns {Kernel}
 */
export function resolveKernel(spec, opts = {}) {
	if (spec === 'debug')
		return debugKernel(opts);
	const bootDir = opts.bootDir ?? '/boot';
	const modulesBase = opts.modulesBase ?? '/lib/modules';
	const m = /^(\d+\.\d+)(-rt)?$/.exec(spec);
	const installed = installedKernels(bootDir, { rt: Boolean(m?.[2]) });
	let version;
	if (m) {
		// "6.1" must match 6.1.0-56-amd64 but never 6.12.x.
		const re = new RegExp(`^${m[1].replace('.', '\\.')}[.+-]`);
		version = installed.find((v) => re.test(v));
		if (!version) {
			const p = aptPackages(spec);
			throw new KernelError(
				`no Linux ${spec} kernel installed in ${bootDir} ` +
				`(found: ${installed.join(', ') || 'none'}); ` +
				`install it with: apt-get install ${p.image} ${p.headers}`);
		}
	} else {
		version = spec;
		if (!existsSync(join(bootDir, `vmlinuz-${version}`))) {
			throw new KernelError(
				`kernel ${version} is not installed ` +
				`(no ${bootDir}/vmlinuz-${version}); install it with: ` +
				`apt-get install linux-image-${version} ` +
				`linux-headers-${version}`);
		}
	}
	const series = seriesOf(version);
	const modulesDir = join(modulesBase, version);
	const buildLink = join(modulesDir, 'build');
	let headersDir = buildLink;
	try {
		headersDir = realpathSync(buildLink);
	} catch {
		// Dangling or missing link: headers not installed.
	}
	const p = aptPackages(nameOf(version));
	return {
		name: nameOf(version),
		series,
		version,
		vmlinuz: join(bootDir, `vmlinuz-${version}`),
		modulesRoot: '/',
		modulesDir,
		headersDir,
		hasHeaders: existsSync(join(headersDir, 'Makefile')),
		imagePackage: p.image,
		headersPackage: p.headers,
		exactHeadersPackage: `linux-headers-${version}`,
	};
}

/**
 * The debug kernel, built first when needed.
 * @param {{build?: boolean, log?: (s: string) => void}} opts
 * @returns {Kernel}
 */
function debugKernel(opts) {
	const d = ensureDebugKernel({ build: opts.build ?? true,
		log: opts.log ?? ((s) => console.error(s)) });
	return {
		name: 'debug',
		series: seriesOf(d.version),
		version: d.version,
		vmlinuz: d.vmlinuz,
		modulesRoot: d.modulesRoot,
		modulesDir: join(d.modulesRoot, 'lib', 'modules', d.version),
		headersDir: d.buildDir,
		hasHeaders: true,
		imagePackage: 'linux-source-6.12',
		headersPackage: 'linux-source-6.12',
		exactHeadersPackage: 'linux-source-6.12',
	};
}

/**
 * Resolve a list of specs (default: the supported matrix); duplicates
 * (e.g. "6.12" and its full version) collapse into one.
 * @param {string[]} specs
 * @param {{installedOnly?: boolean, log?: (s: string) => void}} [opts]
 *        installedOnly: skip supported series that are not installed
 *        instead of failing (only applies when specs is empty).
 * @returns {{kernels: Kernel[], missing: KernelError[]}}
 */
export function resolveKernels(specs, opts = {}) {
	const want = specs.length ? specs : SUPPORTED_KERNELS;
	/** @type {Kernel[]} */
	const kernels = [];
	/** @type {KernelError[]} */
	const missing = [];
	for (const spec of want) {
		try {
			const k = resolveKernel(spec, opts);
			if (!kernels.some((x) => x.version === k.version))
				kernels.push(k);
		} catch (e) {
			if (!(e instanceof KernelError) || specs.length ||
			    !opts.installedOnly)
				throw e;
			missing.push(e);
		}
	}
	return { kernels, missing };
}
