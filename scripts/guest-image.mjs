#!/usr/bin/env node
// The system disk of the full-boot guests (test/vm/fullboot): Debian
// bookworm made with debootstrap from the mirror apt uses, booted by qemu
// (TCG) through its own BIOS GRUB, kernel and initramfs-tools initrd, so
// the real boot path runs (hooks, update-initramfs, systemctl reboot).
//
//   node scripts/guest-image.mjs            build unless cached, print it
//   node scripts/guest-image.mjs --check    only say whether it is cached
//
// Built once per machine, in the test cache (scripts/debug-kernel.mjs
// cacheRoot()), keyed by the hash of everything that shapes it (this
// script, the guest files in test/vm/fullboot/guest/, the package list,
// the kernel versions apt offers), under a lock so two runs never build
// it twice:
//
//   <cache>/guest-images/bookworm-<key>/
//     base.qcow2   the disk, read-only; each boot writes a qcow2 overlay
//     build.log    debootstrap's, apt's and the first boot's output
//     image.json   written last: the entry is complete (kernels, entries)
//
// In the image: Debian's 6.1 (linux-image-amd64) and 6.12
// (linux-image-6.12-amd64, bookworm-security) kernels, GRUB on the MBR
// (no timeout, serial terminal), the console on ttyS0 with root logged in,
// and the command agent on a virtio-serial port
// (test/vm/fullboot/guest/snapkeep-agent). GRUB's default entry comes from
// qemu's SMBIOS system version when set (guest/custom.cfg), so the host
// picks the kernel of a boot; grub-reboot in the guest picks the next one.

import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
	chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync,
	readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync,
	writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from './debug-kernel.mjs';
import { withLock } from './lock-file.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const GUEST_FILES = join(HERE, '..', 'test', 'vm', 'fullboot', 'guest');
export const MIRROR = 'http://deb.debian.org/debian';
export const SECURITY_MIRROR = 'http://deb.debian.org/debian-security';
export const SUITE = 'bookworm';
/** Bump when the build steps change what is built. */
const FORMAT = 4;
/** Disk size: room for two kernels, their initrds and test files. */
const DISK_BYTES = 4 * 1024 ** 3;
/** The root partition starts at 1 MiB, GRUB's core image before it. */
const PART_OFFSET = 1024 * 1024;
/** How long a second process waits for a build already under way. */
const BUILD_WAIT_MS = 40 * 60 * 1000;
/** Entries kept (branches with different inputs share a machine). */
const KEEP = 2;

/** The kernels, by the names the VM harness uses (scripts/kernels.mjs). */
export const KERNEL_PACKAGES = {
	'6.1': 'linux-image-amd64',
	'6.12': 'linux-image-6.12-amd64',
};

/** In the debootstrap stage: what apt needs to run in the chroot. */
const BASE_PACKAGES = ['systemd', 'systemd-sysv', 'udev', 'dbus', 'kmod',
	'procps', 'util-linux'];
/** Installed with apt afterwards, from bookworm and bookworm-security. */
export const IMAGE_PACKAGES = ['initramfs-tools', 'zstd', 'e2fsprogs',
	'xfsprogs', 'lvm2', 'cryptsetup', 'dmsetup', 'fdisk', 'less',
	// What the app's .deb depends on at run time (build/electron-builder.yml;
	// not dkms and compilers: the host builds the module), so a test can
	// install and run the helper in the guest (node comes from the host).
	'libzstd1', 'libsodium23', 'libssl3', 'libext2fs2', 'libcom-err2',
	'nbd-client',
	...Object.values(KERNEL_PACKAGES)];
/** Last, so its kernel hook finds the kernels and no grub.cfg to update. */
const BOOTLOADER = 'grub-pc';

/** Anything the user fixes by installing a package or freeing space. */
export class GuestImageError extends Error {
	name = 'GuestImageError';
}

