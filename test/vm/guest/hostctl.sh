#!/bin/bash
# Ask the host that runs this VM to act on it, and wait until it has
# (host side: test/vm/lib/hostctl.mjs). A test finds this script in
# $SNAPKEEP_HOSTCTL.
#
#   "$SNAPKEEP_HOSTCTL" unplug 1           # disk 1 of $SNAPKEEP_DISKS (from 0)
#   "$SNAPKEEP_HOSTCTL" unplug /dev/vdb    # the same, by its device
#
# unplug: PCI hot-unplug of the disk (qemu device_del). Returns once the
# guest's kernel has let the device go and its block device is gone;
# exits 1 with the host's reason otherwise.
set -euo pipefail

usage() {
	echo "usage: $0 unplug DISK-INDEX|/dev/DEVICE" >&2
	exit 2
}
[ $# -eq 2 ] && [ "$1" = unplug ] || usage
: "${SNAPKEEP_RESULTS:?not in a test VM}"

read -r -a disks <<< "${SNAPKEEP_DISKS:-}"
arg=$2
if [[ $arg =~ ^[0-9]+$ ]]; then
	index=$arg
else
	index=""
	for i in "${!disks[@]}"; do
		[ "${disks[$i]}" = "$arg" ] && index=$i
	done
	[ -n "$index" ] || { echo "hostctl: $arg is not a test disk (${disks[*]})" >&2; exit 2; }
fi
dev=${disks[$index]:-}

dir=$SNAPKEEP_RESULTS/hostctl
mkdir -p "$dir"
id="$(date +%s%N)-$$"
# Written whole, then renamed: the host never reads half a request.
printf 'unplug %s\n' "$index" > "$dir/$id.tmp-req"
mv "$dir/$id.tmp-req" "$dir/$id.req"

for _ in $(seq 600); do
	if [ -e "$dir/$id.res" ]; then
		answer=$(cat "$dir/$id.res")
		if [ "$answer" != ok ]; then
			echo "hostctl: unplug $arg: ${answer#error: }" >&2
			exit 1
		fi
		# The kernel removes the disk before it acknowledges the eject;
		# wait for sysfs anyway rather than trust that order.
		if [ -n "$dev" ]; then
			for _ in $(seq 100); do
				[ -e "/sys/block/${dev#/dev/}" ] || exit 0
				sleep 0.1
			done
			echo "hostctl: $dev still present after the host unplugged it" >&2
			exit 1
		fi
		exit 0
	fi
	sleep 0.1
done
echo "hostctl: no answer from the host within 60 s" >&2
exit 1
