// Guest test files and their header.
//
// A test is one file in test/vm/tests/: `*.sh` (run with bash) or `*.mjs`
// (run with node), executed inside the guest. Its leading comment lines
// (`#` or `//`, after an optional #! line) may declare what it needs:
//
//   # vm: disks=2x256M,64M:4k:discard,3T:nvme memory=1024 timeout=180
//   # vm: smp=2 tcg=multi modules=ext4,xfs,dm-snapshot,loop,nbd
//   # vm: kernels=stock,debug net=8080:80,0
//   # vm-allow-log: ^\S* ?EXT4-fs error .*: deliberately corrupted
//
// `vm:` lines hold key=value words and may repeat (later keys win, lists
// add up). `vm-allow-log:` takes one regexp per line that exempts matching
// kernel log lines from kernel-log.mjs's failure patterns. Unknown keys
// and disk options are errors, so a typo never silently drops a
// requirement.

import { readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { KERNEL_GROUPS, KERNEL_NAMES } from '../../../scripts/kernels.mjs';
import { HarnessError } from './errors.mjs';

/**
 * @typedef {object} TestSpec
 * @property {string} name      file name without extension
 * @property {string} file      absolute path
 * @property {'bash'|'node'} interp
 * @property {Disk[]} disks
 * @property {number} memory    MiB
 * @property {number} timeout   seconds, for the test itself (not the boot)
 * @property {number} smp
 * @property {Tcg} [tcg]        qemu TCG threading of a guest with smp > 1;
 *   absent: the kernel's default (lib/matrix.mjs)
 * @property {string[]} modules modprobe names
 * @property {string[]} kernels kernel names (scripts/kernels.mjs) the test
 *   may run on, groups expanded; empty: any
 * @property {RegExp[]} allowLog
 * @property {Net} [net] guest networking; absent: the guest has no NIC
 */

/**
 * One test disk: a sparse raw image file the guest sees as a disk.
 * @typedef {object} Disk
 * @property {number} size        bytes
 * @property {'virtio'|'nvme'} bus virtio-blk-pci or an NVMe controller
 * @property {number} logicalBlockSize  512 or 4096
 * @property {number} physicalBlockSize 512 or 4096
 * @property {boolean} discard    discards and write-zeroes unmap in the
 *   image (qemu discard=unmap); without it qemu ignores discards
 * @property {number} [iops]      throttle: I/O operations per second
 * @property {number} [bps]       throttle: bytes per second
 */

/**
 * Guest networking: qemu's user-mode network, the guest at 10.0.2.15.
 * @typedef {object} Net
 * @property {Forward[]} forwards  host loopback ports forwarded to the guest
 */

/**
 * A TCP port of the host's 127.0.0.1 forwarded to the guest's 10.0.2.15.
 * `host` 0 means "a free port, picked at boot" (lib/runner.mjs); the guest
 * port 0 means "the same as the host port", so a server in the guest can
 * be reached at the very URL it believes it has.
 * @typedef {object} Forward
 * @property {number} host
 * @property {number} guest
 */

/**
 * "single": all vCPUs take turns on one host thread; "multi": a host thread
 * per vCPU. qemu 7.2's multi-threaded TCG runs stale code after the guest
 * patches its own kernel text while another vCPU executes it (ftrace,
 * static keys: "Oops: int3"), so guests that patch under load need
 * "single" (docs/testing-vm.md, test/vm/diag/).
 * @typedef {'single'|'multi'} Tcg
 */

/** Defaults; see docs/testing-vm.md for why. */
export const DEFAULTS = Object.freeze({
	memory: 1024,
	timeout: 120,
	smp: 1,
});

/** @param {string} v */
export function parseTcg(v) {
	if (v !== 'single' && v !== 'multi')
		throw new Error(`tcg is single or multi, not "${v}"`);
	return v;
}

const INTERP = /** @type {const} */ ({ '.sh': 'bash', '.mjs': 'node' });

/**
 * "256M" -> bytes. Binary units K M G T, or "s" for 512-byte sectors
 * (an odd size: "131075s"); a bare number is MiB.
 * @param {string} s
 */
export function parseSize(s) {
	const sectors = /^(\d+)s$/.exec(s);
	if (sectors)
		return Number(sectors[1]) * 512;
	const m = /^(\d+)([KMGT]?)i?B?$/i.exec(s);
	if (!m)
		throw new Error(`bad size "${s}"`);
	const unit = m[2].toUpperCase() || 'M';
	return Number(m[1]) * 2 ** (10 * (' KMGT'.indexOf(unit)));
}

/**
 * Disk options, after the size and separated by colons:
 *   4k        4096-byte logical and physical blocks (a 4Kn disk)
 *   512e      512-byte logical, 4096-byte physical blocks
 *   discard   discards and write-zeroes unmap in the image
 *   nvme      an NVMe controller with one namespace instead of virtio-blk
 *   iops=N    at most N requests per second (qemu throttling)
 *   mbps=N    at most N MiB per second
 * @param {string} size
 * @param {string[]} opts
 * @returns {Disk}
 */
function parseDisk(size, opts) {
	/** @type {Disk} */
	const d = {
		size: parseSize(size), bus: 'virtio', logicalBlockSize: 512,
		physicalBlockSize: 512, discard: false,
	};
	for (const o of opts) {
		const [name, value] = o.split('=');
		const num = () => {
			if (!/^\d+$/.test(value ?? '') || Number(value) < 1)
				throw new Error(`disk option ${name} needs a positive number`);
			return Number(value);
		};
		switch (name) {
		case '4k': d.logicalBlockSize = d.physicalBlockSize = 4096; break;
		case '512e': d.logicalBlockSize = 512; d.physicalBlockSize = 4096; break;
		case 'discard': d.discard = true; break;
		case 'nvme': d.bus = 'nvme'; break;
		case 'iops': d.iops = num(); break;
		case 'mbps': d.bps = num() * 2 ** 20; break;
		default:
			throw new Error(`unknown disk option "${o}" (known: 4k 512e ` +
				'discard nvme iops=N mbps=N)');
		}
	}
	if (d.size < 512 || d.size % d.logicalBlockSize) {
		throw new Error(`disk size ${size} is not a whole number of ` +
			`${d.logicalBlockSize}-byte blocks`);
	}
	return d;
}

/**
 * "2x256M,1G:4k:discard" -> three Disks; "0" or "" -> [].
 * @param {string} s
 * @returns {Disk[]}
 */
export function parseDisks(s) {
	if (s === '' || s === '0')
		return [];
	return s.split(',').flatMap((part) => {
		const m = /^(?:(\d+)x)?([^:]+)((?::[^:]+)*)$/.exec(part);
		if (!m)
			throw new Error(`bad disks "${s}"`);
		const disk = parseDisk(m[2], m[3].split(':').filter(Boolean));
		return Array.from({ length: Number(m[1] ?? 1) }, () => ({ ...disk }));
	});
}

/**
 * "stock,debug" -> ["6.1", "6.12", "debug"]: kernel names and groups
 * (scripts/kernels.mjs), duplicates dropped.
 * @param {string} s
 */
export function parseKernels(s) {
	/** @type {string[]} */
	const out = [];
	for (const k of s.split(',').filter(Boolean)) {
		const names = Object.hasOwn(KERNEL_GROUPS, k) ?
			KERNEL_GROUPS[/** @type {keyof typeof KERNEL_GROUPS} */ (k)] :
			KERNEL_NAMES.includes(k) ? [k] : undefined;
		if (!names) {
			throw new Error(`kernels takes ${KERNEL_NAMES.join(' ')} or ` +
				`a group (${Object.keys(KERNEL_GROUPS).join(' ')}), not "${k}"`);
		}
		for (const n of names) {
			if (!out.includes(n))
				out.push(n);
		}
	}
	return out;
}

/**
 * "on" (a network, nothing forwarded) or forwards "HOST:GUEST" or "HOST"
 * (the same port in the guest), separated by commas; 0 as the host port
 * picks a free one.
 * @param {string} s
 * @returns {Net}
 */
export function parseNet(s) {
	if (s === 'on')
		return { forwards: [] };
	const port = (/** @type {string} */ p) => {
		const n = Number(p);
		if (n > 65535)
			throw new Error(`bad port "${p}" in net=${s}`);
		return n;
	};
	return {
		forwards: s.split(',').map((f) => {
			const m = /^(\d+)(?::(\d+))?$/.exec(f);
			if (!m) {
				throw new Error(`net takes "on" or HOST[:GUEST],... ` +
					`(0: a free host port), not "${s}"`);
			}
			const host = port(m[1]);
			const guest = m[2] === undefined ? 0 : port(m[2]);
			if (m[2] !== undefined && guest === 0)
				throw new Error(`bad guest port 0 in net=${s}`);
			return { host, guest };
		}),
	};
}

/**
 * @param {string} v
 * @param {string} key
 */
function positiveInt(v, key) {
	if (!/^\d+$/.test(v) || Number(v) < 1)
		throw new Error(`${key} must be a positive integer, not "${v}"`);
	return Number(v);
}

/**
 * Parse the header of a test file.
 * @param {string} text
 * @param {string} file
 * @returns {TestSpec}
 */
export function parseTest(text, file) {
	const ext = /** @type {'.sh'|'.mjs'} */ (extname(file));
	/** @type {TestSpec} */
	const t = {
		name: basename(file, ext),
		file,
		interp: INTERP[ext],
		disks: [],
		...DEFAULTS,
		modules: [],
		kernels: [],
		allowLog: [],
	};
	const lines = text.split('\n');
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i].trim();
		if (i === 0 && line.startsWith('#!'))
			continue;
		const c = /^(?:#|\/\/)\s?(.*)$/.exec(line);
		if (!c) {
			if (line === '')
				continue;
			break;
		}
		const where = `${file}:${i + 1}`;
		const allow = /^vm-allow-log:\s*(.+)$/.exec(c[1]);
		if (allow) {
			try {
				t.allowLog.push(new RegExp(allow[1]));
			} catch (e) {
				throw new HarnessError(`${where}: ${e}`);
			}
			continue;
		}
		const vm = /^vm:\s*(.*)$/.exec(c[1]);
		if (!vm)
			continue;
		for (const word of vm[1].split(/\s+/).filter(Boolean)) {
			const kv = /^([a-z]+)=(.*)$/.exec(word);
			try {
				if (!kv)
					throw new Error(`expected key=value, got "${word}"`);
				const [, key, v] = kv;
				switch (key) {
				case 'disks':
					t.disks = parseDisks(v);
					break;
				case 'memory':
					t.memory = parseSize(v) / 2 ** 20;
					break;
				case 'timeout':
				case 'smp':
					t[key] = positiveInt(v, key);
					break;
				case 'modules':
					t.modules.push(...v.split(',').filter(Boolean));
					break;
				case 'net':
					t.net = parseNet(v);
					break;
				case 'tcg':
					t.tcg = parseTcg(v);
					break;
				case 'kernels':
					t.kernels = [...new Set([...t.kernels,
						...parseKernels(v)])];
					break;
				default:
					throw new Error(`unknown key "${key}" (known: ` +
						'disks memory timeout smp tcg modules kernels net)');
				}
			} catch (e) {
				throw new HarnessError(`${where}: ${
					e instanceof Error ? e.message : e}`);
			}
		}
	}
	return t;
}

/**
 * Tests in `dir` whose file name contains one of `patterns` (all when
 * none), sorted by name.
 * @param {string} dir
 * @param {string[]} patterns
 * @returns {TestSpec[]}
 */
export function discoverTests(dir, patterns) {
	return readdirSync(dir)
		.filter((f) => Object.hasOwn(INTERP, extname(f)))
		.filter((f) => !patterns.length ||
			patterns.some((p) => f.includes(p)))
		.sort()
		.map((f) => {
			const file = join(dir, f);
			return parseTest(readFileSync(file, 'utf8'), file);
		});
}
