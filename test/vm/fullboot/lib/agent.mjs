// The host end of the guest's command agent (guest/snapkeep-agent): line
// messages on qemu's virtio-serial chardev, a unix socket here.
//
//   host:  C <id> <base64 of a bash script>
//   guest: R <id> <exit code> <base64 stdout> <base64 stderr>
//          READY <boot id> <uname -r>     (each time the agent starts)
//
// The socket belongs to qemu, not to the guest: it stays connected across
// a guest reboot, and a READY with a new boot id says the guest is back.

import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HarnessError } from '../../lib/errors.mjs';

/** @typedef {{bootId: string, release: string}} Ready */
/** @typedef {{stdout: string, stderr: string, code: number}} RunResult */

export class Agent {
	/** @type {import('node:net').Socket} */
	sock;
	buf = '';
	nextId = 1;
	/** @type {Map<number, {resolve: (r: RunResult) => void, reject: (e: Error) => void}>} */
	pending = new Map();
	/** @type {Ready[]} */
	readies = [];
	/** @type {Array<() => void>} */
	waiters = [];
	closed = false;

	/** @param {import('node:net').Socket} sock */
	constructor(sock) {
		this.sock = sock;
		sock.setEncoding('utf8');
		sock.on('data', (d) => this.onData(String(d)));
		sock.on('close', () => {
			this.closed = true;
			for (const p of this.pending.values())
				p.reject(new HarnessError('qemu closed the agent channel'));
			this.pending.clear();
			this.wake();
		});
		sock.on('error', () => {
			// 'close' follows.
		});
	}

	/**
	 * Connect while qemu is still creating the socket.
	 * @param {string} path
	 * @param {number} [timeoutMs]
	 */
	static async connect(path, timeoutMs = 15_000) {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			try {
				const sock = await new Promise((resolve, reject) => {
					const s = connect(path);
					s.once('connect', () => resolve(s));
					s.once('error', reject);
				});
				return new Agent(/** @type {import('node:net').Socket} */ (sock));
			} catch (e) {
				if (Date.now() > deadline) {
					throw new HarnessError(`cannot reach the agent socket ` +
						`${path}: ${/** @type {Error} */ (e).message}`);
				}
				await sleep(50);
			}
		}
	}

	wake() {
		for (const w of this.waiters.splice(0))
			w();
	}

	/** @param {string} chunk */
	onData(chunk) {
		this.buf += chunk;
		let nl;
		while ((nl = this.buf.indexOf('\n')) >= 0) {
			const line = this.buf.slice(0, nl).trim();
			this.buf = this.buf.slice(nl + 1);
			const f = line.split(' ');
			if (f[0] === 'READY' && f.length >= 3) {
				this.readies.push({ bootId: f[1], release: f[2] });
				this.wake();
			} else if (f[0] === 'R' && f.length >= 3) {
				const p = this.pending.get(Number(f[1]));
				if (!p)
					continue;
				this.pending.delete(Number(f[1]));
				const dec = (/** @type {string|undefined} */ s) =>
					Buffer.from(s ?? '', 'base64').toString('utf8');
				p.resolve({ code: Number(f[2]), stdout: dec(f[3]),
					stderr: dec(f[4]) });
			}
		}
	}

	/**
	 * The next READY not seen yet whose boot id differs from `notBootId`.
	 * @param {number} timeoutMs
	 * @param {string} [notBootId]
	 * @returns {Promise<Ready|undefined>} undefined on timeout or close
	 */
	async waitReady(timeoutMs, notBootId) {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			while (this.readies.length) {
				const r = /** @type {Ready} */ (this.readies.shift());
				if (r.bootId !== notBootId)
					return r;
			}
			const left = deadline - Date.now();
			if (left <= 0 || this.closed)
				return undefined;
			await new Promise((resolve) => {
				const t = setTimeout(resolve, left);
				this.waiters.push(() => {
					clearTimeout(t);
					resolve(undefined);
				});
			});
		}
	}

	/**
	 * Run a bash script in the guest.
	 * @param {string} script
	 * @param {number} timeoutMs
	 * @returns {Promise<RunResult>}
	 */
	run(script, timeoutMs) {
		if (this.closed)
			return Promise.reject(new HarnessError('the agent channel is closed'));
		const id = this.nextId++;
		return new Promise((resolve, reject) => {
			const t = setTimeout(() => {
				this.pending.delete(id);
				reject(new HarnessError(`guest command timed out after ` +
					`${timeoutMs / 1000} s: ${script.slice(0, 200)}`));
			}, timeoutMs);
			this.pending.set(id, {
				resolve: (r) => {
					clearTimeout(t);
					resolve(r);
				},
				reject: (e) => {
					clearTimeout(t);
					reject(e);
				},
			});
			this.sock.write(`C ${id} ${Buffer.from(script).toString('base64')}\n`);
		});
	}

	close() {
		this.sock.destroy();
	}
}
