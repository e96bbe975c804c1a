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
export const MATRIX = Object.freeze([
	// Every test on both kernels users run.
	{ kernel: '6.1', tests: /^/ },
	{ kernel: '6.12', tests: /^/ },
	// The module and everything that drives it (0xx harness and module
	// load, 1xx module, 2xx engine on snapshots, 3xx helper service)
	// under lockdep, KASAN, KFENCE and the hang detectors.
	{ kernel: 'debug', tests: /^[0-3]\d\d-/ },
	// The module's own tests under PREEMPT_RT, where spinlocks sleep.
	{ kernel: '6.1-rt', tests: /^1\d\d-/ },
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
