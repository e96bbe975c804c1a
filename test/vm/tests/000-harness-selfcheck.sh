#!/bin/bash
# The harness itself: the guest sees its disks in header order and at the
# declared size, can make and mount a file system on one, the host's root
# and the repository are read-only, /tmp and $SNAPKEEP_RESULTS are
# writable, node runs, and modprobe reaches the host's modules.
# vm: disks=2x64M modules=ext4 timeout=90
set -euo pipefail

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

echo "kernel $(uname -r), disks: $SNAPKEEP_DISKS"
[ "$(uname -r)" = "$SNAPKEEP_KERNEL" ] ||
	fail "uname -r says $(uname -r), SNAPKEEP_KERNEL $SNAPKEEP_KERNEL"
for v in SNAPKEEP_REPO SNAPKEEP_KO SNAPKEEP_HELPERS SNAPKEEP_RESULTS \
	 SNAPKEEP_TEST; do
	[ -n "${!v:-}" ] || fail "$v is not set"
done
[ -f "$SNAPKEEP_KO" ] || fail "SNAPKEEP_KO $SNAPKEEP_KO does not exist"
[ -x "$SNAPKEEP_HELPERS/ioctl-version" ] ||
	fail "no helpers in SNAPKEEP_HELPERS=$SNAPKEEP_HELPERS"
[ -d "$SNAPKEEP_REPO/test/vm/tests" ] ||
	fail "SNAPKEEP_REPO=$SNAPKEEP_REPO is not this repository"

read -r -a disks <<< "$SNAPKEEP_DISKS"
[ "${#disks[@]}" -eq 2 ] || fail "expected 2 disks, got '$SNAPKEEP_DISKS'"
for d in "${disks[@]}"; do
	[ -b "$d" ] || fail "$d is not a block device"
	size=$(blockdev --getsize64 "$d")
	[ "$size" -eq $((64 << 20)) ] || fail "$d has $size bytes, not 64 MiB"
done

# A file system on the first disk survives umount and a fresh mount.
[ -d /sys/module/ext4 ] || fail "ext4 (from the header) is not loaded"
mkfs.ext4 -q -F "${disks[0]}"
mkdir -p /tmp/mnt
mount "${disks[0]}" /tmp/mnt
echo "written in the guest" > /tmp/mnt/hello
umount /tmp/mnt
mount -o ro "${disks[0]}" /tmp/mnt
grep -qx "written in the guest" /tmp/mnt/hello || fail "file lost on remount"
umount /tmp/mnt
e2fsck -fn "${disks[0]}" > /dev/null || fail "e2fsck found errors"

# The host is out of reach for writes.
findmnt -no OPTIONS / | tr , '\n' | grep -qx ro || fail "/ is not mounted ro"
if touch /usr/.snapkeep-probe 2> /dev/null; then
	fail "the host root is writable"
fi
if touch "$SNAPKEEP_REPO/.snapkeep-probe" 2> /dev/null; then
	fail "the repository is writable"
fi

# Scratch space and the results share are writable.
echo probe > /tmp/probe && rm /tmp/probe
echo probe > /dev/shm/probe && rm /dev/shm/probe
echo "selfcheck on $(uname -r)" > "$SNAPKEEP_RESULTS/selfcheck.txt"

echo "node $(node -v)"
node -e 'if (require("os").platform() !== "linux") process.exit(1)'

# Modules beyond the initramfs load from the host's /lib/modules.
modprobe loop
[ -d /sys/module/loop ] || fail "modprobe loop did not load loop"
echo "selfcheck ok"
