// Requests from a test in the guest to the host that runs its VM, such as
// "unplug disk 1 now" (hot-unplug while a snapshot holds it).
//
// The channel is the results share: the guest writes
// hostctl/<id>.req ("unplug 1\n"), the host polls that directory, acts
// through qemu's monitor (QMP) and answers hostctl/<id>.res, "ok\n" or
// "error: <why>\n", written whole (rename), so a reader never sees half
// an answer. The guest side is test/vm/guest/hostctl.sh
// ($SNAPKEEP_HOSTCTL). The share is uncached in the guest: each side sees
// the other's files at once.

import {
	readdirSync, readFileSync, renameSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** How often the host looks for requests. */
const POLL_MS = 100;
/** How long the guest may take to let go of an unplugged device. */
export const UNPLUG_TIMEOUT_MS = 30_000;

/**
 * @typedef {object} HostctlOptions
 * @property {string} dir      the test's results directory
 * @property {import('./qmp.mjs').LazyQmp} qmp qemu's monitor (the caller
 *   closes it)
 * @property {number} diskCount disks of the test (ids skdisk0..N-1)
 * @property {AbortSignal} signal stops serving (qemu exited)
 */

/**
 * Serve the guest's requests until `signal` aborts.
 * @param {HostctlOptions} o
 * @returns {Promise<void>}
 */
export async function serveHostctl(o) {
	// Created by the guest's first request (most tests make none).
	const reqDir = join(o.dir, 'hostctl');
	/** @type {Set<string>} */
	const done = new Set();
	/** @type {Set<number>} */
	const unplugged = new Set();
	const act = async (/** @type {string} */ text) => {
		const [cmd, arg, ...rest] = text.trim().split(/\s+/);
		if (cmd !== 'unplug' || rest.length || !/^\d+$/.test(arg ?? ''))
			throw new Error(`unknown request "${text.trim()}" (known: unplug N)`);
		const n = Number(arg);
		if (n >= o.diskCount)
			throw new Error(`no disk ${n}: the test has ${o.diskCount}`);
		if (unplugged.has(n))
			throw new Error(`disk ${n} is already unplugged`);
		const qmp = await o.qmp.get();
		const id = `skdisk${n}`;
		await qmp.command('device_del', { id });
		const ev = await qmp.waitEvent((e) => e.event === 'DEVICE_DELETED' &&
			e.data?.device === id, UNPLUG_TIMEOUT_MS);
		if (!ev) {
			throw new Error(`the guest did not release ${id} within ` +
				`${UNPLUG_TIMEOUT_MS / 1000} s`);
		}
		unplugged.add(n);
	};
	while (!o.signal.aborted) {
		let names = [];
		try {
			names = readdirSync(reqDir).filter((f) => f.endsWith('.req'))
				.sort();
		} catch {
			// The guest may not have written anything yet.
		}
		for (const f of names) {
			const id = f.slice(0, -'.req'.length);
			if (done.has(id))
				continue;
			done.add(id);
			let answer = 'ok\n';
			try {
				await act(readFileSync(join(reqDir, f), 'utf8'));
			} catch (e) {
				answer = `error: ${/** @type {Error} */ (e).message}\n`;
			}
			const tmp = join(reqDir, `${id}.tmp`);
			writeFileSync(tmp, answer);
			renameSync(tmp, join(reqDir, `${id}.res`));
		}
		await new Promise((resolve) => {
			const wake = () => {
				clearTimeout(t);
				resolve(undefined);
			};
			const t = setTimeout(() => {
				o.signal.removeEventListener('abort', wake);
				resolve(undefined);
			}, POLL_MS);
			o.signal.addEventListener('abort', wake, { once: true });
		});
	}
}
