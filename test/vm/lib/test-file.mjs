// Guest test files and their header.
//
// A test is one file in test/vm/tests/: `*.sh` (run with bash) or `*.mjs`
// (run with node), executed inside the guest. Its leading comment lines
// (`#` or `//`, after an optional #! line) may declare what it needs:
//
//   # vm: disks=2x256M memory=1024 timeout=180 smp=2 tcg=multi
//   # vm: modules=ext4,xfs,dm-snapshot,loop,nbd kernels=6.12
//   # vm: net=8080:80,0
//   # vm-allow-log: ^\S* ?EXT4-fs error .*: deliberately corrupted
//
// `vm:` lines hold key=value words and may repeat (later keys win, lists
// add up). `vm-allow-log:` takes one regexp per line that exempts matching
// kernel log lines from kernel-log.mjs's failure patterns. Unknown keys
// are errors, so a typo never silently drops a requirement.

import { readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { HarnessError } from './errors.mjs';

/**
 * @typedef {object} TestSpec
 * @property {string} name      file name without extension
 * @property {string} file      absolute path
 * @property {'bash'|'node'} interp
 * @property {number[]} disks   sizes in bytes
 * @property {number} memory    MiB
 * @property {number} timeout   seconds, for the test itself (not the boot)
 * @property {number} smp
 * @property {Tcg} tcg         qemu TCG threading of a guest with smp > 1
 * @property {string[]} modules modprobe names
 * @property {string[]} kernels series to run on; empty: all selected
 * @property {RegExp[]} allowLog
 * @property {Net} [net] guest networking; absent: the guest has no NIC
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
	tcg: /** @type {Tcg} */ ('single'),
});

/** @param {string} v */
export function parseTcg(v) {
	if (v !== 'single' && v !== 'multi')
		throw new Error(`tcg is single or multi, not "${v}"`);
	return v;
}

const INTERP = /** @type {const} */ ({ '.sh': 'bash', '.mjs': 'node' });

/**
 * "256M" -> bytes. Binary units; a bare number is MiB.
 * @param {string} s
 */
export function parseSize(s) {
	const m = /^(\d+)([KMGT]?)i?B?$/i.exec(s);
	if (!m)
		throw new Error(`bad size "${s}"`);
	const unit = m[2].toUpperCase() || 'M';
	return Number(m[1]) * 2 ** (10 * (' KMGT'.indexOf(unit)));
}

/**
 * "2x256M,1G" -> [256M, 256M, 1G] in bytes; "0" or "" -> [].
 * @param {string} s
 */
export function parseDisks(s) {
	if (s === '' || s === '0')
		return [];
	return s.split(',').flatMap((part) => {
		const m = /^(?:(\d+)x)?(.+)$/.exec(part);
		if (!m)
			throw new Error(`bad disks "${s}"`);
		return Array(Number(m[1] ?? 1)).fill(parseSize(m[2]));
	});
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
					for (const k of v.split(',').filter(Boolean)) {
						if (!/^\d+\.\d+$/.test(k))
							throw new Error(`kernels takes series like 6.12, not "${k}"`);
						t.kernels.push(k);
					}
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
