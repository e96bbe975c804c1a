// The persistent change map across a clean reboot and a power cut, on the
// real boot path (issue 14, boot integration: kmod/boot/). A data disk's
// ext4 (in fstab) is tracked with its store as raw sectors of a written,
// immutable file on the root (snapkeep-boot mkstore); the module, the tool
// and the initramfs-tools hook, local-top script and systemd-shutdown hook
// are installed as a package would, and update-initramfs puts them in the
// initrd.
//
//  (a) clean `systemctl reboot`: the seal at shutdown and the attach in
//      local-top leave a kernel-log line "map continued, sealed" that comes
//      before the root's and the data disk's first mount; same generation
//      and number; a take marks every block of a file written and synced
//      before the reboot, and far from every block.
//  (b) power cut after synced writes: "map continued, unclean" (write
//      intent covered it, flagged unverified: no seal, so no stamp to check
//      for writes while the module was absent), same generation and
//      number, and every block written before the cut is marked with the
//      number it was written under.
//  (c) a boot with the kernel parameter snapkeep_boot=off (a one-time GRUB
//      entry), which mounts the data disk and writes a file untracked; the
//      next boot's attach finds the stamp of the seal before it outdated:
//      "NEW generation ..., reason absent (ext4 mount count ...)".

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildForGuest, installBootIntegration } from '../lib/install.mjs';

export const kernels = ['6.1', '6.12'];
export const timeout = 1500;

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const DATA = '/dev/disk/by-id/virtio-data0';
const STORE = '/var/lib/snapkeep/data0.store';
const ATTACHED = 1;
const CONTINUED = 2;
const UNCLEAN = 4;
const INTENT = 8;
const UNVERIFIED = 32;
const REASON_ABSENT = 8;

/** skmap (test/vm/fullboot/helpers/skmap.c) for the guest: no node there. */
function buildSkmap(/** @type {string} */ dir) {
	const out = join(dir, 'skmap');
	const r = spawnSync('gcc', ['-O2', '-Wall', '-Werror',
		`-I${join(REPO, 'kmod', 'include', 'uapi')}`,
		join(REPO, 'test', 'vm', 'fullboot', 'helpers', 'skmap.c'), '-o', out],
	{ encoding: 'utf8' });
	if (r.status !== 0)
		throw new Error(`gcc skmap: ${r.stderr}`);
	return out;
}

/**
 * Cells (tracking blocks) holding a file's data on the whole-disk ext4.
 * @param {any} g
 * @param {string} path
 * @param {number} blockSize
 */
async function cellsOf(g, path, blockSize) {
	const out = await g.sh(`filefrag -v -b4096 ${path}`);
	const cells = new Set();
	for (const l of out.split('\n')) {
		const m = /^\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+)\.\.\s*(\d+):/.exec(l);
		if (!m)
			continue;
		const first = Number(m[1]) * 4096;
		const last = (Number(m[2]) + 1) * 4096 - 1;
		for (let c = Math.floor(first / blockSize); c <= Math.floor(last / blockSize); c++)
			cells.add(c);
	}
	if (!cells.size)
		throw new Error(`no extents for ${path}:\n${out}`);
	return [...cells];
}

/** @param {any} g @param {'info'|'take'} what */
async function skmap(g, what) {
	return JSON.parse(await g.sh(`skmap ${what} ${DATA}`));
}

/** @param {string} hex @param {number} i */
const cell = (hex, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16);

/**
 * The boot's kernel log: the attach line of the data disk comes before
 * the first mount of the root and of the data disk.
 * @param {any} g
 * @param {string} dataName
 * @param {string} want
 */
async function checkBootLog(g, dataName, want) {
	// The agent starts before systemd mounts the fstab entries.
	await g.sh('timeout 150 sh -c "until findmnt /mnt/data >/dev/null; do sleep 1; done"',
		{ timeoutMs: 160_000 });
	const lines = (await g.sh('dmesg')).split('\n');
	const at = lines.findIndex((l) => l.includes(`snapkeep-boot: ${DATA} `));
	if (at < 0) {
		throw new Error('no attach line of the data disk in the kernel log:\n' +
			lines.filter((l) => l.includes('snapkeep')).join('\n'));
	}
	if (!lines[at].includes(want))
		throw new Error(`attach logged "${lines[at]}", want "${want}"`);
	for (const dev of ['vda1', dataName]) {
		const mount = lines.findIndex((l) =>
			new RegExp(`EXT4-fs \\(${dev}\\): mounted filesystem`).test(l));
		if (mount < 0)
			throw new Error(`${dev} was not mounted in this boot`);
		if (mount < at)
			throw new Error(`${dev} was mounted (line ${mount}) before the attach (line ${at})`);
	}
	return lines[at];
}

