import {
	closeSync, existsSync, fstatSync, openSync, readSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// Where the requests of a hung guest's disks are, seen from qemu's side.
//
// When a test times out with writes that never complete, the guest can
// only say they left its block layer (io-at-timeout: "inflight"). Whether
// qemu then holds them (taken from the ring, never completed: the host's
// fault, not the guest's), never took them (published in the avail ring,
// not taken: a lost notification) or completed them without telling the
// guest, only qemu knows. Its monitor's x-query-virtio commands read the
// rings; two samples some seconds apart tell a stall from slow progress.

/**
 * One virtqueue at one instant.
 * @typedef {object} QueueSample
 * @property {string} disk     skdiskN
 * @property {number} queue
 * @property {number} inuse    taken by qemu, not yet completed
 * @property {number} lastAvail qemu's next avail index to take
 * @property {number|undefined} avail the guest's avail index (live), if readable
 * @property {number} used     qemu's used index
 */

/**
 * @typedef {object} StallVerdict
 * @property {QueueSample[][]} samples the samples taken, in order
 * @property {string[]} findings one line per queue that did not move
 * @property {boolean} hostHeld some queue kept requests qemu had taken and
 *   never completed, across every sample: a stall below the guest
 */

/** @param {number} a @param {number} b ring index distance a - b */
function ringDistance(a, b) {
	return (a - b + 0x10000) % 0x10000;
}

/**
 * @param {{command: (name: string, args?: Record<string, unknown>) =>
 *   Promise<unknown>}} qmp
 * @param {number} diskCount
 * @returns {Promise<QueueSample[]>}
 */
export async function sampleQueues(qmp, diskCount) {
	/** @type {QueueSample[]} */
	const out = [];
	for (let i = 0; i < diskCount; i++) {
		const disk = `skdisk${i}`;
		const path = `/machine/peripheral/${disk}/virtio-backend`;
		let status;
		try {
			status = /** @type {{'num-vqs': number}} */ (
				await qmp.command('x-query-virtio-status', { path }));
		} catch (e) {
			if (/closed/.test(String(e)))
				throw e;
			continue; // not virtio (nvme) or unplugged
		}
		for (let queue = 0; queue < status['num-vqs']; queue++) {
			const q = /** @type {Record<string, number>} */ (await qmp.command(
				'x-query-virtio-queue-status', { path, queue }));
			let avail;
			try {
				const el = /** @type {{avail?: {idx?: number}}} */ (
					await qmp.command('x-query-virtio-queue-element',
						{ path, queue }));
				avail = el.avail?.idx;
			} catch {
				// A queue the guest never set up has no rings to read.
			}
			out.push({ disk, queue, inuse: q.inuse ?? 0,
				lastAvail: q['last-avail-idx'] ?? 0, avail,
				used: q['used-idx'] ?? 0 });
		}
	}
	return out;
}

/**
 * Judge samples of the same queues taken in order: a queue is stuck when
 * nothing it held moved between the first and the last sample.
 * @param {QueueSample[][]} samples
 * @returns {StallVerdict}
 */
export function judgeQueues(samples) {
	const first = samples[0] ?? [];
	const last = samples[samples.length - 1] ?? [];
	/** @type {string[]} */
	const findings = [];
	let hostHeld = false;
	for (const a of first) {
		const b = last.find((s) => s.disk === a.disk && s.queue === a.queue);
		if (!b || b.used !== a.used)
			continue;
		const where = `${a.disk} queue ${a.queue}`;
		if (a.inuse > 0 && b.inuse > 0) {
			hostHeld = true;
			findings.push(`${where}: qemu took ${b.inuse} request(s) and ` +
				'completed none while sampled');
		}
		if (b.avail !== undefined && a.avail === b.avail &&
		    ringDistance(b.avail, b.lastAvail) > 0) {
			findings.push(`${where}: ${ringDistance(b.avail, b.lastAvail)} ` +
				'request(s) published by the guest, never taken by qemu');
		}
	}
	return { samples, findings, hostHeld };
}

/** Between the two samples of a hung guest (it waits 30 s for us). */
const SAMPLE_GAP_MS = 10_000;
/** The guest's hung-task detector: a task waited 120 s (no test allows it). */
const HUNG_TASK = 'blocked for more than';

/**
 * Reads what a growing file gained since the last call.
 * @param {string} file
 */
function tailer(file) {
	let offset = 0;
	return () => {
		let fd;
		try {
			fd = openSync(file, 'r');
			const size = fstatSync(fd).size;
			if (size <= offset)
				return '';
			const buf = Buffer.alloc(Math.min(size - offset, 1 << 20));
			const n = readSync(fd, buf, 0, buf.length, offset);
			// Keep a line's worth: the phrase may straddle two reads.
			offset += Math.max(0, n - HUNG_TASK.length);
			return buf.subarray(0, n).toString('latin1');
		} catch {
			return '';
		} finally {
			if (fd !== undefined)
				closeSync(fd);
		}
	};
}

/**
 * Watch a running guest for a hang: its hung-task detector on the console,
 * or its own timeout (it writes `timed-out` to the results share,
 * test/vm/guest/init.sh). Then sample its disks' queues twice and keep
 * the samples in virtio-at-timeout.json beside the other logs. When qemu
 * holds requests it never completes, `onHostStall` is called at once:
 * the guest cannot get out of that, so there is no point waiting for its
 * timeout.
 * @param {{dir: string, consoleLog: string,
 *   qmp: import('./qmp.mjs').LazyQmp, diskCount: number,
 *   signal: AbortSignal, onHostStall: (v: StallVerdict) => void,
 *   gapMs?: number}} o
 * @returns {Promise<StallVerdict|undefined>} the last verdict, undefined
 *   when the guest never hung (or qemu went away first)
 */
export async function watchStall(o) {
	const flag = join(o.dir, 'timed-out');
	const consoleNews = tailer(o.consoleLog);
	let hungSeen = false;
	/** @type {StallVerdict|undefined} */
	let verdict;
	while (!o.signal.aborted) {
		const timedOut = existsSync(flag);
		const hung = !hungSeen && consoleNews().includes(HUNG_TASK);
		hungSeen ||= hung;
		if (timedOut || hung) {
			try {
				verdict = await probe(o) ?? verdict;
			} finally {
				// The guest waits for this before it ends the test.
				if (timedOut)
					writeFileSync(join(o.dir, 'probed'), '');
			}
			if (verdict?.hostHeld) {
				o.onHostStall(verdict);
				return verdict;
			}
			if (timedOut)
				return verdict;
		}
		await sleep(500, undefined, { signal: o.signal }).catch(() => {});
	}
	return verdict;
}

/**
 * @param {{dir: string, qmp: import('./qmp.mjs').LazyQmp,
 *   diskCount: number, signal: AbortSignal, gapMs?: number}} o
 * @returns {Promise<StallVerdict|undefined>}
 */
async function probe(o) {
	try {
		const qmp = await o.qmp.get();
		const first = await sampleQueues(qmp, o.diskCount);
		await sleep(o.gapMs ?? SAMPLE_GAP_MS, undefined,
			{ signal: o.signal });
		const verdict = judgeQueues([first,
			await sampleQueues(qmp, o.diskCount)]);
		writeFileSync(join(o.dir, 'virtio-at-timeout.json'),
			`${JSON.stringify(verdict, null, 1)}\n`);
		return verdict;
	} catch {
		return undefined; // qemu exited or its monitor went away
	}
}
