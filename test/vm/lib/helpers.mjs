// Small C programs the guest tests run (test/vm/helpers/*.c), compiled
// static on the host into out/vm/helpers/ and rebuilt when the source,
// a header next to it or the uapi header changes. Tests find them through
// $SNAPKEEP_HELPERS.
//
// A `// helper-cflags: ...` line in a source adds compiler flags (e.g. a
// freestanding -m32 build that exercises the module's compat_ioctl).

import { spawnSync } from 'node:child_process';
import {
	existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync,
	statSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { HarnessError } from './errors.mjs';

/**
 * @param {string} repo
 * @param {string} outDir
 * @returns {string} outDir
 */
export function buildHelpers(repo, outDir) {
	const srcDir = join(repo, 'test', 'vm', 'helpers');
	const uapi = join(repo, 'kmod', 'include', 'uapi');
	mkdirSync(outDir, { recursive: true });
	// The uapi header and the helpers' own headers: a change to either
	// rebuilds every helper.
	const headerTime = Math.max(statSync(join(uapi, 'snapkeep.h')).mtimeMs,
		...readdirSync(srcDir).filter((n) => n.endsWith('.h'))
			.map((n) => statSync(join(srcDir, n)).mtimeMs));
	for (const f of readdirSync(srcDir).filter((n) => n.endsWith('.c'))) {
		const src = join(srcDir, f);
		const out = join(outDir, basename(f, '.c'));
		if (existsSync(out) &&
		    statSync(out).mtimeMs > Math.max(statSync(src).mtimeMs,
			headerTime))
			continue;
		const extra = /^\/\/ helper-cflags:(.*)$/m
			.exec(readFileSync(src, 'utf8'))?.[1].trim().split(/\s+/) ?? [];
		if (extra.includes('-m32')) {
			// The i386 include dir does not exist without multilib;
			// the kernel uapi headers in the native one serve both.
			const ma = spawnSync('gcc', ['-print-multiarch'],
				{ encoding: 'utf8' }).stdout?.trim();
			if (ma)
				extra.push('-isystem', `/usr/include/${ma}`);
		}
		// Through a temporary name: a concurrent run never sees half a file.
		const tmp = `${out}.${process.pid}.tmp`;
		const args = ['-O2', '-Wall', '-Wextra', '-Werror', '-static',
			`-I${uapi}`, ...extra, src, '-o', tmp];
		const r = spawnSync('gcc', args, { encoding: 'utf8' });
		if (r.error) {
			throw new HarnessError('gcc not found: ' +
				'apt-get install build-essential');
		}
		if (r.status !== 0) {
			rmSync(tmp, { force: true });
			throw new HarnessError(`building helper ${f} failed ` +
				`(gcc ${args.join(' ')}):\n${r.stderr}`);
		}
		renameSync(tmp, out);
	}
	return outDir;
}
