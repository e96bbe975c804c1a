#!/bin/bash
# The harness's disk options and hot-unplug work as docs/testing-vm.md
# says: 4Kn and 512e disks, discards and write-zeroes reaching the image,
# an odd size, a sparse 3 TiB NVMe disk, and PCI hot-unplug of a virtio
# and an NVMe disk asked for from inside the guest.
# vm: disks=64M:4k:discard,131075s:512e,3T:nvme,64M:nvme:4k:discard,32M
# vm: timeout=120
set -euo pipefail

fail() {
	echo "FAIL: $*"
	exit 1
}
read -r -a d <<< "$SNAPKEEP_DISKS"
[ ${#d[@]} -eq 5 ] || fail "expected 5 disks, got: $SNAPKEEP_DISKS"
q() { cat "/sys/block/${1#/dev/}/queue/$2"; }

echo "disks: ${d[*]}"
[[ ${d[0]} == /dev/vd* && ${d[1]} == /dev/vd* && ${d[4]} == /dev/vd* ]] ||
	fail "disks 0, 1, 4 should be virtio: ${d[*]}"
[[ ${d[2]} == /dev/nvme* && ${d[3]} == /dev/nvme* ]] ||
	fail "disks 2 and 3 should be NVMe: ${d[*]}"

# 4Kn virtio disk with discard=unmap.
[ "$(q "${d[0]}" logical_block_size)" = 4096 ] || fail "${d[0]}: logical block not 4096"
[ "$(q "${d[0]}" physical_block_size)" = 4096 ] || fail "${d[0]}: physical block not 4096"
[ "$(q "${d[0]}" discard_max_bytes)" -gt 0 ] || fail "${d[0]}: no discard"
[ "$(q "${d[0]}" write_zeroes_max_bytes)" -gt 0 ] || fail "${d[0]}: no write-zeroes"
echo "${d[0]}: 4096/4096, discard and write-zeroes"

# A discard reaches the image: the range reads back as zeros (qemu punched
# a hole). Without discard=unmap qemu would ignore it and the data stay.
filled() { dd if="$1" bs=1M skip="$2" count=1 iflag=direct status=none | tr -d '\0' | wc -c; }
dd if=/dev/urandom of="${d[0]}" bs=1M count=4 oflag=direct status=none
[ "$(filled "${d[0]}" 1)" -gt 0 ] || fail "random data did not land"
blkdiscard -o 1M -l 1M "${d[0]}"
[ "$(filled "${d[0]}" 1)" = 0 ] || fail "${d[0]}: discarded range still holds data"
blkdiscard -z -o 2M -l 1M "${d[0]}"
[ "$(filled "${d[0]}" 2)" = 0 ] || fail "${d[0]}: zeroed range still holds data"
[ "$(filled "${d[0]}" 3)" -gt 0 ] || fail "${d[0]}: data beyond the ranges was lost"
echo "${d[0]}: discard and write-zeroes reach the image"

# Odd size, 512e.
[ "$(blockdev --getsz "${d[1]}")" = 131075 ] || fail "${d[1]}: not 131075 sectors"
[ "$(q "${d[1]}" logical_block_size)" = 512 ] || fail "${d[1]}: logical block not 512"
[ "$(q "${d[1]}" physical_block_size)" = 4096 ] || fail "${d[1]}: physical block not 4096"
echo "${d[1]}: 131075 sectors, 512/4096"

# 3 TiB NVMe, sparse on the host: write and read back its last MiB.
[ "$(blockdev --getsize64 "${d[2]}")" = $((3 << 40)) ] || fail "${d[2]}: not 3 TiB"
last=$(((3 << 20) - 1))
head -c 1M /dev/urandom > /tmp/pattern
dd if=/tmp/pattern of="${d[2]}" bs=1M seek=$last oflag=direct status=none
dd if="${d[2]}" bs=1M skip=$last count=1 iflag=direct status=none | cmp - /tmp/pattern ||
	fail "${d[2]}: the last MiB did not read back"
echo "${d[2]}: 3 TiB, last MiB written and read back"

[ "$(q "${d[3]}" logical_block_size)" = 4096 ] || fail "${d[3]}: logical block not 4096"
echo "${d[3]}: NVMe 4Kn"

# Hot-unplug from inside the guest: a virtio disk, then an NVMe disk with
# an open file descriptor on it (the case a snapshot's storage meets).
"$SNAPKEEP_HOSTCTL" unplug "${d[4]}"
[ ! -e "/sys/block/${d[4]#/dev/}" ] || fail "${d[4]} still present"
echo "${d[4]}: unplugged"
exec 3< "${d[3]}"
"$SNAPKEEP_HOSTCTL" unplug 3
[ ! -e "/sys/block/${d[3]#/dev/}" ] || fail "${d[3]} still present"
if dd if=/proc/self/fd/3 bs=4096 count=1 iflag=direct status=none of=/dev/null 2>/dev/null; then
	fail "reading the unplugged ${d[3]} succeeded"
fi
exec 3<&-
echo "${d[3]}: unplugged while open; reads fail"
if "$SNAPKEEP_HOSTCTL" unplug 3 2> /tmp/err; then
	fail "a second unplug of disk 3 succeeded"
fi
grep -q "already unplugged" /tmp/err || fail "unexpected error: $(cat /tmp/err)"
echo "second unplug refused: $(cat /tmp/err)"
echo "ok"
