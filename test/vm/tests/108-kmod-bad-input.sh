#!/bin/bash
# Hostile input to /dev/snapkeep (test/vm/helpers/kmod-hostile.c): unknown
# and malformed device numbers, bad snapshot ids, NULL and wild pointers,
# empty, huge, overlapping, out-of-device and unaligned storage ranges,
# reserved fields, answers that cannot be written back, image devices as
# storage or origin. Each fails with its errno and leaves nothing behind;
# the kernel log gets at most the ratelimited lines of the control device.
# Then the same device by hand through `snapkeep kmod` (the CLI): a
# snapshot's life cycle, and its exit code for a missing tracker (each call
# is a node start, seconds under TCG: few of them).
# vm: disks=64M,64M modules=loop timeout=180
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
t0=$(date +%s.%N)
"$SNAPKEEP_HELPERS/kmod-hostile" "$disk" "$part" "$store" "$loop"
t1=$(date +%s.%N)

cli() { node "$SNAPKEEP_REPO/out/js/electron/cli/snapkeep.js" kmod "$@"; }
id=$(cli create "$disk")
cli storage "$id" "$store" 0:65536
cli take "$id"
cli snapshots --json | grep -q "\"taken\":true" || fail "snapshots --json does not show it taken"
set +e
cli info "$store" 2> /dev/null; missing=$?
set -e
[ "$missing" = 3 ] || fail "info of an untracked device exited $missing, not 3 (not found)"
cli destroy "$id"
cli detach "$disk"
echo "cli: life cycle and exit codes ok"
rmmod snapkeep
losetup -d "$loop"

# Only the control device's ratelimited complaints, and the usual lines.
dmesg > /tmp/dmesg.txt
complaints=$(grep -c 'snapkeep-ctl: .*(from kmod-hostile' /tmp/dmesg.txt || true)
echo "kernel log: $complaints ratelimited complaint(s)"
# pr_info_ratelimited() lets 10 through per 5 s window, the first opened by
# the first complaint: a slow kernel (the debug one) spreads the hostile
# calls over more windows than one.
windows=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print int((b - a) / 5) + 1 }')
[ "$complaints" -le $((10 * windows)) ] || fail "$complaints complaints in $windows window(s) of 5 s: not ratelimited"
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
