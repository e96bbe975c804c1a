// One full-boot guest: the cached system image (scripts/guest-image.mjs)
// under a qcow2 overlay of its own, booted by qemu (TCG) through the
// image's BIOS GRUB, kernel and initrd, driven through the command agent
// (lib/agent.mjs). Reboots are the guest's own `systemctl reboot` (its whole
// shutdown path runs); qemu runs with -no-reboot, so the reset ends it and
// the next boot is a fresh qemu on the same overlay and disks: under TCG a
// warm reset boots about twice as slowly (the new kernel's code lands on
// pages that still carry the old one's translations). A power cut is
// SIGKILL to qemu, then a boot from the same overlay and disks.
//
// The serial console of every boot is appended to <dir>/console.log.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from '../../lib/errors.mjs';
import { runQemu } from '../../lib/qemu.mjs';
import { Agent } from './agent.mjs';

/** From qemu's start to the agent's READY (TCG, a loaded 2-core host). */
export const BOOT_TIMEOUT_MS = 240_000;
/** From `systemctl reboot` to qemu's exit at the reset. */
const SHUTDOWN_TIMEOUT_MS = 180_000;
/** One guest command, unless the caller says otherwise. */
export const RUN_TIMEOUT_MS = 120_000;
/** qemu's hard limit, whatever happens: a test never outlives it. */
const QEMU_LIMIT_MS = 30 * 60 * 1000;

/**
 * `promise`, or `late` after `ms`; the timer is cleared either way (one
 * left running kept run.mjs alive for minutes after its last test).
 * @template T, L
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {L} late
 * @returns {Promise<T|L>}
 */
function within(promise, ms, late) {
	/** @type {NodeJS.Timeout|undefined} */
	let timer;
	return Promise.race([promise, new Promise((resolve) => {
		timer = setTimeout(resolve, ms, late);
	})]).finally(() => clearTimeout(timer));
}

/**
 * @typedef {object} DataDisk
 * @property {string} size     qemu-img size ("256M", "1G")
 * @property {string} [serial] virtio serial: /dev/disk/by-id/virtio-<serial>
 *   in the guest (default data0, data1, ...)
 */

/**
 * @typedef {object} BootOptions
 * @property {string} dir        run directory (overlay, disks, logs)
 * @property {string} kernel     '6.1' or '6.12': GRUB's entry for the boot
 * @property {DataDisk[]} [disks]
 * @property {number} [memory]   MiB (default 1024)
 * @property {number} [smp]      vCPUs (default 1)
 * @property {{tag: string, path: string}[]} [shares] read-only 9p shares
 *   (mount -t 9p -o trans=virtio,version=9p2000.L <tag> <dir>)
 */

/** @param {string} s */
const esc = (s) => s.replace(/,/g, ',,');

let socketSeq = 0;

export class Guest {
	/** @type {import('../../../../scripts/guest-image.mjs').GuestImage} */
	image;
	/** @type {Required<BootOptions>} */
	opts;
	overlay;
	consoleLog;
	/** Unix socket paths are short (108 bytes): not in the run directory. */
	socket = `/tmp/skfb-${process.pid}-${++socketSeq}.sock`;
	/** @type {string[]} */
	diskFiles = [];
	/** @type {Agent|undefined} */
	agent;
	/** @type {Promise<import('../../lib/qemu.mjs').QemuResult>|undefined} */
	exited;
	/** @type {AbortController|undefined} */
	abort;
	/** @type {import('./agent.mjs').Ready|undefined} */
	current;
	/** Seconds of each boot, from qemu's start or the reboot request. */
	/** @type {number[]} */
	bootSeconds = [];

	/**
	 * @param {import('../../../../scripts/guest-image.mjs').GuestImage} image
	 * @param {BootOptions} o
	 */
	constructor(image, o) {
		this.image = image;
		this.opts = { disks: [], memory: 1024, smp: 1, shares: [], ...o };
		this.overlay = join(o.dir, 'root.qcow2');
		this.consoleLog = join(o.dir, 'console.log');
	}

	/** The GRUB entry id booting a kernel ('6.1', '6.12'). */
	entry(/** @type {string} */ kernel) {
		const k = this.image.kernels[kernel];
		if (!k)
			throw new HarnessError(`the guest image has no kernel ${kernel}`);
		return k.entry;
	}

	/** `uname -r` of a kernel ('6.1', '6.12') in the image. */
	release(/** @type {string} */ kernel) {
		this.entry(kernel);
		return this.image.kernels[kernel].release;
	}

	/** Overlay and data disks, made once for the guest's life. */
	makeDisks() {
		const img = (/** @type {string[]} */ args) => {
			const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
			if (r.status !== 0)
				throw new HarnessError(`qemu-img ${args.join(' ')}: ${r.stderr}`);
		};
		img(['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b',
			this.image.base, this.overlay]);
		this.opts.disks.forEach((d, i) => {
			const file = join(this.opts.dir, `${d.serial ?? `data${i}`}.raw`);
			img(['create', '-q', '-f', 'raw', file, d.size]);
			this.diskFiles.push(file);
		});
	}

