// An initramfs-tools hook and local-top script installed in the guest
// run on the next boot through update-initramfs and the real boot path:
// the script logs to the kernel log before the root is mounted. This is
// the path the module's boot integration takes.

export const kernels = ['6.1', '6.12'];
export const timeout = 600;

const HOOK = `#!/bin/sh
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0;; esac
. /usr/share/initramfs-tools/hook-functions
# Proves the hook ran at update-initramfs time: the stamp is only in the
# initrd, never on the root.
mkdir -p "$DESTDIR/etc"
cat /etc/snapkeep-test-token > "$DESTDIR/etc/snapkeep-hook-stamp"
`;

const LOCAL_TOP = `#!/bin/sh
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0;; esac
mounted=no
grep -q " \${rootmnt} " /proc/mounts && mounted=yes
echo "snapkeep-fullboot: local-top stamp=$(cat /etc/snapkeep-hook-stamp) root-mounted=$mounted" > /dev/kmsg
`;

/** @param {any} t */
export async function run(t) {
	const g = await t.boot();
	const marker = 'snapkeep-fullboot: local-top';
	const before = await g.run(`dmesg | grep -c '${marker}'`);
	if (before.stdout.trim() !== '0')
		throw new Error(`the marker is in the log before the hook exists: ${before.stdout}`);
	const token = `tok${Date.now()}`;
	await g.sh(`echo ${token} > /etc/snapkeep-test-token && ` +
		`cat > /etc/initramfs-tools/hooks/snapkeep-test <<'SKEOF'\n${HOOK}SKEOF\n` +
		`cat > /etc/initramfs-tools/scripts/local-top/snapkeep-test <<'SKEOF'\n${LOCAL_TOP}SKEOF\n` +
		'chmod +x /etc/initramfs-tools/hooks/snapkeep-test ' +
		'/etc/initramfs-tools/scripts/local-top/snapkeep-test');
	const t0 = Date.now();
	await g.sh('update-initramfs -u -k "$(uname -r)"', { timeoutMs: 300_000 });
	t.log(`update-initramfs took ${(Date.now() - t0) / 1000} s`);
	await g.reboot();
	const log = await g.sh('dmesg');
	const lines = log.split('\n');
	const at = lines.findIndex((l) => l.includes(marker));
	if (at < 0)
		throw new Error('the local-top script left no line in the kernel log');
	const want = `stamp=${token} root-mounted=no`;
	if (!lines[at].includes(want))
		throw new Error(`local-top logged "${lines[at]}", want "${want}"`);
	// The root's first mount (read-only, by the initramfs) comes after.
	const mount = lines.findIndex((l) => /EXT4-fs \(vda1\): mounted filesystem/.test(l));
	if (mount < 0 || mount < at) {
		throw new Error(`the root was mounted before local-top ran ` +
			`(marker line ${at}, mount line ${mount})`);
	}
	const remount = lines.findIndex((l) => /EXT4-fs \(vda1\): re-mounted/.test(l));
	if (remount >= 0 && remount < at)
		throw new Error('the root was remounted rw before local-top ran');
}
