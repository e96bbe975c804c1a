// A minimal client of qemu's machine protocol (QMP) on a unix socket:
// commands and their replies in order, events kept until someone waits
// for them. Enough for device_del and its DEVICE_DELETED event.

import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HarnessError } from './errors.mjs';

/**
 * @typedef {{event: string, data?: Record<string, unknown>}} QmpEvent
 */

export class Qmp {
	/** @type {import('node:net').Socket} */
	sock;
	buf = '';
	/** @type {Array<{resolve: (v: unknown) => void, reject: (e: Error) => void}>} */
	pending = [];
	/** @type {QmpEvent[]} */
	events = [];
	/** @type {Array<() => void>} */
	eventWaiters = [];
	closed = false;

	/** @param {import('node:net').Socket} sock */
	constructor(sock) {
		this.sock = sock;
		sock.setEncoding('utf8');
		sock.on('data', (d) => this.onData(String(d)));
		sock.on('close', () => {
			this.closed = true;
			for (const p of this.pending.splice(0))
				p.reject(new HarnessError('qemu closed its monitor'));
			for (const w of this.eventWaiters.splice(0))
				w();
		});
		sock.on('error', () => {
			// 'close' follows and rejects what is pending.
		});
	}

	/**
	 * Connect, retrying while qemu is still creating the socket, and
	 * leave the capabilities negotiation behind.
	 * @param {string} path
	 * @param {number} [timeoutMs]
	 */
	static async connect(path, timeoutMs = 10_000) {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			try {
				const sock = await new Promise((resolve, reject) => {
					const s = connect(path);
					s.once('connect', () => resolve(s));
					s.once('error', reject);
				});
				const q = new Qmp(/** @type {import('node:net').Socket} */ (sock));
				// The greeting counts as the reply to a command of none.
				await new Promise((resolve, reject) =>
					q.pending.push({ resolve, reject }));
				await q.command('qmp_capabilities');
				return q;
			} catch (e) {
				if (Date.now() > deadline) {
					throw new HarnessError(`cannot reach qemu's monitor ` +
						`${path}: ${/** @type {Error} */ (e).message}`);
				}
				await sleep(100);
			}
		}
	}

	/** @param {string} chunk */
	onData(chunk) {
		this.buf += chunk;
		let nl;
		while ((nl = this.buf.indexOf('\n')) >= 0) {
			const line = this.buf.slice(0, nl).trim();
			this.buf = this.buf.slice(nl + 1);
			if (!line)
				continue;
			let msg;
			try {
				msg = JSON.parse(line);
			} catch {
				continue;
			}
			if (msg.event) {
				this.events.push(msg);
				for (const w of this.eventWaiters.splice(0))
					w();
			} else if (msg.QMP) {
				this.pending.shift()?.resolve(msg.QMP);
			} else if (msg.error) {
				this.pending.shift()?.reject(new HarnessError(
					`${msg.error.class}: ${msg.error.desc}`));
			} else {
				this.pending.shift()?.resolve(msg.return);
			}
		}
	}

	/**
	 * @param {string} execute
	 * @param {Record<string, unknown>} [args]
	 * @returns {Promise<unknown>}
	 */
	command(execute, args) {
		if (this.closed)
			return Promise.reject(new HarnessError('qemu closed its monitor'));
		return new Promise((resolve, reject) => {
			this.pending.push({ resolve, reject });
			this.sock.write(`${JSON.stringify(args ?
				{ execute, arguments: args } : { execute })}\n`);
		});
	}

	/**
	 * The first event (already received or to come) that `match` accepts;
	 * it is removed from the buffer.
	 * @param {(e: QmpEvent) => boolean} match
	 * @param {number} timeoutMs
	 * @returns {Promise<QmpEvent|undefined>} undefined on timeout or close
	 */
	async waitEvent(match, timeoutMs) {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const i = this.events.findIndex(match);
			if (i >= 0)
				return this.events.splice(i, 1)[0];
			const left = deadline - Date.now();
			if (left <= 0 || this.closed)
				return undefined;
			await new Promise((resolve) => {
				const t = setTimeout(resolve, left);
				this.eventWaiters.push(() => {
					clearTimeout(t);
					resolve(undefined);
				});
			});
		}
	}

	close() {
		this.sock.destroy();
	}
}

/**
 * One connection to a qemu's monitor, made on first use and shared:
 * qemu serves one monitor client at a time, and several parts of the
 * harness (hot-unplug requests, the timeout probe) may need it.
 */
export class LazyQmp {
	/** @type {Promise<Qmp>|undefined} */
	conn;

	/** @param {string} path */
	constructor(path) {
		this.path = path;
	}

	/** @returns {Promise<Qmp>} */
	get() {
		this.conn ??= Qmp.connect(this.path);
		return this.conn;
	}

	close() {
		this.conn?.then((q) => q.close(), () => {});
	}
}