/**
 * @typedef {object} GuestImage
 * @property {string} dir
 * @property {string} base     the read-only qcow2 disk
 * @property {string} rootUuid the root file system's UUID
 * @property {Record<string, {release: string, entry: string}>} kernels
 *   by name ('6.1', '6.12'): `uname -r` and the GRUB entry id booting it
 * @property {number} buildSeconds
 */

/**
 * The candidate version apt offers for a package (host's lists: the same
 * mirror the image is built from).
 * @param {string} pkg
 */
function candidate(pkg) {
	const r = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
	const m = /Candidate:\s*(\S+)/.exec(r.stdout ?? '');
	if (!m || m[1] === '(none)') {
		throw new GuestImageError(`apt knows no ${pkg}: run apt-get update ` +
			'(bookworm and bookworm-security in the sources)');
	}
	return m[1];
}

/** Everything that shapes the image, and its hash. */
export function imageInputs() {
	const h = createHash('sha256');
	const versions = Object.fromEntries(Object.values(KERNEL_PACKAGES)
		.map((p) => [p, candidate(p)]));
	h.update(JSON.stringify({ FORMAT, SUITE, MIRROR, BASE_PACKAGES,
		IMAGE_PACKAGES, BOOTLOADER, DISK_BYTES, versions }));
	h.update(readFileSync(fileURLToPath(import.meta.url)));
	for (const f of readdirSync(GUEST_FILES).sort()) {
		h.update(f);
		h.update(readFileSync(join(GUEST_FILES, f)));
	}
	return { key: h.digest('hex').slice(0, 16), versions };
}

/**
 * The cached image, built first when missing (unless build is false).
 * @param {{log?: (s: string) => void, build?: boolean}} [o]
 * @returns {GuestImage}
 */
export function ensureGuestImage(o = {}) {
	const log = o.log ?? ((s) => console.log(s));
	const inputs = imageInputs();
	const images = join(cacheRoot(), 'guest-images');
	const dir = join(images, `${SUITE}-${inputs.key}`);
	const found = readEntry(dir);
	if (found)
		return found;
	if (o.build === false) {
		throw new GuestImageError('the full-boot guest image is not built ' +
			'yet: node scripts/guest-image.mjs');
	}
	for (const tool of ['debootstrap', 'qemu-img', 'sfdisk', 'mke2fs']) {
		if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
			throw new GuestImageError(`${tool} not found: apt-get install ` +
				'debootstrap qemu-utils fdisk e2fsprogs');
		}
	}
	if (process.getuid?.() !== 0)
		throw new GuestImageError('building the guest image needs root (debootstrap, chroot)');
	mkdirSync(images, { recursive: true });
	const image = withLock(`${dir}.lock`, () => readEntry(dir) ??
		build(dir, inputs, log), BUILD_WAIT_MS);
	prune(images, dir);
	return image;
}

/**
 * A complete entry, or undefined; marks it used for pruning.
 * @param {string} dir
 * @returns {GuestImage|undefined}
 */
function readEntry(dir) {
	let meta;
	try {
		meta = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8'));
	} catch {
		return undefined;
	}
	const now = new Date();
	try {
		utimesSync(join(dir, 'image.json'), now, now);
	} catch {
		// A read-only cache still serves.
	}
	return { ...meta, dir, base: join(dir, 'base.qcow2') };
}

/** Keep the KEEP most recently used entries besides `current`. */
function prune(/** @type {string} */ images, /** @type {string} */ current) {
	const entries = readdirSync(images)
		.filter((n) => !n.endsWith('.lock'))
		.map((n) => join(images, n))
		.filter((d) => d !== current && existsSync(join(d, 'image.json')))
		.map((d) => ({ d, t: statSync(join(d, 'image.json')).mtimeMs }))
		.sort((a, b) => b.t - a.t);
	for (const { d } of entries.slice(KEEP - 1))
		rmSync(d, { recursive: true, force: true });
}

