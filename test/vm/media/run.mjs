#!/usr/bin/env node
// The recovery medium's boot test (issue 21): builds the medium with
// `snapkeep media create` (cached by its inputs under the test cache, so
// only a machine's first run pays for debootstrap), boots the ISO in qemu
// (TCG) from a CD drive under SeaBIOS and under OVMF (UEFI), waits for the
// root shell on the serial console and runs `snapkeep --version` there:
// the real CLI on the medium's node, native addon loaded.
//
//   flock /tmp/snapkeep-vm.lock node test/vm/media/run.mjs [--firmware seabios|ovmf]...
//
// Needs root (the build runs debootstrap and chroot), out/js built
// (npm run build:electron) and the native addon. Logs:
// out/vm/media/<run>/<firmware>/console.log and qemu.log; results with the
// figures (medium size, build and boot-to-shell times):
// out/results/media.json. Exit status 1 when anything failed.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from '../../../scripts/debug-kernel.mjs';
import { HarnessError } from '../lib/errors.mjs';
import { checkQemu, installCleanup, runQemu } from '../lib/qemu.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..', '..');
const CLI = join(REPO, 'out', 'js', 'electron', 'cli', 'snapkeep.js');
const RESULTS_FILE = join(REPO, 'out', 'results', 'media.json');
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const FIRMWARES = ['seabios', 'ovmf'];
/** A boot under TCG on a loaded two-core machine: firmware, GRUB, kernel, systemd. */
const BOOT_LIMIT_MS = 15 * 60 * 1000;
const PROMPT = /root@snapkeep-recovery:[^\n]*# /;

/** @param {string[]} argv */
function parseArgs(argv) {
	/** @type {string[]} */
	const firmwares = [];
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--firmware' && FIRMWARES.includes(argv[i + 1] ?? '')) {
			firmwares.push(/** @type {string} */ (argv[++i]));
		} else {
			throw new HarnessError(`usage: run.mjs [--firmware ${FIRMWARES.join('|')}]... (got ${a})`);
		}
	}
	return { firmwares: firmwares.length ? firmwares : FIRMWARES };
}

