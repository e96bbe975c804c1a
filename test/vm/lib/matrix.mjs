// The default kernel matrix: which test runs on which kernel when run.mjs
// is given no --kernel (what `npm test` runs), and how each kernel's guests
// run. A test narrows its kernels with `kernels=` in its header
// (test-file.mjs); --kernel replaces the matrix with the kernels named.
// Measurements behind these choices: docs/testing-vm.md.

/**
 * @typedef {object} MatrixRow
 * @property {string} kernel a name of scripts/kernels.mjs KERNEL_NAMES
 * @property {RegExp} tests  test names (file names without extension) of
 *   test/vm/tests/ it runs by default
 */

/** @type {readonly MatrixRow[]} */
// What `npm test` runs, sized to its hour on 2 cores under TCG: every test
// on 6.12. On 6.1 the module tests that reach each branch of kmod/compat.h
// (opening block devices, freeze and thaw, the image disk, bio flags,
// crc32c) and the module's own logic under another ftrace and block layer:
// images, tracking, storage events, teardown, discards, whole-disk freeze,
// block sizes, hot unplug, a hung nbd, two snapshots at once, the
// persistent map's cycle, write intent and seal. The rest of 0xx/1xx run
// the same module code over the same compat branches (harness checks,
// stacking, memory accounting, big disks, map edge cases, hostile ioctls,
// chains, image reads against copies): 6.12 only, for time
// (docs/testing-vm.md). On the RT kernel
// the module tests where sleeping spinlocks change the most (whole images,
// coherence, discards). `--kernel` runs anything anywhere.
export const MATRIX = Object.freeze([
	{ kernel: '6.1', tests: /^(001|101|102|104|105|109|112|113|114|116|117|118|120|121|129)-/ },
	{ kernel: '6.12', tests: /^/ },
	{ kernel: '6.1-rt', tests: /^(101|103|109)-/ },
	// lockdep, KASAN, KFENCE and the hang detectors over discards and two
	// snapshots at once (copy-on-write images read and written by both;
	// the tracker marks the change map on every write of these too). 101
	// (whole images, 216 s there) and 102 (the map's contents, 188 s) are
	// left out for time: 118 checks a whole copy-on-write image byte for
	// byte under load, and the warm run was at 58.6 of its 60 minutes.
	// About 5 min.
	{ kernel: 'debug', tests: /^(109|118)-/ },
]);

/**
 * How the guests of a kernel run, unless the test or the command line
 * says otherwise.
 * @typedef {object} KernelRun
 * @property {import('./test-file.mjs').Tcg} tcg TCG threading of a guest
 *   with smp > 1
 * @property {number} timeoutScale the test's `timeout` is multiplied by
 *   it: the debug kernel's checks make the same test slower
 */

/** @type {Readonly<Record<string, KernelRun>>} */
export const KERNEL_RUN = Object.freeze({
	'6.1': { tcg: 'single', timeoutScale: 1 },
	'6.12': { tcg: 'single', timeoutScale: 1 },
	'6.1-rt': { tcg: 'single', timeoutScale: 1.5 },
	'6.12-rt': { tcg: 'single', timeoutScale: 1.5 },
	debug: { tcg: 'single', timeoutScale: 3 },
});

/**
 * @param {string} kernel a kernel name
 * @returns {KernelRun}
 */
export function kernelRun(kernel) {
	return KERNEL_RUN[kernel] ?? { tcg: 'single', timeoutScale: 1 };
}

/**
 * Kernel names the default matrix runs `testName` on.
 * @param {string} testName
 * @param {readonly MatrixRow[]} [matrix]
 */
export function matrixKernels(testName, matrix = MATRIX) {
	return matrix.filter((r) => r.tests.test(testName)).map((r) => r.kernel);
}
