// Boot on one kernel, a file written and synced survives `systemctl
// reboot`, and a grub-reboot into the other kernel boots it (uname -r
// changes) with the file still there.

export const kernels = ['6.1', '6.12'];
export const timeout = 600;

/** @param {any} t */
export async function run(t) {
	const g = await t.boot();
	const uname = async () => (await g.sh('uname -r')).trim();
	const expect = (/** @type {string} */ what, /** @type {string} */ got,
		/** @type {string} */ want) => {
		if (got !== want)
			throw new Error(`${what}: got ${got}, want ${want}`);
	};
	expect('first boot', await uname(), g.release(t.kernel));
	const token = `${Date.now()}-${Math.random()}`;
	await g.sh(`echo ${token} > /root/survivor && sync /root/survivor`);
	const boot1 = g.current?.bootId;

	await g.reboot();
	t.log(`reboot took ${g.bootSeconds.at(-1)} s`);
	if (g.current?.bootId === boot1)
		throw new Error('the boot id did not change across the reboot');
	expect('after reboot', await uname(), g.release(t.kernel));
	expect('file after reboot', (await g.sh('cat /root/survivor')).trim(), token);

	await g.reboot({ kernel: t.other });
	expect('after grub-reboot', await uname(), g.release(t.other));
	expect('file on the other kernel',
		(await g.sh('cat /root/survivor')).trim(), token);
	// grub-reboot is for one boot: the next plain reboot comes back to
	// the kernel the host chose.
	await g.reboot();
	expect('after the one-time boot', await uname(), g.release(t.kernel));
}
