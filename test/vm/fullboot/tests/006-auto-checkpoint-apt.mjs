// Automatic checkpoints end to end (issue 15, "Automatic protection";
// docs/checkpoints.md): the helper installed in the guest as a user would
// (`snapkeep-helper install`, node and the checkout from the host over 9p,
// the module built for the guest's kernel), automatic checkpoints turned on
// with the CLI, then a real `apt-get install` of a local package made here:
//
//  1. apt's DPkg::Pre-Invoke hook (/etc/apt/apt.conf.d/80snapkeep-checkpoint)
//     runs `snapkeep-helper checkpoint-before-packages`, which has the
//     running helper take a checkpoint of the root (store, module, boot
//     image of every kernel, boot menu) before dpkg runs; apt's output has
//     the "snapkeep: ..." lines, the checkpoint is active and held, the
//     package installed, the GRUB menu offers its rollback; after dpkg,
//     DPkg::Post-Invoke has apt say the checkpoint holds the change.
//  2. A reboot: the initramfs re-attaches it; the helper, starting, counts
//     a good boot and (end after 1 good boot) ends it: its lines and store
//     go, the package stays.

import { checkpointFields, checkpointLines } from '../lib/checkpoint-list.mjs';
import { buildForGuest, GUEST_CLI as CLI, helperShares, installHelper } from '../lib/install.mjs';

export const kernels = ['6.12', '6.1'];
export const timeout = 3600;