/**
 * Run a build step, its output appended to the log; on failure, the log's
 * tail in the error.
 * @param {string} logFile
 * @param {string} cmd
 * @param {string[]} args
 * @param {{env?: Record<string, string>, input?: string}} [o]
 */
function step(logFile, cmd, args, o = {}) {
	writeFileSync(logFile, `\n$ ${cmd} ${args.join(' ')}\n`, { flag: 'a' });
	const fd = openSync(logFile, 'a');
	let r;
	try {
		r = spawnSync(cmd, args, {
			stdio: [o.input === undefined ? 'ignore' : 'pipe', fd, fd],
			input: o.input,
			env: { ...process.env, LC_ALL: 'C', ...o.env },
		});
	} finally {
		closeSync(fd);
	}
	if (r.error || r.status !== 0) {
		const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n')
			.slice(-25).join('\n');
		throw new GuestImageError(`guest image: ${cmd} ${args.join(' ')} ` +
			`failed (${r.error?.message ?? `exit ${r.status}`}); log: ` +
			`${logFile}\n${tail}`);
	}
}

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive',
	PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

/**
 * Build the entry from scratch (under the lock).
 * @param {string} dir
 * @param {ReturnType<typeof imageInputs>} inputs
 * @param {(s: string) => void} log
 * @returns {GuestImage}
 */
function build(dir, inputs, log) {
	const t0 = Date.now();
	rmSync(dir, { recursive: true, force: true });
	mkdirSync(dir, { recursive: true });
	const logFile = join(dir, 'build.log');
	const root = join(dir, 'rootfs');
	log(`guest image: building Debian ${SUITE} into ${dir} (once per ` +
		'machine, about 10 min; log: build.log there)');
	const rootUuid = randomUUID();
	const mounts = [];
	try {
		step(logFile, 'nice', ['-n', '10', 'debootstrap', '--variant=minbase',
			`--include=${BASE_PACKAGES.join(',')}`, SUITE, root, MIRROR]);
		configureApt(root);
		// Before the kernels: update-initramfs puts fsck.ext4 into the
		// initrd only when fstab asks for a root check.
		writeFileSync(join(root, 'etc/fstab'),
			`UUID=${rootUuid} / ext4 errors=remount-ro 0 1\n`);
		for (const [what, where, type] of [['proc', 'proc', 'proc'],
			['sysfs', 'sys', 'sysfs'], ['/dev', 'dev', 'bind'],
			['devpts', 'dev/pts', 'devpts']]) {
			const target = join(root, where);
			step(logFile, 'mount', type === 'bind' ? ['--bind', what, target] :
				['-t', type, what, target]);
			mounts.unshift(target);
		}
		const chroot = (/** @type {string[]} */ args) => step(logFile, 'nice',
			['-n', '10', 'chroot', root, ...args], { env: APT_ENV });
		chroot(['apt-get', 'update', '-q']);
		chroot(['apt-get', 'install', '-y', '-q', '--no-install-recommends',
			...IMAGE_PACKAGES]);
		chroot(['apt-get', 'install', '-y', '-q', '--no-install-recommends',
			BOOTLOADER]);
		// nbd-client's two initramfs hooks (nbd, nbd-client) copy every
		// network driver into each initrd (for an nbd root, which no guest
		// has): most of a 690 s update-initramfs under TCG
		// (docs/testing-fullboot.md).
		// Diverted out of the hooks folder (initramfs-tools runs every
		// executable there, dotted names too); the package stays, the
		// app's .deb needs it.
		for (const name of ['nbd', 'nbd-client']) {
			const hook = `usr/share/initramfs-tools/hooks/${name}`;
			const away = `usr/share/initramfs-tools/${name}-hook.snapkeep-off`;
			chroot(['dpkg-divert', '--local', '--rename', '--divert', `/${away}`,
				'--add', `/${hook}`]);
			if (existsSync(join(root, hook)) || !existsSync(join(root, away)))
				throw new GuestImageError(`dpkg-divert left /${hook} in place`);
		}
		chroot(['apt-get', 'clean']);
		for (const m of mounts.splice(0))
			step(logFile, 'umount', [m]);
	} finally {
		for (const m of mounts)
			spawnSync('umount', ['-l', m]);
	}
	const kernels = installedKernels(root);
	configureSystem(root);
	log(`guest image: debootstrap and apt done (${secs(t0)} s), making ` +
		'the disk');
	const raw = join(dir, 'disk.raw');
	makeDisk(logFile, root, raw, rootUuid);
	rmSync(root, { recursive: true, force: true });
	log(`guest image: first boot installs GRUB (${secs(t0)} s)`);
	const entries = firstBoot(logFile, raw, rootUuid, kernels);
	step(logFile, 'qemu-img', ['convert', '-O', 'qcow2', raw,
		join(dir, 'base.qcow2')]);
	rmSync(raw);
	chmodSync(join(dir, 'base.qcow2'), 0o444);
	const meta = {
		suite: SUITE,
		key: inputs.key,
		packageVersions: inputs.versions,
		rootUuid,
		kernels: Object.fromEntries(Object.entries(kernels).map(([n, rel]) =>
			[n, { release: rel, entry: entries[rel] }])),
		buildSeconds: Math.round((Date.now() - t0) / 1000),
	};
	// Written last: its presence means the entry is complete.
	writeFileSync(join(dir, 'image.json.tmp'), `${JSON.stringify(meta, null, 1)}\n`);
	renameSync(join(dir, 'image.json.tmp'), join(dir, 'image.json'));
	log(`guest image: ready in ${meta.buildSeconds} s`);
	return { ...meta, dir, base: join(dir, 'base.qcow2') };
}