/** @param {any} t */
export async function run(t) {
	const built = buildForGuest(t);
	const rel = built.rel;
	const skmapBin = buildSkmap(t.dir);
	const g = await t.boot({ disks: [{ size: '256M' }] });
	await installBootIntegration(g, built);
	await g.copyIn(skmapBin, '/usr/local/sbin/skmap', 0o755);

	// The data disk: ext4 on the whole disk, mounted by systemd from fstab.
	await g.sh(`mkfs.ext4 -q -F -b 4096 ${DATA} && mkdir -p /mnt/data && ` +
		`echo '${DATA} /mnt/data ext4 defaults,nofail 0 2' >> /etc/fstab && ` +
		'systemctl daemon-reload && mount /mnt/data');
	const dataName = (await g.sh(`basename "$(readlink -f ${DATA})"`)).trim();
	const part = (await g.sh('blkid -s PARTUUID -o value "$(findmnt -no SOURCE /)"')).trim();
	const storeDev = `/dev/disk/by-partuuid/${part}`;
	const line = await g.sh(`mkdir -p /var/lib/snapkeep && snapkeep-boot mkstore ` +
		`--device ${DATA} --identity virtio-data0 --store-device ${storeDev} --file ${STORE}`);
	t.log(`config: ${line.trim()}`);
	const attr = await g.sh(`lsattr ${STORE}`);
	if (!/^\S*i\S*\s/.test(attr))
		throw new Error(`the store file is not immutable: ${attr}`);

	let t0 = Date.now();
	await g.sh(`update-initramfs -u -k ${rel}`, { timeoutMs: 400_000 });
	t.log(`update-initramfs took ${(Date.now() - t0) / 1000} s`);
	const inInitrd = await g.sh(`lsinitramfs /boot/initrd.img-${rel} | grep snapkeep`);
	for (const f of ['snapkeep.ko', 'usr/sbin/snapkeep-boot', 'etc/snapkeep/boot.conf',
		'scripts/local-top/snapkeep']) {
		if (!inInitrd.includes(f))
			throw new Error(`${f} is not in the initrd:\n${inInitrd}`);
	}

	// This boot: attach by hand (a new store), a take, synced writes.
	const first = await g.sh('modprobe snapkeep && snapkeep-boot attach 2>&1');
	t.log(`first attach: ${first.trim()}`);
	if (!first.includes('NEW generation') || !first.includes('reason new'))
		throw new Error(`a store never used did not start a new generation: ${first}`);
	const t1 = await skmap(g, 'take');
	if (t1.number !== 1 || (t1.persist.flags & INTENT) === 0)
		throw new Error(`after the first take: ${JSON.stringify(t1.persist)} number ${t1.number}`);
	await g.sh('head -c 4M /dev/urandom > /mnt/data/a && sync');
	const cellsA = await cellsOf(g, '/mnt/data/a', t1.blockSize);

	// (a) A clean reboot.
	t0 = Date.now();
	await g.reboot();
	t.log(`clean reboot: ${(Date.now() - t0) / 1000} s`);
	t.log(`boot 2: ${await checkBootLog(g, dataName, 'map continued, sealed')}`);
	const i2 = await skmap(g, 'info');
	const f2 = i2.persist.flags;
	if (f2 !== (ATTACHED | CONTINUED | INTENT) || i2.persist.reason !== 0 ||
	    i2.generation !== t1.generation || i2.number !== 1) {
		throw new Error(`after a clean reboot the map did not continue sealed: ` +
			`${JSON.stringify(i2)} (generation before ${t1.generation})`);
	}
	const t2 = await skmap(g, 'take');
	const lostA = cellsA.filter((c) => cell(t2.cells, c) < 1);
	if (lostA.length)
		throw new Error(`blocks of a file written before the reboot are not marked: cells ${lostA.join(', ')}`);
	const marked2 = [...Array(t2.blockCount).keys()].filter((c) => cell(t2.cells, c) >= 1).length;
	if (marked2 > t2.blockCount / 2)
		throw new Error(`${marked2} of ${t2.blockCount} cells are marked: not a map of the writes`);
	t.log(`clean reboot: ${cellsA.length} cells of /mnt/data/a marked, ${marked2} of ${t2.blockCount} marked in all`);

	// (b) A power cut after synced writes.
	await g.sh('head -c 4M /dev/urandom > /mnt/data/b && sync');
	const cellsB = await cellsOf(g, '/mnt/data/b', t2.blockSize);
	// Unsynced too: whatever of it reached the disk is tracked as well.
	await g.sh('head -c 8M /dev/urandom > /mnt/data/c');
	t0 = Date.now();
	await g.powerCut();
	t.log(`power cut -> agent: ${(Date.now() - t0) / 1000} s`);
	t.log(`boot 3: ${await checkBootLog(g, dataName, 'map continued, unclean')}`);
	const i3 = await skmap(g, 'info');
	if (i3.persist.flags !== (ATTACHED | CONTINUED | UNCLEAN | INTENT | UNVERIFIED) ||
	    i3.generation !== t1.generation || i3.number !== 2) {
		throw new Error(`after a power cut the map did not continue under write intent: ` +
			`${JSON.stringify(i3)} (generation before ${t1.generation})`);
	}
	const t3 = await skmap(g, 'take');
	const lostB = cellsB.filter((c) => cell(t3.cells, c) < 2);
	if (lostB.length)
		throw new Error(`blocks written before the power cut are not marked 2: cells ${lostB.join(', ')}`);
	const lostA3 = cellsA.filter((c) => cell(t3.cells, c) < 1);
	if (lostA3.length)
		throw new Error(`blocks written before the reboot lost their mark: cells ${lostA3.join(', ')}`);
	t.log(`power cut: ${cellsB.length} cells of /mnt/data/b marked 2 or more`);

	// (c) One boot without the hook: a GRUB entry of this kernel with
	// snapkeep_boot=off, for the next boot only (grub-reboot).
	await g.sh(`args=$(sed 's/^BOOT_IMAGE=[^ ]* //' /proc/cmdline) && ` +
		`printf '%s\\n' "menuentry 'snapkeep off' --id snapkeep-off {" ` +
		`"	insmod part_msdos" "	insmod ext2" ` +
		`"	search --no-floppy --file --set=root /boot/vmlinuz-${rel}" ` +
		`"	linux /boot/vmlinuz-${rel} $args snapkeep_boot=off" ` +
		`"	initrd /boot/initrd.img-${rel}" "}" >> /boot/grub/custom.cfg && ` +
		'grub-reboot snapkeep-off');
	t0 = Date.now();
	await g.reboot();
	t.log(`reboot with snapkeep_boot=off: ${(Date.now() - t0) / 1000} s`);
	const offLog = await g.sh('grep -o "snapkeep_boot=off" /proc/cmdline; dmesg | grep "snapkeep-boot" || true');
	if (!offLog.includes('skipped (snapkeep_boot=off)') || offLog.includes(`snapkeep-boot: ${DATA} `))
		throw new Error(`the boot with snapkeep_boot=off attached or did not say it skipped:\n${offLog}`);
	await g.sh('timeout 150 sh -c "until findmnt /mnt/data >/dev/null; do sleep 1; done"',
		{ timeoutMs: 160_000 });
	await g.sh('head -c 1M /dev/urandom > /mnt/data/d && sync');
	t0 = Date.now();
	await g.reboot();
	t.log(`reboot after the untracked boot: ${(Date.now() - t0) / 1000} s`);
	const absent = await checkBootLog(g, dataName, 'reason absent (ext4 mount count ');
	t.log(`boot 5: ${absent}`);
	const i5 = await skmap(g, 'info');
	if (i5.persist.flags !== (ATTACHED | INTENT) || i5.persist.reason !== REASON_ABSENT ||
	    i5.generation === t1.generation || i5.number !== 0) {
		throw new Error(`after a boot without the module the map did not restart, reason absent: ` +
			`${JSON.stringify(i5)} (generation before ${t1.generation})`);
	}
	t.log(`untracked boot detected; boots ${g.bootSeconds.map((s) => s.toFixed(0)).join(', ')} s`);
}
