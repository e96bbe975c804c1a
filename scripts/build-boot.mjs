#!/usr/bin/env node
// Build snapkeep-boot, the boot-time tool of kmod/boot/ (attach persistent
// change maps from the initramfs, seal them at shutdown; no node there).
//
//   node scripts/build-boot.mjs [--asan]      (npm run build:boot)
//
// out/boot/snapkeep-boot, or with --asan out/boot/snapkeep-boot-asan
// (AddressSanitizer + UndefinedBehaviorSanitizer, for the hostile-config
// tests). Plain gcc, the C library only: a second or so.
//
// Exported for tests: buildBootTool({asan}) -> path of the binary.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BOOT_SRC = join(REPO, 'kmod', 'boot');
export const BOOT_OUT = join(REPO, 'out', 'boot');

/**
 * @param {{asan?: boolean}} [o]
 * @returns {string} absolute path of the binary
 */
export function buildBootTool(o = {}) {
	mkdirSync(BOOT_OUT, { recursive: true });
	const out = join(BOOT_OUT, o.asan ? 'snapkeep-boot-asan' : 'snapkeep-boot');
	const sources = readdirSync(BOOT_SRC).filter((f) => f.endsWith('.c'))
		.sort().map((f) => join(BOOT_SRC, f));
	const args = ['-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Wshadow',
		'-Wformat=2', '-Werror', '-D_FORTIFY_SOURCE=2',
		// The ABI header of the module, as the addon includes it.
		`-I${join(REPO, 'kmod', 'include', 'uapi')}`,
		...(o.asan ? ['-fsanitize=address,undefined',
			'-fno-sanitize-recover=all', '-fno-omit-frame-pointer'] : []),
		...sources, '-o', out];
	const r = spawnSync('gcc', args, { encoding: 'utf8' });
	if (r.error)
		throw new Error(`build-boot: cannot run gcc: ${r.error.message}`);
	if (r.status !== 0)
		throw new Error(`build-boot: gcc failed:\n${r.stdout}${r.stderr}`);
	return out;
}

if (process.argv[1] && resolve(process.argv[1]) ===
    fileURLToPath(import.meta.url)) {
	try {
		const out = buildBootTool({ asan: process.argv.includes('--asan') });
		console.log(`snapkeep-boot: ${relative(process.cwd(), out) || out}`);
	} catch (e) {
		console.error(e instanceof Error ? e.message : e);
		process.exit(1);
	}
}
