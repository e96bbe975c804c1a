// A power cut (SIGKILL to qemu) after a synced write and during unsynced
// writes: the system boots again, the data disk's ext4 is consistent
// after its journal replay (e2fsck -fn finds nothing), and the synced
// files on the data disk and the root are intact.

export const kernels = ['6.1', '6.12'];
export const timeout = 600;

const DISK = '/dev/disk/by-id/virtio-data0';

/** @param {any} t */
export async function run(t) {
	const g = await t.boot({ disks: [{ size: '256M' }] });
	await g.sh(`mkfs.ext4 -q ${DISK} && mkdir -p /mnt/data && ` +
		`mount ${DISK} /mnt/data`);
	const synced = (await g.sh(
		'head -c 8M /dev/urandom > /mnt/data/synced && ' +
		'head -c 1M /dev/urandom > /root/synced && sync && ' +
		'cat /mnt/data/synced /root/synced | sha256sum')).split(' ')[0];
	// Unsynced: still in the page cache (or half written) at the cut.
	await g.sh('head -c 32M /dev/urandom > /mnt/data/unsynced; ' +
		'head -c 4M /dev/urandom > /root/unsynced; ' +
		'rm -f /mnt/data/synced.copy; cp /mnt/data/synced /mnt/data/synced.copy');
	const bootId = g.current?.bootId;
	await g.powerCut();
	t.log(`power-cut recovery took ${g.bootSeconds.at(-1)} s`);
	if (g.current?.bootId === bootId)
		throw new Error('the boot id did not change across the power cut');
	const rootOpts = (await g.sh('findmnt -no OPTIONS /')).trim();
	if (!rootOpts.split(',').includes('rw'))
		throw new Error(`the root is not mounted read-write: ${rootOpts}`);
	// Mount once to replay the journal, as a boot would; then a full
	// read-only check must find nothing.
	await g.sh(`mkdir -p /mnt/data && mount ${DISK} /mnt/data && ` +
		'umount /mnt/data');
	const fsck = await g.run(`e2fsck -fn ${DISK}`);
	if (fsck.code !== 0) {
		throw new Error(`e2fsck -fn after the power cut: exit ${fsck.code}\n` +
			`${fsck.stdout}${fsck.stderr}`);
	}
	const after = (await g.sh(`mount ${DISK} /mnt/data && ` +
		'cat /mnt/data/synced /root/synced | sha256sum')).split(' ')[0];
	if (after !== synced)
		throw new Error(`synced files changed across the power cut: ${after} != ${synced}`);
}
