// Starting qemu for one test and making sure it never outlives us.
//
// Each qemu runs in its own process group (detached), so one kill of the
// group ends it whatever it spawned; every live group is killed when this
// process exits, is interrupted or crashes (installCleanup), and when a
// test's hard time limit passes.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { HarnessError } from './errors.mjs';

export const QEMU = 'qemu-system-x86_64';

/** @type {Set<import('node:child_process').ChildProcess>} */
const live = new Set();

/** Kill every qemu still running (synchronous: safe in 'exit'). */
export function killAll() {
	for (const child of live) {
		try {
			process.kill(-(/** @type {number} */ (child.pid)), 'SIGKILL');
		} catch {
			// Already gone.
		}
	}
	live.clear();
}

let installed = false;
let exitHooked = false;

/**
 * Kill all qemu processes when this process exits (also after SIGINT,
 * SIGTERM, SIGHUP: those are turned into an exit). For host-side scripts
 * that boot guests through lib/runner.mjs and handle their own errors.
 */
export function killOnExit() {
	if (exitHooked)
		return;
	exitHooked = true;
	process.on('exit', killAll);
	// A worker of a test runner whose runner went away (interrupted) may
	// live on for a while: its guests go with the IPC channel.
	if (process.connected)
		process.once('disconnect', killAll);
	for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
		// Only when nobody else handles the signal: the default action
		// would skip 'exit' and leave qemu running.
		if (process.listenerCount(/** @type {NodeJS.Signals} */ (sig)))
			continue;
		process.once(/** @type {NodeJS.Signals} */ (sig), () => {
			killAll();
			process.exit(128 + /** @type {number} */ (num));
		});
	}
}

/**
 * Kill all qemu processes on exit, SIGINT, SIGTERM, SIGHUP and on an
 * uncaught error; `onFatal` prints the error.
 * @param {(e: unknown) => void} onFatal
 */
export function installCleanup(onFatal) {
	if (installed)
		return;
	installed = true;
	exitHooked = true;
	process.on('exit', killAll);
	for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
		process.on(/** @type {NodeJS.Signals} */ (sig), () => {
			killAll();
			process.stderr.write(`\nvm: interrupted by ${sig}, ` +
				'qemu processes killed\n');
			process.exit(128 + /** @type {number} */ (num));
		});
	}
	const fatal = (/** @type {unknown} */ e) => {
		killAll();
		onFatal(e);
		process.exit(1);
	};
	process.on('uncaughtException', fatal);
	process.on('unhandledRejection', fatal);
}

/** Fail early, naming the package, when qemu is not installed. */
export function checkQemu() {
	const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
	if (r.error || r.status !== 0) {
		throw new HarnessError(`${QEMU} not found: ` +
			'apt-get install qemu-system-x86');
	}
	return r.stdout.split('\n')[0];
}

/** qemu option values double commas to keep them literal. */
const esc = (/** @type {string} */ s) => s.replace(/,/g, ',,');

/**
 * @typedef {object} VmConfig
 * @property {string} vmlinuz
 * @property {string} initramfs
 * @property {number} memory   MiB
 * @property {number} smp
 * @property {'single'|'multi'} tcg  TCG threading (lib/test-file.mjs)
 * @property {{file: string, disk: import('./test-file.mjs').Disk}[]} disks
 *   image files and how to attach them; device ids and serials skdisk0, 1...
 * @property {string} cache    qemu drive cache mode
 * @property {string} [qmpSocket] a QMP monitor on this unix socket
 * @property {string} resultsDir read-write 9p share (tag "results")
 * @property {string} consoleLog serial console file
 * @property {string[]} [append] extra kernel command line words
 * @property {{host: number, guest: number}[]} [forwards] with it, a
 *   virtio NIC on qemu's user network, these host loopback TCP ports
 *   forwarded to the guest; without it, no NIC at all
 */

/**
 * The qemu command line for one test VM.
 * @param {VmConfig} c
 * @returns {string[]}
 */
