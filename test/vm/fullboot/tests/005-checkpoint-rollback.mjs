// A checkpoint of the root, rolled back from the GRUB menu after a
// "failed upgrade" (issue 15, phase 2: kmod/boot/, docs/kernel-module.md
// "Checkpoints"). The module, snapkeep-boot, the initramfs-tools hook and
// local-top script, the systemd-shutdown hook and the GRUB snippet
// (kmod/boot/grub.d/42_snapkeep) are installed as a package would.
//
//  1. `snapkeep-boot checkpoint create` of the root partition, its store
//     file on the root itself; update-initramfs -u puts the config naming
//     it into the initrd.
//  2. A "failed upgrade": /etc files changed, files added, deleted and
//     overwritten, synced.
//  3. A plain reboot: the checkpoint is sealed (stamped) at shutdown and
//     re-attached in local-top, still active; more changes after it.
//  4. update-grub: grub.cfg has "Roll back to checkpoint <name> (...)"
//     with --id snapkeep-rollback-<id>; grub-reboot picks it.
//  5. That boot: the kernel log has the rollback line before the root's
//     first mount; every file hashed at checkpoint time hashes the same,
//     the later ones are gone; `checkpoint list` says rolled-back.
//  6. The next plain reboot boots normally (no rollback, nothing attached).

import { buildForGuest, installBootIntegration } from '../lib/install.mjs';
import { firstCheckpoint } from '../lib/checkpoint-list.mjs';

export const kernels = ['6.12', '6.1'];
export const timeout = 1500;

const STORE = '/var/lib/snapkeep/root.ckpt';
// 256 MiB: the new initrd (written after the checkpoint) is saved too.
const PAGES = 65536;
// What the test hashes: the state at the checkpoint's instant.
const HASHED = 'cd / && find /srv/ck /etc/ck-test.conf /etc/motd /etc/snapkeep -xdev -type f | ' +
	'LC_ALL=C sort | xargs sha256sum';