/** The medium, through the CLI as a user makes it. */
function buildMedium() {
	const r = spawnSync(process.execPath, [CLI, 'media', 'create', '--cache', join(cacheRoot(), 'media'), '--json'],
		{ encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
	if (r.status !== 0)
		throw new HarnessError(`snapkeep media create failed (exit ${r.status}): ${r.stdout}`);
	return JSON.parse(r.stdout);
}

/**
 * The serial console as a stream we can wait on and type into.
 * @param {string} socket
 * @param {string} logFile
 */
async function openConsole(socket, logFile) {
	let text = '';
	/** @type {import('node:net').Socket|undefined} */
	let s;
	for (let i = 0; i < 100 && !s; i++) {
		s = await new Promise((resolve) => {
			const c = connect(socket);
			c.once('connect', () => resolve(c));
			c.once('error', () => resolve(undefined));
		});
		if (!s)
			await new Promise((r) => setTimeout(r, 100));
	}
	if (!s)
		throw new Error(`cannot connect to qemu's serial console at ${socket}`);
	const sock = s;
	/** @type {(() => void)[]} */
	const waiters = [];
	sock.on('data', (d) => {
		text += d.toString('latin1');
		writeFileSync(logFile, d, { flag: 'a' });
		for (const w of waiters.splice(0))
			w();
	});
	return {
		/** Resolves with the match found after `from`, or throws at the limit. */
		async waitFor(/** @type {RegExp} */ re, /** @type {number} */ from, /** @type {number} */ ms) {
			const until = Date.now() + ms;
			for (;;) {
				const m = re.exec(text.slice(from));
				if (m)
					return { match: m, end: from + m.index + m[0].length };
				if (Date.now() > until)
					throw new Error(`no ${re} on the console within ${ms / 1000} s (see ${logFile})`);
				await new Promise((r) => {
					waiters.push(() => r(undefined));
					setTimeout(r, 1000);
				});
			}
		},
		type(/** @type {string} */ line) {
			sock.write(`${line}\r`);
		},
		get length() {
			return text.length;
		},
		/** What the console printed from `from` to `to`. */
		since(/** @type {number} */ from, /** @type {number} */ to = text.length) {
			return text.slice(from, to);
		},
		close() {
			sock.destroy();
		},
	};
}

/**
 * Boots the ISO once and runs the CLI at the shell.
 * @param {string} iso
 * @param {string} firmware
 * @param {string} dir
 * @param {string} version what the host's CLI prints
 */
async function bootOnce(iso, firmware, dir, version) {
	mkdirSync(dir, { recursive: true });
	const socket = join(dir, 'serial.sock');
	const args = ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
		'-accel', 'tcg', '-cpu', 'max', '-m', '1024',
		'-machine', firmware === 'ovmf' ? 'q35' : 'pc',
		'-drive', `file=${iso},media=cdrom,readonly=on,format=raw,if=ide`,
		'-chardev', `socket,id=ser0,path=${socket},server=on,wait=off`,
		'-serial', 'chardev:ser0'];
	if (firmware === 'ovmf') {
		const vars = join(dir, 'OVMF_VARS.fd');
		copyFileSync(OVMF_VARS, vars);
		args.push('-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
			'-drive', `if=pflash,format=raw,file=${vars}`);
	}
	const stop = new AbortController();
	const t0 = Date.now();
	const qemu = runQemu(['-name', `media-${firmware}`, ...args],
		{ logFile: join(dir, 'qemu.log'), timeoutMs: BOOT_LIMIT_MS + 120_000, signal: stop.signal });
	const exited = qemu.then((r) => {
		throw new Error(`qemu exited before the test ended (code ${r.code}, signal ${r.signal}; see ${join(dir, 'qemu.log')})`);
	});
	const con = await openConsole(socket, join(dir, 'console.log'));
	try {
		const grub = await Promise.race([con.waitFor(/Snapkeep recovery/, 0, BOOT_LIMIT_MS), exited]);
		const grubSeconds = (Date.now() - t0) / 1000;
		await Promise.race([con.waitFor(PROMPT, grub.end, BOOT_LIMIT_MS), exited]);
		const shellSeconds = (Date.now() - t0) / 1000;
		const from = con.length;
		con.type('snapkeep --version; echo SK-RC=$?');
		const done = await Promise.race([con.waitFor(/SK-RC=(\d+)\r?\n/, from, 120_000), exited]);
		const output = con.since(from, done.end);
		if (done.match[1] !== '0' || !output.includes(version))
			throw new Error(`snapkeep --version on the medium: exit ${done.match[1]}, wanted ${version} in: ${JSON.stringify(output)}`);
		// What the medium carries: the CLI's own node, and no Snapkeep
		// configuration of this computer (no repository secrets).
		const from2 = con.length;
		con.type('node --version; ls /etc/snapkeep /var/lib/snapkeep 2>&1 | head -3; echo SK-DONE');
		// The command's echo holds SK-DONE too, before its newline: wait for the line printed alone.
		const check = await Promise.race([con.waitFor(/\nSK-DONE\r?\n/, from2, 60_000), exited]);
		const after = con.since(from2, check.end);
		if (!after.includes(process.version))
			throw new Error(`node --version on the medium did not print ${process.version}: ${JSON.stringify(after)}`);
		if (!/\/etc\/snapkeep[^\n]*No such file/.test(after))
			throw new Error(`the medium has a /etc/snapkeep (it must carry no configuration yet): ${JSON.stringify(after)}`);
		return { grubSeconds, shellSeconds };
	} finally {
		con.close();
		stop.abort();
		await qemu.catch(() => undefined);
	}
}

async function main() {
	installCleanup((e) => console.error(e instanceof HarnessError ? `media: ${e.message}` : e));
	const o = parseArgs(process.argv.slice(2));
	checkQemu();
	if (process.getuid?.() !== 0)
		throw new HarnessError('the media test needs root (snapkeep media create runs debootstrap and chroot)');
	const version = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' }).stdout.trim();
	if (!version)
		throw new HarnessError(`${CLI} does not run: npm run build:electron`);
	const t0 = Date.now();
	const medium = buildMedium();
	const buildSeconds = (Date.now() - t0) / 1000;
	console.log(`media: ${medium.iso} ${(medium.bytes / 1024 ** 2).toFixed(1)} MiB, ` +
		`${medium.cached ? 'cached' : 'built'} in ${buildSeconds.toFixed(1)} s`);
	const runDir = join(REPO, 'out', 'vm', 'media', new Date().toISOString().replace(/[:.]/g, '-'));
	const boots = [];
	for (const fw of o.firmwares) {
		const dir = join(runDir, fw);
		try {
			const r = await bootOnce(medium.iso, fw, dir, version);
			boots.push({ firmware: fw, status: 'passed', ...r });
			console.log(`PASS ${fw}: GRUB at ${r.grubSeconds.toFixed(0)} s, shell at ${r.shellSeconds.toFixed(0)} s, snapkeep --version ran`);
		} catch (e) {
			boots.push({ firmware: fw, status: 'failed', error: String(e instanceof Error ? e.message : e) });
			console.log(`FAIL ${fw}: ${e instanceof Error ? e.message : e}`);
		}
	}
	const failed = boots.filter((b) => b.status === 'failed').length;
	mkdirSync(dirname(RESULTS_FILE), { recursive: true });
	writeFileSync(RESULTS_FILE, `${JSON.stringify({ medium, buildSeconds, boots, logs: relative(REPO, runDir) }, null, 1)}\n`);
	console.log(`media: ${boots.length - failed} passed, ${failed} failed; logs in ${relative(process.cwd(), runDir)}/`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.error(e instanceof HarnessError ? `media: ${e.message}` : e);
	process.exit(1);
});
