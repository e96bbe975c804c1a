#!/bin/bash
# Block-device round trip on virtio disks: ext4 on the first disk, a full
# backup of the unmounted device (O_DIRECT reads), more writes, an
# incremental (re-read, dedup), both reading every sector, then both points
# restored to the second disk in turn: byte-identical to the source at that
# time (sha256), e2fsck clean, the files as they were. A third backup of
# the same state reads only the blocks ext4 uses (the default): the blocks
# of the deleted file are free then and restore as zeros, so that restore
# is not byte-identical but e2fsck clean with the same files. Restoring to a
# mounted disk is refused.
# vm: disks=2x64M modules=ext4 timeout=600 smp=2 memory=1024
set -euo pipefail

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cli="node $SNAPKEEP_REPO/out/js/electron/cli/snapkeep.js"
[ -f "$SNAPKEEP_REPO/out/js/electron/cli/snapkeep.js" ] || fail "build first (npm run build)"
read -r -a disks <<< "$SNAPKEEP_DISKS"
src=${disks[0]}
dst=${disks[1]}

mkfs.ext4 -q -F "$src"
mkdir -p /tmp/m
mount "$src" /tmp/m
head -c 8000000 /dev/urandom > /tmp/m/one.bin
seq 1 200000 > /tmp/m/numbers.txt
umount /tmp/m
sum1=$(sha256sum < "$src")

$cli init /tmp/repo --no-encryption
p1=$($cli backup /tmp/repo "$src" --all-sectors --json | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
[ -n "$p1" ] || fail "no point id from the first backup"

mount "$src" /tmp/m
head -c 4000000 /dev/urandom > /tmp/m/two.bin
rm /tmp/m/numbers.txt
files2=$(cd /tmp/m && sha256sum one.bin two.bin)
umount /tmp/m
sum2=$(sha256sum < "$src")
p2=$($cli backup /tmp/repo "$src" --all-sectors --json | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
[ -n "$p2" ] || fail "no point id from the second backup"
p3=$($cli backup /tmp/repo "$src" --json | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
[ -n "$p3" ] || fail "no point id from the used-blocks backup"
$cli list /tmp/repo
$cli verify /tmp/repo --data

check() {
	local point=$1 want=$2
	$cli restore /tmp/repo "$point" "$dst"
	[ "$(sha256sum < "$dst")" = "$want" ] || fail "restore of $point differs from the source"
	e2fsck -fn "$dst" > /dev/null || fail "e2fsck found errors after restoring $point"
}
check "$p1" "$sum1"
mount -o ro "$dst" /tmp/m
[ -f /tmp/m/numbers.txt ] && [ ! -e /tmp/m/two.bin ] || fail "point 1 has the wrong files"
umount /tmp/m
check "$p2" "$sum2"
mount -o ro "$dst" /tmp/m
[ -f /tmp/m/two.bin ] && [ ! -e /tmp/m/numbers.txt ] || fail "point 2 has the wrong files"
umount /tmp/m

# Used blocks only: the same files, a clean file system.
$cli restore /tmp/repo "$p3" "$dst"
e2fsck -fn "$dst" > /dev/null || fail "e2fsck found errors after restoring the used-blocks point $p3"
mount -o ro "$dst" /tmp/m
[ "$(cd /tmp/m && sha256sum one.bin two.bin)" = "$files2" ] || fail "the used-blocks point $p3 has other file contents"
[ ! -e /tmp/m/numbers.txt ] || fail "the used-blocks point $p3 has the deleted file"

# The target is mounted now: restore must refuse with exit code 7.
set +e
$cli restore /tmp/repo "$p1" "$dst" 2> /tmp/err
code=$?
set -e
umount /tmp/m
[ "$code" = 7 ] || fail "restore to a mounted disk exited $code: $(cat /tmp/err)"
grep -q mounted /tmp/err || fail "no clear message: $(cat /tmp/err)"
echo "block round trip ok"
