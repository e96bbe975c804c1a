// Guests of several test harnesses share this machine's cores: `npm test`
// runs the full-boot suite (test/vm/fullboot) in the background while the
// kernel tests (test/vm) run, and a person may start one beside the other.
// Each harness records the host threads its running guests take in a file
// named by its pid; before starting a guest it counts the others'. Three
// TCG guests on two cores run each slower than two, and the time limits
// of both suites assume a core per guest.

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

const DIR = process.env.SNAPKEEP_GUEST_THREADS_DIR ??
	join(tmpdir(), 'snapkeep-guest-threads');

/** @param {number} pid */
function alive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		// EPERM: alive, owned by someone else.
		return /** @type {NodeJS.ErrnoException} */ (e).code === 'EPERM';
	}
}

let cleanupInstalled = false;

/**
 * Records the host threads this process's guests take now (0: none).
 * @param {number} threads
 */
export function publishThreads(threads) {
	const file = join(DIR, String(process.pid));
	if (threads <= 0) {
		rmSync(file, { force: true });
		return;
	}
	mkdirSync(DIR, { recursive: true });
	writeFileSync(file, `${threads}\n`);
	if (!cleanupInstalled) {
		cleanupInstalled = true;
		process.on('exit', () => rmSync(file, { force: true }));
	}
}

/**
 * Host threads that other live processes' guests take; files of processes
 * that are gone (killed before their exit handler ran) are removed.
 * @returns {number}
 */
export function othersThreads() {
	let names;
	try {
		names = readdirSync(DIR);
	} catch {
		return 0;
	}
	let sum = 0;
	for (const name of names) {
		const pid = Number(name);
		if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid)
			continue;
		const file = join(DIR, name);
		if (!alive(pid)) {
			rmSync(file, { force: true });
			continue;
		}
		let n;
		try {
			n = Number(readFileSync(file, 'utf8').trim());
		} catch {
			continue; // removed between the listing and the read
		}
		if (Number.isInteger(n) && n > 0)
			sum += n;
	}
	return sum;
}

/** How often a harness waiting for another's guests looks again. */
export const RECHECK_MS = 5000;

/** Guests this machine runs at once at a core each. */
export const HOST_CORES = Math.max(1, availableParallelism());
