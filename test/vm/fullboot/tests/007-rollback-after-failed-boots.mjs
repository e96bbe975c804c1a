// Automatic rollback after failed boots (issue 15, test 6; docs/checkpoints.md,
// "Automatic rollback after failed boots"): the helper installed in the
// guest, automatic checkpoints on with --roll-back-after 2, and the
// checkpoint taken as apt's hook takes it (`snapkeep-helper
// checkpoint-before-packages`; test 006 runs it through apt). Then:
//
//  1. The boot menu counts: grub.cfg has the counting lines for the
//     checkpoint, and a good boot clears GRUB's count
//     (snapkeep-boot-complete.service), so a working system never rolls
//     back.
//  2. The "upgrade" breaks the system (/sbin/init replaced by garbage: the
//     kernel panics at every boot, and panic=5 resets it). Two boots fail;
//     the third takes the rollback entry by itself: the initramfs rolls the
//     root back, the system comes up as it was at the checkpoint, and the
//     helper stops the boot menu counting.

import { firstCheckpoint } from '../lib/checkpoint-list.mjs';
import { buildForGuest, GUEST_CLI as CLI, helperShares, installHelper } from '../lib/install.mjs';

export const kernels = ['6.12'];
export const timeout = 3600;

const HELPER = 'ELECTRON_RUN_AS_NODE=1 node /mnt/repo/out/js/electron/helper/main.js';


/** @param {any} g */
async function failedCount(g) {
	return /^snapkeep_failed=(.*)$/m.exec(await g.sh('grub-editenv /boot/grub/grubenv list'))?.[1];
}

/**
 * Waits until snapkeep-boot-complete.service ran in this boot and GRUB's
 * count is gone.
 * @param {any} g
 * @param {string} what
 */
async function waitCleared(g, what) {
	for (let i = 0; ; i++) {
		const unit = await g.run('systemctl show -p ActiveState -p Result snapkeep-boot-complete.service');
		const count = await failedCount(g);
		if (/Result=success/.test(unit.stdout) && /ActiveState=(active|inactive)/.test(unit.stdout) && count === undefined)
			return;
		if (i > 60)
			throw new Error(`${what}: the count of failed boots was not cleared (snapkeep_failed=${count}):\n${unit.stdout}\n${await g.sh('journalctl -b -u snapkeep-boot-complete --no-pager || true')}`);
		await new Promise((r) => setTimeout(r, 3000));
	}
}

