#!/bin/bash
# snapkeep.ko loads and creates /dev/snapkeep, answers SNAPKEEP_IOCTL_VERSION
# with the numbers of the uapi header (64-bit caller, 32-bit caller through
# compat_ioctl, and the native addon), rejects unknown commands with ENOTTY
# and non-root callers, and unloads; twice, to catch leftovers of the first
# load.
# vm: timeout=120
set -euo pipefail

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

header="$SNAPKEEP_REPO/kmod/include/uapi/snapkeep.h"
define() {
	sed -n "s/^#define[[:space:]]\+$1[[:space:]]\+\(.*\)$/\1/p" "$header"
}
major=$(define SNAPKEEP_ABI_MAJOR)
minor=$(define SNAPKEEP_ABI_MINOR)
ctl=/dev/$(define SNAPKEEP_CTL_NAME | tr -d '"')
[ -n "$major" ] && [ -n "$minor" ] || fail "cannot parse $header"
version=$(modinfo -F version "$SNAPKEEP_KO")
expected="{\"abiMajor\":$major,\"abiMinor\":$minor,\"moduleVersion\":\"$version\"}"
echo "expecting $expected from $ctl"

addon="$SNAPKEEP_REPO/out/js/native/index.js"
addon_missing=""

check() {
	local what=$1 got=$2
	[ "$got" = "$expected" ] || fail "$what answered '$got'"
	echo "ok: $what"
}

cycle() {
	[ ! -e /sys/module/snapkeep ] || fail "snapkeep is already loaded"
	insmod "$SNAPKEEP_KO"
	[ -c "$ctl" ] || fail "$ctl is missing after insmod"
	[ "$(stat -c %a "$ctl")" = 600 ] || fail "$ctl mode is not 600"
	[ "$(cat /sys/module/snapkeep/version)" = "$version" ] ||
		fail "/sys/module/snapkeep/version is not $version"

	check "ioctl (64-bit)" "$("$SNAPKEEP_HELPERS/ioctl-version")"
	check "ioctl (32-bit compat)" "$("$SNAPKEEP_HELPERS/ioctl-version32")"
	"$SNAPKEEP_HELPERS/ioctl-version" --unknown
	if setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SNAPKEEP_HELPERS/ioctl-version" 2> /dev/null; then
		fail "an unprivileged user opened $ctl"
	fi

	if [ -f "$addon" ]; then
		check "native addon" "$(node -e "
			const n = require(process.env.SNAPKEEP_REPO +
				'/out/js/native/index.js');
			console.log(JSON.stringify(n.moduleVersion()));")"
	else
		addon_missing=1
	fi

	rmmod snapkeep
	[ ! -e "$ctl" ] || fail "$ctl still exists after rmmod"
	[ ! -e /sys/module/snapkeep ] || fail "snapkeep still loaded after rmmod"
}

cycle
echo "first load/unload cycle ok"
cycle
echo "second load/unload cycle ok"

if [ -n "$addon_missing" ]; then
	fail "native addon not built: run npm run build ($addon is missing)"
fi
