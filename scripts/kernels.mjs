// Kernel resolution shared by scripts/build-kmod.mjs and the VM harness
// (test/vm/). Nothing here hard-codes a full kernel version: a series such
// as "6.12" resolves to the newest /boot/vmlinuz-6.12.* of the machine's
// flavour, so a Debian point release changes nothing in the project.

import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

/** The tested matrix (docs/testing-vm.md). Order is the default run order. */
export const SUPPORTED_KERNELS = ['6.1', '6.12'];

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
};

/** Thrown for anything the user fixes by installing or naming a kernel. */
export class KernelError extends Error {
	name = 'KernelError';
}

/**
 * @typedef {object} Kernel
 * @property {string} series     "6.1", "6.12"
 * @property {string} version    full release, e.g. "6.12.117+deb12-amd64"
 * @property {string} vmlinuz    /boot/vmlinuz-<version>
 * @property {string} modulesDir /lib/modules/<version>
 * @property {string} headersDir the kbuild tree (/lib/modules/<v>/build)
 * @property {boolean} hasHeaders whether headersDir holds a usable tree
 * @property {string} imagePackage   apt meta package of the series
 * @property {string} headersPackage apt meta package of the series' headers
 * @property {string} exactHeadersPackage headers of exactly this version
 */

/**
 * @param {string} series "6.1"
 * @returns {{image: string, headers: string}}
 */
export function aptPackages(series) {
	return SERIES_PACKAGES[series] ?? {
		image: `linux-image-${series}-${FLAVOUR}`,
		headers: `linux-headers-${series}-${FLAVOUR}`,
	};
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
 * first. Other flavours (-rt-, -cloud-) are left out: the cloud kernel
 * lacks drivers we need and RT changes locking, both are not in the matrix.
 * @param {string} [bootDir]
 */
export function installedKernels(bootDir = '/boot') {
	let names = [];
	try {
		names = readdirSync(bootDir);
	} catch {
		return [];
	}
	return names
		.filter((n) => n.startsWith('vmlinuz-'))
		.map((n) => n.slice('vmlinuz-'.length))
		.filter((v) => v.endsWith(`-${FLAVOUR}`) &&
			!/-(rt|cloud)-/.test(v))
		.sort((a, b) => compareVersions(b, a));
}

/**
 * Resolve "6.1", "6.12" or a full version to an installed kernel.
 * @param {string} spec
 * @param {{bootDir?: string, modulesRoot?: string}} [opts]
 * @returns {Kernel}
 */
export function resolveKernel(spec, opts = {}) {
	const bootDir = opts.bootDir ?? '/boot';
	const modulesRoot = opts.modulesRoot ?? '/lib/modules';
	const installed = installedKernels(bootDir);
	let version;
	if (/^\d+\.\d+$/.test(spec)) {
		// "6.1" must match 6.1.0-56-amd64 but never 6.12.x.
		const re = new RegExp(`^${spec.replace('.', '\\.')}[.+-]`);
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
	const modulesDir = join(modulesRoot, version);
	const buildLink = join(modulesDir, 'build');
	let headersDir = buildLink;
	try {
		headersDir = realpathSync(buildLink);
	} catch {
		// Dangling or missing link: headers not installed.
	}
	const p = aptPackages(series);
	return {
		series,
		version,
		vmlinuz: join(bootDir, `vmlinuz-${version}`),
		modulesDir,
		headersDir,
		hasHeaders: existsSync(join(headersDir, 'Makefile')),
		imagePackage: p.image,
		headersPackage: p.headers,
		exactHeadersPackage: `linux-headers-${version}`,
	};
}

/**
 * Resolve a list of specs (default: the supported matrix); duplicates
 * (e.g. "6.12" and its full version) collapse into one.
 * @param {string[]} specs
 * @param {{installedOnly?: boolean}} [opts] installedOnly: skip supported
 *        series that are not installed instead of failing (only applies
 *        when specs is empty).
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
			const k = resolveKernel(spec);
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