/** @param {any} t */
export async function run(t) {
	const built = buildForGuest(t);
	const g = await t.boot({ memory: 1536, shares: helperShares() });
	// A kernel that panics resets after 5 s (and qemu, -no-reboot, exits):
	// set before the checkpoint, so the rolled-back system keeps it too.
	await g.sh('sed -i \'s/^GRUB_CMDLINE_LINUX="/GRUB_CMDLINE_LINUX="panic=5 /\' /etc/default/grub && grep -q panic=5 /etc/default/grub');
	await installHelper(t, g, built);
	// One boot image to rebuild (Debian's -k all takes the kernels that have
	// one): under TCG each takes minutes; 006 rebuilds both.
	await g.sh(`for f in /boot/initrd.img-*; do [ "$f" = '/boot/initrd.img-${built.rel}' ] || rm -f "$f"; done; ls /boot/initrd.img-*`);
	t.log(`auto: ${(await g.sh(`${CLI} checkpoint auto --on --end-after 0 --roll-back-after 2 --size 256M`)).trim()}`);
	await g.sh('echo "as at the checkpoint" > /etc/ck-007 && sync');
	const initBefore = (await g.sh('readlink /sbin/init')).trim();

	let t0 = Date.now();
	const hook = await g.run(`${HELPER} checkpoint-before-packages 2>&1`, { timeoutMs: 2_400_000 });
	t.log(`checkpoint-before-packages (${(Date.now() - t0) / 1000} s, exit ${hook.code}):\n${hook.stdout}`);
	if (hook.code !== 0 || !/checkpoint "before package changes [^"]+" taken/.test(hook.stdout))
		throw new Error(`no checkpoint was taken (${hook.code}):\n${hook.stdout.slice(-2000)}`);
	const c = firstCheckpoint(await g.sh('snapkeep-boot checkpoint list'));
	if (c.state !== 'active' || c.attached !== 'yes')
		throw new Error(`after the hook: ${JSON.stringify(c)}`);
	const watch = (await g.sh('cat /etc/snapkeep/auto-rollback.conf')).trim();
	if (watch !== `${c.id} 2`)
		throw new Error(`auto-rollback.conf holds "${watch}", not "${c.id} 2"`);
	const cfg = await g.sh('cat /boot/grub/grub.cfg');
	if (!cfg.includes('if [ "${snapkeep_failed}" = "xx" ]; then') || !cfg.includes(`set default='snapkeep-rollback-${c.id}'`))
		throw new Error(`grub.cfg does not count failed boots for ${c.id}:\n${cfg.split('\n').filter((x) => /snapkeep/.test(x)).join('\n')}`);
	const listed = await g.sh(`${CLI} checkpoint list`);
	if (!/rolled back by itself after 2 failed boots in a row/.test(listed))
		throw new Error(`snapkeep checkpoint list does not say it:\n${listed}`);

	// 1. A good boot: GRUB counted it, the unit cleared the count.
	t0 = Date.now();
	await g.reboot();
	t.log(`good reboot: ${(Date.now() - t0) / 1000} s`);
	await waitCleared(g, 'the good boot');
	if (firstCheckpoint(await g.sh('snapkeep-boot checkpoint list')).state !== 'active')
		throw new Error('the checkpoint is no longer active after a good boot');

	// 2. The broken upgrade, two failed boots, and the rollback by itself.
	await g.sh('echo "after the upgrade" > /etc/ck-007 && rm /sbin/init && ' +
		'head -c 65536 /dev/urandom > /sbin/init && chmod 755 /sbin/init && sync');
	await g.goDown();
	// The kernel panics (run-init cannot run it) and resets; an initramfs
	// that falls back to a shell hangs instead: reset by hand, as a user would.
	for (const n of [1, 2]) {
		const f = await g.failingBoot(`failed boot ${n}`);
		t.log(`failed boot ${n}: ${f.how} after ${f.seconds} s`);
	}
	t0 = Date.now();
	await g.startAgain();
	t.log(`rollback boot: ${(Date.now() - t0) / 1000} s`);
	// GRUB's words on the serial console (GRUB_TERMINAL=serial in the image).
	if (!g.consoleTail(1_000_000).includes('snapkeep: 2 boots in a row did not finish: rolling back to checkpoint'))
		throw new Error(`GRUB did not say it rolls back:\n${g.consoleTail(60)}`);
	const cmdline = await g.sh('cat /proc/cmdline');
	if (!cmdline.includes(`snapkeep_rollback=${c.id}`))
		throw new Error(`not booted from the rollback entry: ${cmdline}`);
	const dmesg = await g.sh('dmesg | grep snapkeep || true');
	if (!new RegExp(`\\(${c.id}\\): rolled back: \\d+ chunk`).test(dmesg))
		throw new Error(`no rollback in the kernel log:\n${dmesg}`);
	const now = (await g.sh('cat /etc/ck-007; readlink /sbin/init')).trim();
	if (now !== `as at the checkpoint\n${initBefore}`)
		throw new Error(`the root is not as at the checkpoint: ${now}`);
	// GRUB emptied it; the rollback may bring back an older env block
	// (GRUB writes it outside the checkpoint), the good boot clears it.
	await waitCleared(g, 'the rollback boot');
	// The helper, starting, no longer has the boot menu count for it.
	for (let i = 0; ; i++) {
		if ((await g.run('test -e /etc/snapkeep/auto-rollback.conf')).code !== 0)
			break;
		if (i > 100)
			throw new Error(`auto-rollback.conf is still there:\n${await g.sh('journalctl -u snapkeep-helper -b --no-pager | tail -30')}`);
		await new Promise((r) => setTimeout(r, 3000));
	}
	t.log(`boots ${g.bootSeconds.map((/** @type {number} */ s) => s.toFixed(0)).join(', ')} s`);
}