	/** @param {string} kernel */
	qemuArgs(kernel) {
		const args = [
			'-nodefaults', '-no-user-config', '-display', 'none',
			'-accel', `tcg,thread=${this.opts.smp > 1 ? 'multi' : 'single'}`,
			// A guest reboot ends qemu; reboot() starts the next boot.
			'-no-reboot',
			'-cpu', 'max', '-m', String(this.opts.memory),
			'-smp', String(this.opts.smp),
			// GRUB boots this entry (guest/custom.cfg).
			'-smbios', `type=1,version=${esc(this.entry(kernel))}`,
			'-chardev', `file,id=console,path=${esc(this.consoleLog)},append=on`,
			'-serial', 'chardev:console',
			'-device', 'virtio-serial-pci',
			'-chardev', `socket,id=agent,path=${esc(this.socket)},server=on,wait=off`,
			'-device', 'virtserialport,chardev=agent,name=snapkeep.agent',
			// writeback: a guest flush reaches the host file, qcow2
			// metadata included, so killing qemu loses only what the
			// guest had not flushed, as a power cut does.
			'-drive', `file=${esc(this.overlay)},if=none,id=root,format=qcow2,` +
				'cache=writeback,discard=unmap',
			'-device', 'virtio-blk-pci,drive=root,serial=root,bootindex=0',
		];
		this.diskFiles.forEach((file, i) => {
			const serial = this.opts.disks[i].serial ?? `data${i}`;
			args.push('-drive', `file=${esc(file)},if=none,id=d${i},` +
				'format=raw,cache=writeback',
			'-device', `virtio-blk-pci,drive=d${i},serial=${serial}`);
		});
		for (const s of this.opts.shares) {
			args.push('-virtfs', `local,path=${esc(s.path)},mount_tag=${s.tag},` +
				'security_model=none,readonly=on,multidevs=remap');
		}
		return args;
	}

	/**
	 * Start qemu on the overlay and connect to the agent's socket (not yet
	 * waiting for its READY).
	 * @param {string} kernel
	 * @returns {Promise<Agent>}
	 */
	async launch(kernel) {
		rmSync(this.socket, { force: true });
		this.abort = new AbortController();
		this.exited = runQemu(this.qemuArgs(kernel), {
			logFile: join(this.opts.dir, 'qemu.log'),
			timeoutMs: QEMU_LIMIT_MS,
			signal: this.abort.signal,
		});
		try {
			return await Agent.connect(this.socket);
		} catch (e) {
			// qemu refused its arguments or died at once: say why.
			const log = join(this.opts.dir, 'qemu.log');
			throw new HarnessError(`${/** @type {Error} */ (e).message}; ` +
				`qemu: ${existsSync(log) ? readFileSync(log, 'utf8').trim() : ''}`);
		}
	}

	/**
	 * Start qemu and wait for the agent.
	 * @param {string} kernel
	 * @param {number} [t0] when this boot began (a reboot: its request)
	 * @param {string} [what]
	 */
	async start(kernel, t0 = Date.now(), what = 'boot') {
		this.agent = await this.launch(kernel);
		await this.waitBoot(t0, what);
	}

	/**
	 * @param {number} t0
	 * @param {string} what
	 */
	async waitBoot(t0, what) {
		const agent = /** @type {Agent} */ (this.agent);
		const exit = /** @type {Promise<unknown>} */ (this.exited).then(() => undefined);
		const ready = await Promise.race([
			agent.waitReady(BOOT_TIMEOUT_MS), exit]);
		if (!ready) {
			throw new HarnessError(`${what}: the guest did not come up ` +
				`within ${BOOT_TIMEOUT_MS / 1000} s${agent.closed ?
					' (qemu exited)' : ''}; console:\n${this.consoleTail()}`);
		}
		this.current = ready;
		this.bootSeconds.push((Date.now() - t0) / 1000);
	}

	/**
	 * Run a bash script in the guest.
	 * @param {string} script
	 * @param {{timeoutMs?: number}} [o]
	 */
	run(script, o = {}) {
		if (!this.agent)
			throw new HarnessError('the guest is not running');
		return this.agent.run(script, o.timeoutMs ?? RUN_TIMEOUT_MS);
	}

	/**
	 * Run a script that must succeed; its stdout.
	 * @param {string} script
	 * @param {{timeoutMs?: number}} [o]
	 */
	async sh(script, o = {}) {
		const r = await this.run(script, o);
		if (r.code !== 0) {
			throw new Error(`guest: exit ${r.code}: ${script.slice(0, 300)}\n` +
				`${r.stderr.trimEnd().split('\n').slice(-15).join('\n')}`);
		}
		return r.stdout;
	}