/** @param {number} t0 */
const secs = (t0) => Math.round((Date.now() - t0) / 1000);

/** Sources for bookworm, its updates and security; no recommends. */
function configureApt(/** @type {string} */ root) {
	writeFileSync(join(root, 'etc/apt/sources.list'),
		`deb ${MIRROR} ${SUITE} main\n` +
		`deb ${MIRROR} ${SUITE}-updates main\n` +
		`deb ${SECURITY_MIRROR} ${SUITE}-security main\n`);
	writeFileSync(join(root, 'etc/apt/apt.conf.d/90snapkeep'),
		'APT::Install-Recommends "false";\nAcquire::Languages "none";\n');
	// No service starts inside the chroot.
	writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n');
	chmodSync(join(root, 'usr/sbin/policy-rc.d'), 0o755);
}

/**
 * The installed kernels by harness name: release (`uname -r`) of each.
 * @param {string} root
 * @returns {Record<string, string>}
 */
function installedKernels(root) {
	const releases = readdirSync(join(root, 'boot'))
		.filter((n) => n.startsWith('vmlinuz-'))
		.map((n) => n.slice('vmlinuz-'.length));
	/** @type {Record<string, string>} */
	const out = {};
	for (const name of Object.keys(KERNEL_PACKAGES)) {
		const rel = releases.find((r) => r.startsWith(`${name}.`));
		if (!rel)
			throw new GuestImageError(`guest image: no ${name} kernel in /boot (${releases.join(', ')})`);
		out[name] = rel;
	}
	return out;
}

/**
 * Host name, fstab, GRUB defaults, serial console, the agent; timers and
 * units that only cost boot time under TCG are masked.
 * @param {string} root
 */
