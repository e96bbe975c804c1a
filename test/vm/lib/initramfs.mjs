// The guest's initramfs: static busybox, the kernel modules the tests need
// (dependencies from `modprobe --show-depends -S <version>`, decompressed so
// busybox insmod can load them) and test/vm/guest/init.sh as /init.
//
// Written directly in the cpio "newc" format: no root, no staging tree,
// and device nodes (/dev/console) without mknod. Cached in
// out/vm/initramfs/, keyed on the kernel version, the module files, busybox
// and init.sh, so it is rebuilt only when one of them changes.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
	closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync,
	readSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarnessError } from './errors.mjs';

const GUEST_INIT = join(dirname(fileURLToPath(import.meta.url)), '..',
	'guest', 'init.sh');

export const BUSYBOX = '/bin/busybox';

/**
 * Modules every guest needs to reach the host: PCI virtio transport (built
 * in on 6.12), block disks, and 9p over virtio. Names as modprobe takes
 * them.
 */
export const BASE_MODULES = ['virtio_pci', 'virtio_blk', '9pnet_virtio', '9p'];

/**
 * The NIC of a test with `net=` (qemu.mjs adds virtio-net-pci). Always in
 * the image, loaded only for such tests: one cached image serves every
 * test, whether it has a network or not.
 */
export const NET_MODULES = ['virtio_net'];

/** The driver of `nvme` test disks: like NET_MODULES, loaded on demand. */
export const NVME_MODULES = ['nvme'];

/** Age after which an image that is not the current one is deleted. */
const STALE_MS = 3600_000;

/** Bump when the layout of the image changes. */
const FORMAT = 2;

/**
 * Ordered module files (relative to the kernel's modules directory) needed
 * to load `names`, dependencies first, duplicates removed. Built-in
 * modules need nothing.
 * @param {import('../../../scripts/kernels.mjs').Kernel} kernel
 * @param {string[]} names
 * @returns {string[]} e.g. ["kernel/fs/jbd2/jbd2.ko.xz", ...]
 */
export function resolveModules(kernel, names) {
	return resolveModulesDetailed(kernel, names).files;
}

/**
 * Like resolveModules, also telling which of `names` are built into the
 * kernel (nothing to load, nothing shows up in /sys/module).
 * @param {import('../../../scripts/kernels.mjs').Kernel} kernel
 * @param {string[]} names
 * @returns {{files: string[], builtin: string[]}}
 */
export function resolveModulesDetailed(kernel, names) {
	/** @type {string[]} */
	const files = [];
	/** @type {string[]} */
	const builtin = [];
	for (const name of names) {
		// -d: the debug kernel's modules live in its cache entry.
		const r = spawnSync('modprobe',
			['-d', kernel.modulesRoot ?? '/', '--show-depends', '-S',
				kernel.version, name],
			{ encoding: 'utf8' });
		if (r.error) {
			throw new HarnessError('modprobe not found: ' +
				'apt-get install kmod');
		}
		if (r.status !== 0) {
			throw new HarnessError(`module "${name}" not found for ` +
				`${kernel.version}: ${r.stderr.trim()}`);
		}
		for (const line of r.stdout.split('\n')) {
			if (line.trim() === `builtin ${name.replace(/-/g, '_')}` ||
			    line.trim() === `builtin ${name}`)
				builtin.push(name);
			const m = /^insmod (\S+)/.exec(line);
			if (!m)
				continue;
			const rel = relative(kernel.modulesDir, m[1]);
			if (!files.includes(rel))
				files.push(rel);
		}
	}
	return { files, builtin };
}

/**
 * Path of a module file inside the initramfs (always decompressed).
 * @param {string} rel relative to the kernel's modules directory
 */
export function guestModulePath(rel) {
	return rel.replace(/\.(xz|zst|gz)$/, '');
}

/**
 * Check that busybox exists and is static: a dynamic one has no libc in
 * the initramfs and the kernel only says "No working init found".
 */
export function checkBusybox() {
	if (!existsSync(BUSYBOX)) {
		throw new HarnessError(`${BUSYBOX} not found: ` +
			'apt-get install busybox-static');
	}
	const fd = openSync(BUSYBOX, 'r');
	try {
		const ehdr = Buffer.alloc(64);
		readSync(fd, ehdr, 0, 64, 0);
		const phoff = Number(ehdr.readBigUInt64LE(0x20));
		const phentsize = ehdr.readUInt16LE(0x36);
		const phnum = ehdr.readUInt16LE(0x38);
		const ph = Buffer.alloc(phentsize * phnum);
		readSync(fd, ph, 0, ph.length, phoff);
		for (let i = 0; i < phnum; i++) {
			if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) {
				throw new HarnessError(`${BUSYBOX} is dynamically ` +
					'linked: apt-get install busybox-static');
			}
		}
	} finally {
		closeSync(fd);
	}
}

/** Minimal writer of the cpio "newc" format the kernel unpacks. */
class Cpio {
	/** @type {Buffer[]} */
	parts = [];
	ino = 1;
	size = 0;

