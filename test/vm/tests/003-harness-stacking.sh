#!/bin/bash
# The storage stacks of a usual encrypted desktop work in the guest, with
# the host's tools and no udev: md RAID1 of two disks, a partition on it,
# LUKS2 on the partition, LVM on LUKS, ext4 on a logical volume; and the
# kernel loads the modules it asks for itself (the cipher, the RAID level).
# vm: disks=2x96M timeout=150
set -euo pipefail

fail() {
	echo "FAIL: $*"
	exit 1
}
read -r -a d <<< "$SNAPKEEP_DISKS"
for m in dm-mod md-mod; do
	modprobe "$m"
done

mdadm --create /dev/md0 --level=1 --raid-devices=2 --metadata=1.2 \
	--assume-clean --run --quiet "${d[0]}" "${d[1]}"
grep -q "md0 : active raid1" /proc/mdstat || fail "md0 not active: $(cat /proc/mdstat)"
echo "md0: raid1 of ${d[*]}"

echo 'label: gpt
start=2048, size=163840, type=linux' | sfdisk --quiet /dev/md0
for _ in $(seq 50); do
	[ -b /dev/md0p1 ] && break
	sleep 0.1
done
[ -b /dev/md0p1 ] || fail "no /dev/md0p1 after partitioning"

# A cheap key derivation: argon2's default wants 1 GiB, the guest has that
# in total.
head -c 32 /dev/urandom > /tmp/key
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 \
	--pbkdf-force-iterations 1000 --key-file /tmp/key /dev/md0p1
cryptsetup open --key-file /tmp/key /dev/md0p1 crypt0
[ -b /dev/mapper/crypt0 ] || fail "no /dev/mapper/crypt0"
echo "md0p1: LUKS2 open as crypt0 ($(cryptsetup status crypt0 | awk '/cipher:/ {print $2}'))"

pvcreate --quiet /dev/mapper/crypt0
vgcreate --quiet vg0 /dev/mapper/crypt0
lvcreate --quiet --yes --zero n -L 48M -n lv0 vg0
[ -b /dev/vg0/lv0 ] || fail "no /dev/vg0/lv0"
echo "vg0/lv0: $(blockdev --getsize64 /dev/vg0/lv0) bytes"

mkfs.ext4 -q /dev/vg0/lv0
mkdir -p /tmp/mnt
mount /dev/vg0/lv0 /tmp/mnt
head -c 8M /dev/urandom > /tmp/mnt/data
sum=$(md5sum < /tmp/mnt/data)
umount /tmp/mnt

# Take it all down and bring it up again from the disks alone.
vgchange --quiet -an vg0
cryptsetup close crypt0
mdadm --stop --quiet /dev/md0
[ ! -e /dev/md0p1 ] || fail "md0p1 still there after stop"
mdadm --assemble --quiet /dev/md0 "${d[0]}" "${d[1]}"
for _ in $(seq 50); do
	[ -b /dev/md0p1 ] && break
	sleep 0.1
done
cryptsetup open --key-file /tmp/key /dev/md0p1 crypt0
vgchange --quiet -ay vg0
e2fsck -fn /dev/vg0/lv0 > /tmp/fsck.log 2>&1 || fail "fsck: $(cat /tmp/fsck.log)"
mount -o ro /dev/vg0/lv0 /tmp/mnt
[ "$(md5sum < /tmp/mnt/data)" = "$sum" ] || fail "data changed across reassembly"
umount /tmp/mnt
vgchange --quiet -an vg0
cryptsetup close crypt0
mdadm --stop --quiet /dev/md0
echo "reassembled from the disks: fsck clean, data intact"
echo ok