function configureSystem(root) {
	rmSync(join(root, 'usr/sbin/policy-rc.d'));
	writeFileSync(join(root, 'etc/hostname'), 'skguest\n');
	writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n127.0.1.1 skguest\n');
	// One machine id for every boot of every overlay: an empty one would
	// make each boot a first boot (transient id, first-boot units).
	writeFileSync(join(root, 'etc/machine-id'),
		`${randomUUID().replace(/-/g, '')}\n`);
	writeFileSync(join(root, 'etc/default/grub'), [
		'GRUB_DEFAULT=0',
		'GRUB_TIMEOUT=0',
		'GRUB_TIMEOUT_STYLE=hidden',
		'GRUB_DISTRIBUTOR=Debian',
		// mitigations=off: TCG pays dearly for them; the guest only runs
		// tests.
		'GRUB_CMDLINE_LINUX_DEFAULT=""',
		'GRUB_CMDLINE_LINUX="console=ttyS0,115200 mitigations=off ' +
			'log_buf_len=4M"',
		'GRUB_TERMINAL=serial',
		'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"',
		'GRUB_DISABLE_OS_PROBER=true',
		'GRUB_DISABLE_RECOVERY=true',
		'',
	].join('\n'));
	// Initrds rebuilt in the guest hold the modules its disks need, not
	// most of them: update-initramfs -u takes minutes less under TCG. The
	// ones made in the chroot keep MODULES=most (the chroot's devices are
	// the host's).
	const conf = join(root, 'etc/initramfs-tools/initramfs.conf');
	writeFileSync(conf, readFileSync(conf, 'utf8')
		.replace(/^MODULES=.*$/m, 'MODULES=dep'));
	mkdirSync(join(root, 'boot/grub'), { recursive: true });
	copyFileSync(join(GUEST_FILES, 'custom.cfg'), join(root, 'boot/grub/custom.cfg'));
	for (const f of ['snapkeep-agent', 'snapkeep-firstboot']) {
		copyFileSync(join(GUEST_FILES, f), join(root, 'usr/local/sbin', f));
		chmodSync(join(root, 'usr/local/sbin', f), 0o755);
	}
	copyFileSync(join(GUEST_FILES, 'snapkeep-agent.service'),
		join(root, 'etc/systemd/system/snapkeep-agent.service'));
	const wants = join(root, 'etc/systemd/system/sysinit.target.wants');
	mkdirSync(wants, { recursive: true });
	spawnSync('ln', ['-sf', '/etc/systemd/system/snapkeep-agent.service',
		join(wants, 'snapkeep-agent.service')]);
	// Root logged in on the serial console: a person reading the log of
	// a failed run can see a prompt; tests use the agent.
	const getty = join(root, 'etc/systemd/system/serial-getty@ttyS0.service.d');
	mkdirSync(getty, { recursive: true });
	writeFileSync(join(getty, 'autologin.conf'), '[Service]\nExecStart=\n' +
		'ExecStart=-/sbin/agetty --autologin root --keep-baud ' +
		'115200,57600,38400,9600 %I $TERM\n');
	spawnSync('passwd', ['--root', root, '-d', 'root']);
	for (const unit of ['apt-daily.timer', 'apt-daily-upgrade.timer',
		'e2scrub_all.timer', 'e2scrub_reap.service', 'fstrim.timer',
		'getty@tty1.service', 'lvm2-monitor.service', 'man-db.timer',
		'systemd-networkd-wait-online.service']) {
		spawnSync('ln', ['-sf', '/dev/null',
			join(root, 'etc/systemd/system', unit)]);
	}
	rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
	mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
}

/**
 * A raw disk: MBR with one bootable Linux partition at 1 MiB holding an
 * ext4 file system made from the root directory (mke2fs -d: no loop
 * device, no mount).
 * @param {string} logFile
 * @param {string} root
 * @param {string} raw
 * @param {string} rootUuid
 */