	/**
	 * @param {string} name path without leading slash
	 * @param {number} mode full st_mode (type and permissions)
	 * @param {Buffer} [data]
	 * @param {number} [rdevMajor]
	 * @param {number} [rdevMinor]
	 */
	add(name, mode, data = Buffer.alloc(0), rdevMajor = 0, rdevMinor = 0) {
		const hex = (/** @type {number} */ n) =>
			n.toString(16).padStart(8, '0');
		const fields = [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0,
			rdevMajor, rdevMinor, Buffer.byteLength(name) + 1, 0];
		this.push(Buffer.from(`070701${fields.map(hex).join('')}${name}\0`));
		this.push(data);
	}

	/** @param {Buffer} b */
	push(b) {
		this.parts.push(b);
		this.size += b.length;
		const pad = (4 - (this.size % 4)) % 4;
		if (pad) {
			this.parts.push(Buffer.alloc(pad));
			this.size += pad;
		}
	}

	/** @param {string} name */
	dir(name) {
		this.add(name, 0o040755);
	}

	finish() {
		this.add('TRAILER!!!', 0);
		return Buffer.concat(this.parts);
	}
}

/**
 * @param {string} path
 * @returns {Buffer}
 */
function readModule(path) {
	if (!/\.(xz|zst|gz)$/.test(path))
		return readFileSync(path);
	const tool = path.endsWith('.xz') ? 'xz' :
		path.endsWith('.zst') ? 'zstd' : 'gzip';
	const r = spawnSync(tool, ['-dc', path],
		{ maxBuffer: 256 << 20 });
	if (r.error || r.status !== 0) {
		const pkg = { xz: 'xz-utils', zstd: 'zstd', gzip: 'gzip' }[tool];
		throw new HarnessError(`cannot decompress ${path} with ${tool}` +
			` (apt-get install ${pkg}): ${r.stderr ?? r.error}`);
	}
	return r.stdout;
}

/**
 * Build (or reuse) the initramfs for a kernel holding `modules`
 * (module names; BASE_MODULES are always added).
 * @param {import('../../../scripts/kernels.mjs').Kernel} kernel
 * @param {string[]} modules
 * @param {string} cacheDir
 * @returns {{path: string, cached: boolean}}
 */
export function buildInitramfs(kernel, modules, cacheDir) {
	checkBusybox();
	const base = resolveModules(kernel, BASE_MODULES);
	const net = resolveModules(kernel, NET_MODULES);
	const nvme = resolveModules(kernel, NVME_MODULES);
	const all = resolveModules(kernel,
		[...BASE_MODULES, ...NET_MODULES, ...NVME_MODULES, ...modules]);
	const init = readFileSync(GUEST_INIT);
	const bb = statSync(BUSYBOX);
	const hash = createHash('sha256');
	hash.update(JSON.stringify({
		FORMAT,
		version: kernel.version,
		modules: all.map((rel) => {
			const st = statSync(join(kernel.modulesDir, rel));
			return [rel, st.size, st.mtimeMs];
		}),
		busybox: [bb.size, bb.mtimeMs],
	}));
	hash.update(init);
	const key = hash.digest('hex').slice(0, 16);
	const path = join(cacheDir, `${kernel.version}-${key}.cpio`);
	if (existsSync(path))
		return { path, cached: true };

	const cpio = new Cpio();
	for (const d of ['bin', 'dev', 'etc', 'host', 'proc', 'results', 'sys',
		'tmp', 'lib', 'lib/modules'])
		cpio.dir(d);
	// The kernel opens /dev/console for init before devtmpfs is mounted.
	cpio.add('dev/console', 0o020600, undefined, 5, 1);
	cpio.add('dev/null', 0o020666, undefined, 1, 3);
	cpio.add('bin/busybox', 0o100755, readFileSync(BUSYBOX));
	cpio.add('init', 0o100755, init);
	cpio.add('etc/kernel-version', 0o100644,
		Buffer.from(`${kernel.version}\n`));
	cpio.add('etc/modules.base', 0o100644,
		Buffer.from(base.map(guestModulePath).join('\n') + '\n'));
	cpio.add('etc/modules.net', 0o100644,
		Buffer.from(net.map(guestModulePath).join('\n') + '\n'));
	cpio.add('etc/modules.nvme', 0o100644,
		Buffer.from(nvme.map(guestModulePath).join('\n') + '\n'));
	/** @type {Set<string>} */
	const dirs = new Set();
	for (const rel of all) {
		const dest = guestModulePath(rel);
		const parts = dest.split('/').slice(0, -1);
		for (let i = 1; i <= parts.length; i++) {
			const d = `lib/modules/${parts.slice(0, i).join('/')}`;
			if (!dirs.has(d)) {
				dirs.add(d);
				cpio.dir(d);
			}
		}
		cpio.add(`lib/modules/${dest}`, 0o100644,
			readModule(join(kernel.modulesDir, rel)));
	}
	mkdirSync(cacheDir, { recursive: true });
	const tmp = `${path}.${process.pid}.tmp`;
	writeFileSync(tmp, cpio.finish());
	renameSync(tmp, path);
	// Older images of this kernel are dead weight now, once no run that
	// started before this one (the checkout is shared; the e2e suite
	// boots guests too) can still be about to boot from them.
	for (const f of readdirSync(cacheDir)) {
		const old = join(cacheDir, f);
		if (f.startsWith(`${kernel.version}-`) && f.endsWith('.cpio') &&
		    old !== path && Date.now() - statSync(old).mtimeMs > STALE_MS)
			rmSync(old, { force: true });
	}
	return { path, cached: false };
}
