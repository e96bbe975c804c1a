// What in a guest's kernel log fails a test, even when the test itself
// exited 0: a kernel that warned, oopsed, detected memory corruption,
// lock trouble or a stall has a bug, and our module is the suspect.
//
// Patterns are case-sensitive substrings or regexps matched per line.
// A test that provokes one of them on purpose allows it with a
// `# vm-allow-log: <regexp>` header line (test-file.mjs).

/** @type {Array<string|RegExp>} */
export const BAD_PATTERNS = [
	// WARN_ON(), BUG_ON(), oopses and what prints their stacks.
	'WARNING:', 'BUG:', 'kernel BUG at', 'Oops', 'invalid opcode:',
	'general protection fault', 'Unable to handle kernel',
	'Call Trace', 'Kernel panic', 'stack-protector', 'stack guard page',
	// Memory and object debugging (on kernels that have it enabled).
	'KASAN', 'KFENCE', 'KMSAN', 'UBSAN', 'kmemleak',
	'use-after-free', 'slab-out-of-bounds', 'double-free',
	'Bad page state', 'Bad page map', 'BUG kmalloc', 'Poison overwritten',
	'refcount_t:', 'list_add corruption', 'list_del corruption',
	'kobject_add_internal failed',
	// debugobjects: an active timer, work item or RCU head freed or
	// re-initialised ("ODEBUG: free active ... object type: timer_list").
	'ODEBUG:',
	// Locking. After its first report lockdep switches itself off
	// ("turning off the locking correctness validator"): that line alone
	// means every later lock bug goes unseen.
	'lockdep', 'possible circular locking', 'possible recursive locking',
	'inconsistent lock state', 'scheduling while atomic',
	'sleeping function called from invalid context',
	'bad unlock balance', 'held lock freed', 'DEBUG_LOCKS_WARN_ON',
	'turning off the locking correctness validator',
	'trying to register non-static key', 'suspicious RCU usage',
	// Stalls and hangs.
	'hung task', 'hung_task', 'blocked for more than', 'soft lockup',
	'hard LOCKUP', /rcu.*detected stalls?/, 'self-detected stall',
	'workqueue lockup',
	// File systems noticing corrupted metadata (our snapshots feed them).
	'EXT4-fs error', /XFS \(.*\): (Corruption|Internal error)/,
	'Buffer I/O error on dev vd',
	// Memory exhaustion inside a test VM is a leak until shown otherwise.
	'invoked oom-killer',
];

/**
 * Lines that contain a pattern but are known not to be bugs. Each needs a
 * reason; keep this list short.
 * @type {RegExp[]}
 */
export const BENIGN = [
	// CPU vulnerability reports name the word WARNING (mitigations=off).
	/(RETBleed|Spectre|MDS|MMIO Stale Data|TAA|SRBDS|GDS|ITS|Transient Scheduler Attacks): WARNING/,
	// The debug kernel's boot banners say which checkers are on.
	/^(\[[ \d.]+\] )?rcu: \tRCU lockdep checking is enabled\.\r?$/,
	/^(\[[ \d.]+\] )?rcu: \tRCU callback double-\/use-after-free debug is enabled\.\r?$/,
];

/**
 * Offending lines of a kernel log.
 * @param {string} text
 * @param {RegExp[]} [allow] extra allowed lines (from the test header)
 * @returns {string[]}
 */
export function scanKernelLog(text, allow = []) {
	/** @type {string[]} */
	const bad = [];
	for (const line of text.split('\n')) {
		const hit = BAD_PATTERNS.some((p) => typeof p === 'string' ?
			line.includes(p) : p.test(line));
		if (!hit)
			continue;
		if (BENIGN.some((re) => re.test(line)) ||
		    allow.some((re) => re.test(line)))
			continue;
		bad.push(line.replace(/\r$/, ''));
	}
	return bad;
}

/**
 * Offending lines of several logs of one boot (console and dmesg carry
 * mostly the same lines, with the same timestamps), each line once, in
 * order of first appearance.
 * @param {string[]} texts
 * @param {RegExp[]} [allow]
 */
export function scanKernelLogs(texts, allow = []) {
	return [...new Set(texts.flatMap((t) => scanKernelLog(t, allow)))];
}

/**
 * The lines around the first offending line of a log: the report header
 * and its stack, up to the end-of-trace marker, for the terminal. The
 * whole log stays in the run directory.
 * @param {string} text
 * @param {string[]} offending
 * @param {number} [max]
 * @returns {string[]}
 */
export function firstReport(text, offending, max = 60) {
	const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
	const at = lines.findIndex((l) => offending.includes(l));
	if (at < 0)
		return [];
	const out = [];
	for (let i = Math.max(0, at - 2); i < lines.length && out.length < max;
	     i++) {
		out.push(lines[i]);
		if (i > at && /---\[ end trace/.test(lines[i]))
			break;
	}
	return out;
}

/**
 * What a guest that timed out showed of its hang: the device queues and
 * the module's copies and held writes it wrote at the timeout (every line
 * but idle queues), then the stacks of its blocked tasks (sysrq-w).
 * @param {string} ioAtTimeout the guest's io-at-timeout file
 * @param {string} kernelLog dmesg or console
 * @param {number} [max] most lines of stacks
 * @returns {string[]}
 */
export function hangReport(ioAtTimeout, kernelLog, max = 40) {
	const io = ioAtTimeout.split('\n').map((l) => l.trimEnd())
		.filter((l) => l && !/ inflight\s+0\s+0$/.test(l));
	const lines = kernelLog.split('\n').map((l) => l.replace(/\r$/, ''));
	const at = lines.findLastIndex((l) => /sysrq: Show Blocked State/.test(l));
	const stacks = at < 0 ? [] : lines.slice(at + 1)
		.filter((l) => l.trim()).slice(0, max);
	return [...io, ...(stacks.length ? ['blocked tasks:', ...stacks] : [])];
}

/**
 * Whether the module held no write at a guest's timeout, from its
 * io-at-timeout file: no copy in progress, no write held for a copy or
 * queued for a worker. True too when the module was not loaded (no
 * `copies` line). A hang then lies outside the module's write path.
 * @param {string} ioAtTimeout
 * @returns {boolean}
 */
export function moduleIdleAtTimeout(ioAtTimeout) {
	if (!/^copies \d+$/m.test(ioAtTimeout))
		return true;
	return /^copies 0$/m.test(ioAtTimeout) &&
		/^writes held=0 copying_inline=0$/m.test(ioAtTimeout) &&
		/^writes deferred fresh=0 counted=0$/m.test(ioAtTimeout);
}

/**
 * Taint flags that mean a kernel bug happened (kernel/panic.c). Out of
 * tree (O) and unsigned (E) are expected for our module and are ignored.
 */
const BAD_TAINTS = {
	4: 'M (machine check)',
	5: 'B (bad page)',
	7: 'D (kernel died: oops or BUG)',
	9: 'W (warning)',
	14: 'L (soft lockup)',
};

/**
 * @param {string} value content of /proc/sys/kernel/tainted
 * @returns {string[]} the bad flags set
 */
export function badTaints(value) {
	const n = BigInt(value.trim() || '0');
	return Object.entries(BAD_TAINTS)
		.filter(([bit]) => (n >> BigInt(bit)) & 1n)
		.map(([, name]) => name);
}

/**
 * Did the console show a panic?
 * @param {string} consoleText
 */
export function panicked(consoleText) {
	return /Kernel panic - not syncing/.test(consoleText);
}