function makeDisk(logFile, root, raw, rootUuid) {
	rmSync(raw, { force: true });
	closeSync(openSync(raw, 'w'));
	step(logFile, 'truncate', ['-s', String(DISK_BYTES), raw]);
	step(logFile, 'sfdisk', ['--quiet', raw],
		{ input: `label: dos\nstart=${PART_OFFSET / 512}, type=83, bootable\n` });
	step(logFile, 'nice', ['-n', '10', 'mke2fs', '-q', '-F', '-t', 'ext4',
		'-U', rootUuid, '-L', 'skroot', '-E', `offset=${PART_OFFSET}`,
		'-d', root, raw, `${(DISK_BYTES - PART_OFFSET) / 1024}k`]);
}

/**
 * Boot the disk once with its own 6.1 kernel and initrd given to qemu,
 * PID 1 being guest/snapkeep-firstboot: it installs GRUB on the MBR and
 * runs update-grub in the guest (grub-probe there sees the real disk),
 * then powers off. Returns the GRUB entry id of each kernel release.
 * @param {string} logFile
 * @param {string} raw
 * @param {string} rootUuid
 * @param {Record<string, string>} kernels
 * @returns {Record<string, string>}
 */
function firstBoot(logFile, raw, rootUuid, kernels) {
	const rel = kernels['6.1'];
	const dir = dirname(raw);
	// The kernel and initrd come out of the file system image: debugfs
	// reads it at the partition's offset, no mount needed.
	for (const [from, to] of [[`/boot/vmlinuz-${rel}`, 'vmlinuz'],
		[`/boot/initrd.img-${rel}`, 'initrd']]) {
		step(logFile, 'debugfs', ['-R', `dump ${from} ${join(dir, to)}`,
			`${raw}?offset=${PART_OFFSET}`]);
	}
	const consoleLog = join(dir, 'firstboot.log');
	const r = spawnSync('nice', ['-n', '10', 'qemu-system-x86_64',
		'-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
		'-accel', 'tcg', '-cpu', 'max', '-m', '1024',
		'-kernel', join(dir, 'vmlinuz'), '-initrd', join(dir, 'initrd'),
		'-append', `root=UUID=${rootUuid} ro console=ttyS0 ` +
			'init=/usr/local/sbin/snapkeep-firstboot mitigations=off panic=-1',
		'-drive', `file=${raw},format=raw,if=virtio,cache=writeback`,
		'-serial', `file:${consoleLog}`],
	{ stdio: 'ignore', timeout: 15 * 60 * 1000 });
	rmSync(join(dir, 'vmlinuz'));
	rmSync(join(dir, 'initrd'));
	const out = existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '';
	writeFileSync(logFile, `\n$ first boot (qemu exit ${r.status})\n${out}`,
		{ flag: 'a' });
	if (!out.includes('SNAPKEEP-FIRSTBOOT-OK')) {
		throw new GuestImageError('guest image: the first boot did not ' +
			`install GRUB (qemu exit ${r.status}); log: ${logFile}\n` +
			out.trimEnd().split('\n').slice(-25).join('\n'));
	}
	// Debian's entries sit in the "Advanced options" submenu; an entry
	// there is named "<submenu id>><entry id>".
	const sub = /SUBMENU .*'(gnulinux-advanced-[^']+)'/.exec(out)?.[1];
	/** @type {Record<string, string>} */
	const entries = {};
	for (const release of Object.values(kernels)) {
		const id = `gnulinux-${release}-advanced-${rootUuid}`;
		if (!sub || !out.includes(`ENTRY menuentry_id_option '${id}'`)) {
			throw new GuestImageError(`guest image: grub.cfg has no entry ` +
				`for ${release}; log: ${logFile}`);
		}
		entries[release] = `${sub}>${id}`;
	}
	return entries;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	try {
		if (process.argv.includes('--check')) {
			const img = ensureGuestImage({ build: false });
			console.log(img.base);
		} else {
			const img = ensureGuestImage();
			console.log(JSON.stringify(img, null, 1));
		}
	} catch (e) {
		console.error(e instanceof GuestImageError ? e.message : e);
		process.exit(1);
	}
}
