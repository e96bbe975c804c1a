#!/bin/bash
# File-level restore over NBD: a partitioned virtio disk with ext4 is backed
# up (unmounted block device), the restore point is served by `snapkeep
# mount` through the kernel's nbd client, its partition is mounted
# read-only, a file is compared, and `snapkeep umount` takes it all down
# (the serving process then exits 0 and the device is free again).
# vm: disks=1x96M modules=ext4,nbd timeout=600 smp=2 memory=1024
set -euo pipefail

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cli="node $SNAPKEEP_REPO/out/js/electron/cli/snapkeep.js"
[ -f "$SNAPKEEP_REPO/out/js/electron/cli/snapkeep.js" ] || fail "build first (npm run build)"
read -r -a disks <<< "$SNAPKEEP_DISKS"
disk=${disks[0]}

# A GPT disk with one ext4 partition holding a known file.
printf 'label: gpt\n,64M,L\n' | sfdisk -q "$disk"
blockdev --rereadpt "$disk"
part=${disk}1
for _ in $(seq 50); do [ -b "$part" ] && break; sleep 0.1; done
[ -b "$part" ] || fail "$part did not appear"
mkfs.ext4 -q -L snapdata "$part"
mkdir -p /tmp/src
mount "$part" /tmp/src
head -c 3000000 /dev/urandom > /tmp/src/payload.bin
mkdir -p /tmp/src/docs && echo "file restore works" > /tmp/src/docs/hello.txt
umount /tmp/src
want=$(sha256sum < <(mount -o ro "$part" /tmp/src && cat /tmp/src/payload.bin; umount /tmp/src))

export SNAPKEEP_PASSWORD=vm-secret
$cli init /tmp/repo
$cli backup /tmp/repo "$disk" --json > /tmp/point.json
grep -q '"fsType":"ext4"' /tmp/point.json || fail "manifest lacks the ext4 partition: $(cat /tmp/point.json)"
grep -q '"fsLabel":"snapdata"' /tmp/point.json || fail "manifest lacks the label"
grep -q '"partTableType":"gpt"' /tmp/point.json || fail "manifest lacks the gpt table"

# Wipe the source so nothing can be read from it by accident.
head -c $((96 << 20)) /dev/zero > "$disk"

$cli mount /tmp/repo latest --device /dev/nbd0 --dir /tmp/mnt --json > /tmp/mount.json 2> /tmp/mount.err &
server=$!
for _ in $(seq 300); do
	[ -s /tmp/mount.json ] && break
	kill -0 $server 2> /dev/null || fail "snapkeep mount exited: $(cat /tmp/mount.err)"
	sleep 0.1
done
[ -s /tmp/mount.json ] || fail "snapkeep mount did not report"
cat /tmp/mount.json
mp=/tmp/mnt/nbd0p1
findmnt -no OPTIONS "$mp" | tr , '\n' | grep -qx ro || fail "$mp is not mounted read-only"
[ "$(cat "$mp/docs/hello.txt")" = "file restore works" ] || fail "hello.txt differs"
[ "$(sha256sum < "$mp/payload.bin")" = "$want" ] || fail "payload.bin differs"
if touch "$mp/new" 2> /dev/null; then fail "the mount is writable"; fi
if dd if=/dev/zero of=/dev/nbd0 bs=4096 count=1 oflag=direct 2> /dev/null; then
	fail "the NBD device accepted a write"
fi

$cli umount /dev/nbd0
wait $server || fail "snapkeep mount exited $?: $(cat /tmp/mount.err)"
! findmnt "$mp" > /dev/null || fail "$mp is still mounted"
[ "$(cat /sys/block/nbd0/size)" = 0 ] || fail "/dev/nbd0 is still attached"
echo "nbd file restore ok"
