// An exclusive lock file between processes of this machine (the checkout
// and the kernel cache are shared by several test runs at once).

import {
	closeSync, openSync, readFileSync, rmSync, statSync, writeSync,
} from 'node:fs';

/** Another live process held the lock for longer than the wait. */
export class LockError extends Error {
	name = 'LockError';
}

/**
 * Run fn holding an exclusive lock file: the checkout is shared, and two
 * makes in one build directory (say, two test runs started at once) would
 * corrupt each other's objects. A lock whose owner died is taken over.
 * @template T
 * @param {string} path
 * @param {() => T} fn
 * @param {number} [waitMs] how long to wait for another owner
 * @returns {T}
 */
export function withLock(path, fn, waitMs = 10 * 60 * 1000) {
	const deadline = Date.now() + waitMs;
	for (;;) {
		try {
			const fd = openSync(path, 'wx');
			writeSync(fd, String(process.pid));
			closeSync(fd);
			break;
		} catch (e) {
			if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EEXIST')
				throw e;
		}
		const owner = Number(readFileSync(path, { encoding: 'utf8',
			flag: 'a+' }));
		// Just created, pid not written yet: give its owner a moment.
		let alive = !owner && Date.now() - statSync(path).mtimeMs < 5000;
		try {
			process.kill(owner, 0);
			alive ||= owner > 0;
		} catch {
			// No such process: a stale lock.
		}
		if (!alive) {
			rmSync(path, { force: true });
			continue;
		}
		if (Date.now() > deadline)
			throw new LockError(`${path} is held by pid ${owner}`);
		Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
	}
	try {
		return fn();
	} finally {
		rmSync(path, { force: true });
	}
}