	/**
	 * Copy a host file into the guest over the agent (base64 in the
	 * command: fine for modules and scripts, not for disk images).
	 * @param {string} hostPath
	 * @param {string} guestPath
	 * @param {number} [mode]
	 */
	async copyIn(hostPath, guestPath, mode = 0o644) {
		const b64 = readFileSync(hostPath).toString('base64');
		const q = `'${guestPath.replace(/'/g, "'\\''")}'`;
		await this.sh(`mkdir -p "$(dirname ${q})" && base64 -d > ${q} <<'SKEOF'\n` +
			`${b64.replace(/.{1,76}/g, '$&\n')}SKEOF\nchmod ${mode.toString(8)} ${q}`);
	}

	/**
	 * A real `systemctl reboot`; waits until the agent of the next boot
	 * reports. With a kernel, grub-reboot picks its entry for that boot.
	 * @param {{kernel?: string}} [o]
	 */
	async reboot(o = {}) {
		const t0 = await this.goDown(o);
		await this.start(this.opts.kernel, t0, 'reboot');
	}

	/**
	 * The first half of a reboot: `systemctl reboot` and qemu's exit at the
	 * reset. Then startAgain() or failingBoot().
	 * @param {{kernel?: string}} [o]
	 * @returns {Promise<number>} when the reboot was asked for
	 */
	async goDown(o = {}) {
		if (o.kernel)
			await this.sh(`grub-reboot '${this.entry(o.kernel)}'`);
		const t0 = Date.now();
		// In the background: the agent answers before systemd stops it.
		await this.sh('(sleep 0.5; systemctl reboot) >/dev/null 2>&1 &');
		const down = await within(/** @type {Promise<unknown>} */ (this.exited).then(() => true),
			SHUTDOWN_TIMEOUT_MS, false);
		if (!down) {
			throw new HarnessError(`reboot: the guest did not shut down within ${SHUTDOWN_TIMEOUT_MS / 1000} s; ` +
				`console:\n${this.consoleTail()}`);
		}
		this.agent?.close();
		this.agent = undefined;
		this.current = undefined;
		return t0;
	}

	/** A boot after goDown() or failingBoot() that must come up. */
	async startAgain() {
		await this.start(this.opts.kernel, Date.now(), 'boot');
	}

	/**
	 * A boot that must fail: qemu exits (the guest's kernel panicked and,
	 * with panic=N on its command line, reset: -no-reboot ends qemu), or the
	 * agent has not reported after `limitMs` (a hang: qemu is killed, as a
	 * user presses reset). An agent that reports fails the test.
	 * @param {string} what
	 * @param {number} [limitMs]
	 * @returns {Promise<{ seconds: number, how: 'reset' | 'hung' }>}
	 */
	async failingBoot(what, limitMs = BOOT_TIMEOUT_MS) {
		const t0 = Date.now();
		const agent = await this.launch(this.opts.kernel);
		const exited = /** @type {Promise<unknown>} */ (this.exited).then(() => true);
		const up = await Promise.race([agent.waitReady(limitMs), exited.then(() => undefined)]);
		agent.close();
		if (up) {
			await this.kill();
			throw new Error(`${what}: the boot should have failed, but the guest came up; console:\n${this.consoleTail()}`);
		}
		const reset = await within(exited, 5000, false);
		if (!reset)
			await this.kill();
		this.agent = undefined;
		this.current = undefined;
		return { seconds: (Date.now() - t0) / 1000, how: reset ? 'reset' : 'hung' };
	}

	/**
	 * A power cut: SIGKILL to qemu (no flush, no shutdown), then a boot
	 * from the same overlay and disks.
	 * @param {{kernel?: string}} [o] kernel of the next boot (default:
	 *   the one this guest was booted with)
	 */
	async powerCut(o = {}) {
		await this.kill();
		await this.start(o.kernel ?? this.opts.kernel);
	}

	/** Kill qemu and wait for it to be gone. */
	async kill() {
		this.abort?.abort();
		await this.exited;
		this.agent?.close();
		this.agent = undefined;
		this.current = undefined;
	}

	/** Last lines of the serial console. */
	consoleTail(lines = 30) {
		if (!existsSync(this.consoleLog))
			return '(no console output)';
		return readFileSync(this.consoleLog, 'utf8').replace(/\r/g, '')
			.trimEnd().split('\n').slice(-lines).join('\n');
	}

	/** Stop qemu and drop the disks (a passing test keeps only logs). */
	async discard() {
		await this.kill();
		rmSync(this.socket, { force: true });
		for (const f of [this.overlay, ...this.diskFiles])
			rmSync(f, { force: true });
	}
}

/**
 * Boot a guest from the image: a fresh overlay, data disks, qemu, and the
 * agent's first READY.
 * @param {import('../../../../scripts/guest-image.mjs').GuestImage} image
 * @param {BootOptions} o
 */
export async function boot(image, o) {
	const g = new Guest(image, o);
	g.makeDisks();
	await g.start(o.kernel);
	return g;
}
