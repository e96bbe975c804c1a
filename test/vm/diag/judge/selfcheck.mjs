#!/usr/bin/env node
// Proves that the kernel log judge (test/vm/lib/kernel-log.mjs) catches
// every kind of report the debug kernel exists for, on that kernel's real
// messages: each case of provoke.c is loaded in its own guest, and must
// make the harness fail the test with the expected report among the
// offending lines.
//
//   node test/vm/diag/judge/selfcheck.mjs [case]...   (default: all)
//
// Not part of `npm test` (about 8 boots, two of them wait minutes for the
// hang detectors); run it after changing the patterns or the debug
// kernel's config. docs/testing-vm.md has the last results.

import { spawnSync } from 'node:child_process';
import {
	copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO } from '../../../../scripts/build-kmod.mjs';
import { resolveKernel } from '../../../../scripts/kernels.mjs';
import { scanKernelLogs } from '../../lib/kernel-log.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * Each case: the reports it must produce (every regexp must match an
 * offending line), how long the guest waits after loading, vCPUs.
 * @type {Record<string, {expect: RegExp[], wait?: number, smp?: number}>}
 */
const CASES = {
	warn: { expect: [/WARNING: CPU: \d+ PID: \d+ at .*provoke/] },
	lockdep: { expect: [/WARNING: possible circular locking dependency detected/] },
	kasan: { expect: [/BUG: KASAN: slab-use-after-free in/] },
	kfence: { expect: [/BUG: KFENCE: use-after-free read in/] },
	atomic_sleep: { expect: [/BUG: sleeping function called from invalid context/] },
	odebug: { expect: [/ODEBUG: free active .*object type: timer_list/] },
	hung: { expect: [/INFO: task provoke-hung:\d+ blocked for more than \d+ seconds/], wait: 150 },
	stall: {
		expect: [/BUG: soft lockup/, /rcu: INFO: rcu_\w+ (self-)?detected stalls?/],
		wait: 60, smp: 2,
	},
};

const want = process.argv.slice(2);
for (const c of want) {
	if (!Object.hasOwn(CASES, c))
		throw new Error(`no case ${c} (cases: ${Object.keys(CASES).join(' ')})`);
}
const cases = want.length ? want : Object.keys(CASES);

const kernel = resolveKernel('debug', { log: console.log });
const build = join(REPO, 'out', 'vm', 'judge-provoke', kernel.version);
mkdirSync(build, { recursive: true });
for (const f of ['provoke.c', 'Kbuild'])
	copyFileSync(join(HERE, f), join(build, f));
const make = spawnSync('make', ['-C', kernel.headersDir, `M=${build}`,
	'KCFLAGS=-Werror', 'modules'], { encoding: 'utf8' });
if (make.status !== 0) {
	process.stderr.write(make.stdout + make.stderr);
	throw new Error('provoke.ko did not build');
}
const ko = join(build, 'provoke.ko');

const dir = mkdtempSync(join(tmpdir(), 'snapkeep-judge-'));
for (const c of cases) {
	const { wait = 5, smp = 1 } = CASES[c];
	writeFileSync(join(dir, `judge-${c}.sh`), `#!/bin/bash
# Provokes "${c}" (test/vm/diag/judge/provoke.c); the harness must fail it.
# vm: kernels=debug timeout=${wait + 60} smp=${smp}
insmod ${ko} what=${c}
sleep ${wait}
`);
}
const results = join(dir, 'results.json');
spawnSync(process.execPath, [join(REPO, 'test', 'vm', 'run.mjs'),
	'--kernel', 'debug', '--dir', dir, '--results', results],
{ stdio: 'inherit' });

const json = JSON.parse(readFileSync(results, 'utf8'));
let bad = 0;
console.log('\njudge self-check on the debug kernel:');
for (const c of cases) {
	const r = json.tests.find((/** @type {{name: string}} */ t) =>
		t.name === `judge-${c}`);
	const log = (/** @type {string} */ f) => {
		try {
			return readFileSync(join(REPO, r.logDir, f), 'utf8');
		} catch {
			return '';
		}
	};
	const offending = r ? scanKernelLogs([log('dmesg.log'),
		log('console.log')]) : [];
	const missing = CASES[c].expect.filter((re) =>
		!offending.some((l) => re.test(l)));
	const ok = r?.status === 'failed' && !missing.length;
	bad += ok ? 0 : 1;
	console.log(`${ok ? 'caught' : 'MISSED'} ${c.padEnd(13)} ${r?.reason ?? 'no result'}`);
	for (const re of CASES[c].expect) {
		const line = offending.find((l) => re.test(l));
		console.log(`   ${line ? `| ${line.trim()}` : `no line matches ${re}`}`);
	}
}
rmSync(dir, { recursive: true, force: true });
process.exitCode = bad ? 1 : 0;
