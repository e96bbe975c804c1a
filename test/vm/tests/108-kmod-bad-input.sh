#!/bin/bash
# Hostile input to /dev/snapkeep (test/vm/helpers/kmod-hostile.c): unknown
# and malformed device numbers, bad snapshot ids, NULL and wild pointers,
# empty, huge, overlapping, out-of-device and unaligned storage ranges,
# reserved fields, answers that cannot be written back, image devices as
# storage or origin. Each fails with its errno and leaves nothing behind;
# the kernel log gets at most the ratelimited lines of the control device.
# vm: disks=64M,64M modules=loop timeout=120
set -euo pipefail

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

read -r -a disks <<< "$SNAPKEEP_DISKS"
disk=${disks[0]}
store=${disks[1]}
printf 'label: dos\n,32M\n,\n' | sfdisk -q "$disk"
part=${disk}1
for _ in $(seq 50); do [ -b "$part" ] && break; sleep 0.1; done
truncate -s 16M /tmp/loop4k.img
loop=$(losetup --sector-size 4096 -f --show /tmp/loop4k.img)

dmesg -C
insmod "$SNAPKEEP_KO"
"$SNAPKEEP_HELPERS/kmod-hostile" "$disk" "$part" "$store" "$loop"
rmmod snapkeep
losetup -d "$loop"

# Only the control device's ratelimited complaints, and the usual lines.
dmesg > /tmp/dmesg.txt
complaints=$(grep -c 'snapkeep-ctl: .*(from kmod-hostile' /tmp/dmesg.txt || true)
echo "kernel log: $complaints ratelimited complaint(s)"
[ "$complaints" -le 10 ] || fail "$complaints complaints: not ratelimited"
unexpected=$(grep snapkeep /tmp/dmesg.txt | grep -v \
	-e 'snapkeep-ctl: .*(from kmod-hostile' -e 'callbacks suppressed' \
	-e 'snapkeep-ctl: \(stopped \)\?tracking' -e 'snapkeep-snapshot: snapshot' \
	-e 'snapkeep: \(version\|unloaded\|loading out-of-tree\|module verification\)' \
	|| true)
if [ -n "$unexpected" ]; then
	echo "$unexpected"
	fail "unexpected kernel log lines"
fi
echo "ok"