export function qemuArgs(c) {
	const cmdline = [
		'console=ttyS0',
		'rdinit=/init',
		// A panic reboots at once; -no-reboot makes that qemu's exit.
		'panic=-1',
		// The guest only runs our tests; TCG pays dearly for
		// page-table isolation and the other mitigations.
		'mitigations=off',
		'log_buf_len=4M',
		'8250.nr_uarts=1',
		...(c.append ?? []),
	];
	const args = [
		'-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
		'-accel', `tcg,thread=${c.smp > 1 ? c.tcg : 'single'}`,
		'-cpu', 'max',
		'-m', String(c.memory),
		'-smp', String(c.smp),
		'-kernel', c.vmlinuz,
		'-initrd', c.initramfs,
		'-append', cmdline.join(' '),
		'-chardev', `file,id=console,path=${esc(c.consoleLog)}`,
		'-serial', 'chardev:console',
		'-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,' +
			'readonly=on,multidevs=remap',
		'-virtfs', `local,path=${esc(c.resultsDir)},mount_tag=results,` +
			'security_model=none,multidevs=remap',
	];
	if (c.forwards) {
		// restrict=on: the guest reaches nothing outside (no host
		// services, no internet); the forwards still come in. The host
		// side listens on 127.0.0.1 only.
		const fwd = c.forwards.map((f) =>
			`,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`).join('');
		args.push('-netdev', `user,id=net0,restrict=on${fwd}`);
		args.push('-device', 'virtio-net-pci,netdev=net0');
	}
	if (c.qmpSocket)
		args.push('-qmp', `unix:${esc(c.qmpSocket)},server=on,wait=off`);
	c.disks.forEach(({ file, disk }, i) => args.push(...diskArgs(file, disk,
		i, c.cache)));
	return args;
}

/**
 * The -drive and -device of test disk i. Every disk sits on the root PCI
 * bus of the pc machine, where ACPI hotplug lets the guest release it on
 * device_del (lib/hostctl.mjs).
 * @param {string} file
 * @param {import('./test-file.mjs').Disk} d
 * @param {number} i
 * @param {string} cache
 * @returns {string[]}
 */
export function diskArgs(file, d, i, cache) {
	const drive = [`file=${esc(file)}`, 'if=none', `id=disk${i}`,
		'format=raw', `cache=${cache}`,
		...(d.discard ? ['discard=unmap'] : []),
		...(d.iops ? [`throttling.iops-total=${d.iops}`] : []),
		...(d.bps ? [`throttling.bps-total=${d.bps}`] : [])];
	const blocks = [`logical_block_size=${d.logicalBlockSize}`,
		`physical_block_size=${d.physicalBlockSize}`];
	const device = d.bus === 'nvme' ?
		['nvme', `drive=disk${i}`, `id=skdisk${i}`, `serial=skdisk${i}`,
			...blocks] :
		['virtio-blk-pci', `drive=disk${i}`, `id=skdisk${i}`,
			`serial=skdisk${i}`, ...blocks];
	return ['-drive', drive.join(','), '-device', device.join(',')];
}

/**
 * @typedef {object} QemuResult
 * @property {number|null} code  qemu's exit code
 * @property {string|null} signal
 * @property {boolean} killed   the hard time limit passed and we killed it
 * @property {number} seconds   wall time
 */

/**
 * Run qemu to completion, stdout and stderr to `logFile`.
 * @param {string[]} args
 * @param {{logFile: string, timeoutMs: number, signal?: AbortSignal}} opts
 *   `signal` kills qemu when aborted (reported as `killed`)
 * @returns {Promise<QemuResult>}
 */
export function runQemu(args, opts) {
	const t0 = process.hrtime.bigint();
	const fd = openSync(opts.logFile, 'w');
	const child = spawn(QEMU, args, {
		detached: true,
		stdio: ['ignore', fd, fd],
	});
	closeSync(fd);
	live.add(child);
	let killed = false;
	const kill = () => {
		killed = true;
		try {
			process.kill(-(/** @type {number} */ (child.pid)), 'SIGKILL');
		} catch {
			// Already gone.
		}
	};
	const timer = setTimeout(kill, opts.timeoutMs);
	if (opts.signal?.aborted)
		kill();
	opts.signal?.addEventListener('abort', kill, { once: true });
	return new Promise((resolve, reject) => {
		child.on('error', (e) => {
			clearTimeout(timer);
			opts.signal?.removeEventListener('abort', kill);
			live.delete(child);
			reject(new HarnessError(`cannot start ${QEMU}: ${e.message}`));
		});
		child.on('exit', (code, signal) => {
			clearTimeout(timer);
			opts.signal?.removeEventListener('abort', kill);
			live.delete(child);
			// Anything qemu left in its group goes with it.
			try {
				process.kill(-(/** @type {number} */ (child.pid)),
					'SIGKILL');
			} catch {
				// Nothing left.
			}
			const ns = process.hrtime.bigint() - t0;
			resolve({ code, signal, killed, seconds: Number(ns) / 1e9 });
		});
	});
}