/** @param {any} t */
export async function run(t) {
	const built = buildForGuest(t);
	const rel = built.rel;
	const g = await t.boot({});
	await installBootIntegration(g, built, { grub: true });
	await g.sh('modprobe snapkeep');

	// The system before the upgrade.
	await g.sh('mkdir -p /srv/ck /var/lib/snapkeep && for i in 1 2 3 4 5; do ' +
		'head -c 1M /dev/urandom > /srv/ck/keep$i; done && ' +
		'echo "setting=old" > /etc/ck-test.conf && touch /etc/motd && sync');
	const part = (await g.sh('blkid -s PARTUUID -o value "$(findmnt -no SOURCE /)"')).trim();
	const root = `/dev/disk/by-partuuid/${part}`;
	const rootName = (await g.sh('basename "$(findmnt -no SOURCE /)"')).trim();

	// 1. The checkpoint.
	let t0 = Date.now();
	const made = await g.run(`snapkeep-boot checkpoint create --name 'before upgrade' ` +
		`--file ${STORE} --store-device ${root} --pages ${PAGES} ${root}=root-${part}`,
	{ timeoutMs: 300_000 });
	t.log(`checkpoint create (${(Date.now() - t0) / 1000} s): ${made.code} ${made.stdout.trim()} ${made.stderr.trim()}`);
	const id = /^id=([0-9a-f-]{36})$/.exec(made.stdout.trim().split('\n').pop() ?? '')?.[1];
	if (made.code !== 0 || !id)
		throw new Error(`checkpoint create failed (${made.code}): ${made.stderr}`);
	// Hashed at once: the checkpoint's instant (the config already names it).
	const atCheckpoint = await g.sh(HASHED);
	t.log(`config: ${(await g.sh('cat /etc/snapkeep/boot.conf')).trim()}`);
	let l = firstCheckpoint(await g.sh('snapkeep-boot checkpoint list'));
	if (l.id !== id || l.state !== 'active' || l.attached !== 'yes' || l.name !== 'before upgrade')
		throw new Error(`after create: ${JSON.stringify(l)}`);
	t0 = Date.now();
	await g.sh(`update-initramfs -u -k ${rel}`, { timeoutMs: 400_000 });
	t.log(`update-initramfs took ${(Date.now() - t0) / 1000} s`);
	const inInitrd = await g.sh(`lsinitramfs /boot/initrd.img-${rel} | grep snapkeep`);
	for (const f of ['usr/sbin/snapkeep-boot', 'etc/snapkeep/boot.conf', 'scripts/local-top/snapkeep']) {
		if (!inInitrd.includes(f))
			throw new Error(`${f} is not in the initrd:\n${inInitrd}`);
	}

	// 2. The failed upgrade.
	await g.sh('echo "setting=new" > /etc/ck-test.conf && echo "upgraded" >> /etc/motd && ' +
		'head -c 4M /dev/urandom > /srv/ck/new1 && rm /srv/ck/keep2 && ' +
		'dd if=/dev/urandom of=/srv/ck/keep3 bs=64k count=4 seek=2 conv=notrunc status=none && sync');

	// 3. A plain reboot: sealed, re-attached, still active.
	t0 = Date.now();
	await g.reboot();
	t.log(`plain reboot: ${(Date.now() - t0) / 1000} s`);
	let log = (await g.sh('dmesg | grep -E "snapkeep|EXT4-fs"')).split('\n');
	if (!log.some((x) => x.includes(`checkpoint before upgrade (${id}): re-attached`)))
		throw new Error(`not re-attached at boot:\n${log.join('\n')}`);
	l = firstCheckpoint(await g.sh('snapkeep-boot checkpoint list'));
	if (l.state !== 'active' || l.attached !== 'yes' || Number(l.entries) < 1)
		throw new Error(`after the plain reboot: ${JSON.stringify(l)}`);
	t.log(`re-attached: ${l.entries} chunks saved, ${l.used} of ${l.pages} pages`);
	await g.sh('head -c 2M /dev/urandom > /srv/ck/new2 && rm /srv/ck/keep4 && ' +
		'echo "setting=newer" > /etc/ck-test.conf && sync');

	// 4. The GRUB entry.
	t0 = Date.now();
	const mk = await g.run('update-grub', { timeoutMs: 300_000 });
	t.log(`update-grub (${(Date.now() - t0) / 1000} s): ${mk.stderr.split('\n').filter((x) => /snapkeep/i.test(x)).join(' | ')}`);
	if (mk.code !== 0)
		throw new Error(`update-grub failed: ${mk.stderr}`);
	const cfg = await g.sh('cat /boot/grub/grub.cfg');
	const entry = new RegExp(`^menuentry 'Roll back to checkpoint before upgrade \\(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\)' .*--id 'snapkeep-rollback-${id}' \\{$`, 'm');
	if (!entry.test(cfg) || !cfg.includes(`snapkeep_rollback=${id}`) || !cfg.includes(`vmlinuz-${rel} root=`))
		throw new Error(`grub.cfg has no rollback entry for ${id} booting ${rel}:\n${cfg.split('\n').filter((x) => /snapkeep|menuentry/.test(x)).join('\n')}`);
	await g.sh(`grub-reboot 'snapkeep-rollback-${id}'`);

	// 5. The rollback boot.
	t0 = Date.now();
	await g.reboot();
	t.log(`rollback boot: ${(Date.now() - t0) / 1000} s`);
	const cmdline = await g.sh('cat /proc/cmdline');
	if (!cmdline.includes(`snapkeep_rollback=${id}`))
		throw new Error(`not booted from the rollback entry: ${cmdline}`);
	log = (await g.sh('dmesg | grep -E "snapkeep|EXT4-fs"')).split('\n');
	const rolled = log.findIndex((x) => new RegExp(`checkpoint before upgrade \\(${id}\\): rolled back: \\d+ chunk`).test(x));
	const mount = log.findIndex((x) => new RegExp(`EXT4-fs \\(${rootName}\\): mounted filesystem`).test(x));
	t.log(`kernel log:\n${log.join('\n')}`);
	if (rolled < 0)
		throw new Error('no rollback line in the kernel log');
	if (mount < 0 || mount < rolled)
		throw new Error(`the root was mounted (line ${mount}) before the rollback (line ${rolled})`);
	const after = await g.sh(HASHED);
	if (after !== atCheckpoint)
		throw new Error(`the files differ from the checkpoint's:\nthen:\n${atCheckpoint}\nnow:\n${after}`);
	l = firstCheckpoint(await g.sh('snapkeep-boot checkpoint list'));
	if (l.id !== id || l.state !== 'rolled-back' || l.attached !== 'no')
		throw new Error(`after the rollback: ${JSON.stringify(l)}`);
	t.log(`rolled back: ${l.entries} chunks; files as at the checkpoint`);

	// 6. The next plain reboot boots normally.
	t0 = Date.now();
	await g.reboot();
	t.log(`plain reboot after the rollback: ${(Date.now() - t0) / 1000} s`);
	const last = await g.sh('cat /proc/cmdline; dmesg | grep snapkeep-boot || true');
	if (last.includes('snapkeep_rollback=') || /rolled back: \d+/.test(last) || /re-attached/.test(last))
		throw new Error(`the boot after the rollback was not a plain one:\n${last}`);
	if ((await g.sh(HASHED)) !== atCheckpoint)
		throw new Error('the files changed again after the rollback');
	t.log(`boots ${g.bootSeconds.map((/** @type {number} */ s) => s.toFixed(0)).join(', ')} s`);
}