/** @param {any} t */
export async function run(t) {
	const built = buildForGuest(t);
	const g = await t.boot({ memory: 1536, shares: helperShares() });
	await installHelper(t, g, built);

	// Turning it on rebuilds the boot menu (update-grub): minutes under TCG
	// on a busy host, past the 120 s a guest command gets by default.
	const auto = await g.run(`${CLI} checkpoint auto --on --end-after 1 --size 256M 2>&1`, { timeoutMs: 900_000 });
	t.log(`auto (exit ${auto.code}): ${auto.stdout.trim()}`);
	if (auto.code !== 0)
		throw new Error(`checkpoint auto --on failed (${auto.code}): ${auto.stdout.slice(-2000)}`);

	// 1. A package change through apt.
	let t0 = Date.now();
	await g.sh('mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/share/snapkeep-test && ' +
		'printf "Package: snapkeep-test-dummy\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: test <t@example.com>\\nDescription: a package for the test\\n" > /tmp/pkg/DEBIAN/control && ' +
		'echo hello > /tmp/pkg/usr/share/snapkeep-test/hello && dpkg-deb --build /tmp/pkg /tmp/snapkeep-test-dummy.deb >/dev/null');
	t0 = Date.now();
	const apt = await g.run('DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/snapkeep-test-dummy.deb 2>&1', { timeoutMs: 2_400_000 });
	t.log(`apt-get install (${(Date.now() - t0) / 1000} s, exit ${apt.code}):\n${apt.stdout}`);
	if (apt.code !== 0)
		throw new Error(`apt-get install failed (${apt.code}): ${apt.stdout.slice(-2000)}`);
	const taken = /^snapkeep: checkpoint "(before package changes [^"]+)" taken/m.exec(apt.stdout);
	if (!taken)
		throw new Error(`apt's output says no checkpoint was taken:\n${apt.stdout.slice(-2000)}`);
	const hookLine = apt.stdout.indexOf('snapkeep: taking a checkpoint');
	const unpack = apt.stdout.indexOf('Unpacking snapkeep-test-dummy');
	if (hookLine < 0 || unpack < 0 || hookLine > unpack)
		throw new Error('the checkpoint was not taken before dpkg unpacked the package');
	// After dpkg: apt says what holds the system and how full its store is.
	const holds = apt.stdout.search(/^snapkeep: checkpoint "before package changes [^"]+" holds this change: .* of its store used \(\d+%\)\.$/m);
	if (holds < 0 || holds < apt.stdout.indexOf('Setting up snapkeep-test-dummy'))
		throw new Error('apt did not say after dpkg which checkpoint holds the change');
	const list = checkpointLines(await g.sh('snapkeep-boot checkpoint list'));
	if (list.length !== 1)
		throw new Error(`want one checkpoint, got:\n${list.join('\n')}`);
	const c = checkpointFields(list[0]);
	if (c.state !== 'active' || c.attached !== 'yes' || c.name !== taken[1])
		throw new Error(`after apt: ${JSON.stringify(c)}`);
	await g.sh('dpkg -s snapkeep-test-dummy >/dev/null');
	const listed = await g.sh(`${CLI} checkpoint list`);
	if (!/automatic/i.test(listed))
		throw new Error(`snapkeep checkpoint list does not say it is automatic:\n${listed}`);
	// On a slow or busy machine the boot image outlives the hook's limit,
	// and apt says to wait for its unit before rebooting: do as told.
	if (/the boot image is not rebuilt yet/.test(apt.stdout)) {
		const t1 = Date.now();
		let state = '';
		while (Date.now() - t1 < 1_800_000) {
			state = (await g.run('systemctl is-active snapkeep-initramfs.service')).stdout.trim();
			if (state !== 'activating') break;
			await new Promise((r) => setTimeout(r, 10_000));
		}
		t.log(`snapkeep-initramfs.service: ${state} after ${(Date.now() - t1) / 1000} s more`);
		if (state === 'activating' || state === 'failed')
			throw new Error(`the boot image was still not rebuilt: snapkeep-initramfs.service is ${state}`);
	}
	// Every kernel's initrd was rebuilt (update-initramfs -k all): those of
	// kernels with the module carry the config; a kernel without it (here
	// 6.1: the test installs the module for the kernel it boots, as a
	// machine before DKMS ran for another kernel) boots without, as the hook
	// says. Backups update-initramfs keeps (.dpkg-bak) are not what boots.
	const initrds = (await g.sh('for f in /boot/initrd.img-*; do case "$f" in *.dpkg-bak) continue;; esac; v=${f#/boot/initrd.img-}; m=0; ' +
		'modinfo -k "$v" snapkeep >/dev/null 2>&1 && m=1; echo "$v $m $(lsinitramfs "$f" | grep -c "etc/snapkeep/boot.conf")"; done')).trim().split('\n');
	const booted = t.image.kernels[t.kernel].release;
	if (initrds.length < 2 || !initrds.includes(`${booted} 1 1`) || initrds.some((l) => !/ (1 1|0 0)$/.test(l)))
		throw new Error(`the initrds do not carry the config exactly where the module is (kernel, module, config):\n${initrds.join('\n')}`);
	// Its entry boots the newest kernel, whose initrd was rebuilt with the
	// checkpoint's config (once the oldest: Debian's version_sort has no -r).
	const newest = t.image.kernels['6.12'].release;
	const entry = (await g.sh('cat /boot/grub/grub.cfg')).split('### BEGIN /etc/grub.d/42_snapkeep ###')[1] ?? '';
	if (!entry.includes(`snapkeep-rollback-${c.id}`) || !entry.includes(`linux\t/boot/vmlinuz-${newest} `))
		throw new Error(`the boot menu has no rollback entry booting ${newest} for the automatic checkpoint:\n${entry.slice(0, 1500)}`);
	t.log(`checkpoint ${c.id} "${c.name}": ${c.entries} chunks saved`);

	// 2. A good boot ends it (end after 1).
	t0 = Date.now();
	await g.reboot();
	t.log(`reboot: ${(Date.now() - t0) / 1000} s`);
	const dmesg = await g.sh('dmesg | grep snapkeep || true');
	if (!dmesg.includes(`(${c.id}): re-attached`))
		throw new Error(`not re-attached at boot:\n${dmesg}`);
	// The end is a task (commit, remove, both initrds and the menu rebuilt);
	// its log line comes last.
	t0 = Date.now();
	for (;;) {
		const journal = await g.sh('journalctl -u snapkeep-helper -b --no-pager');
		if (/ended automatically after 1 good boot\b/.test(journal))
			break;
		if (Date.now() - t0 > 1_500_000)
			throw new Error(`not ended 1500 s after the good boot:\n${await g.sh('snapkeep-boot checkpoint list || true')}\n${journal.split('\n').slice(-30).join('\n')}`);
		await new Promise((r) => setTimeout(r, 5000));
	}
	t.log(`ended ${(Date.now() - t0) / 1000} s after the boot was up`);
	// No config left at all is fine too (the tool says so, exit 1).
	const after = await g.run('snapkeep-boot checkpoint list');
	if (after.code !== 0 && !after.stderr.includes('No such file'))
		throw new Error(`checkpoint list failed (${after.code}): ${after.stderr}`);
	const left = checkpointLines(after.stdout);
	if (left.length !== 0)
		throw new Error(`ended, but still in the boot config:\n${left.join('\n')}`);
	await g.sh(`dpkg -s snapkeep-test-dummy >/dev/null && test ! -e '${c.file}'`);
	t.log(`boots ${g.bootSeconds.map((/** @type {number} */ s) => s.toFixed(0)).join(', ')} s`);
}
