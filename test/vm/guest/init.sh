#!/bin/busybox sh
# shellcheck shell=sh
#
# /init of the test VM: PID 1 in the initramfs that test/vm/lib/initramfs.mjs
# builds (busybox, kernel modules, this script). It runs one test and
# powers the machine off. The host side is test/vm/run.mjs.
#
#  1. load the modules that reach the host (/etc/modules.base);
#  2. mount the per-test results share (9p tag "results", read-write) on
#     /results and read /results/job.env, written by the host;
#  3. load the test's modules (the NVMe driver for a test with an NVMe
#     disk; the NIC's, configured, for a test with a network), mount the
#     host's root (9p tag "hostroot", read-only) on /host with proc, sys,
#     dev, devpts, /tmp, /run, /dev/shm inside it, the debug kernel's
#     modules on its /lib/modules, a writable /etc/lvm, and the results
#     share again on /host/run/snapkeep-results;
#  4. run the test chrooted into /host, output in /results/output.log,
#     killed after $TEST_TIMEOUT seconds (blocked tasks dumped first);
#  5. write /results/tainted, /results/dmesg.log, then /results/exit-status
#     last (the host reads its presence as "the guest reported"), sync and
#     power off. A panic reboots, and qemu's -no-reboot turns that into exit.
#
# Nothing printed here may match test/vm/lib/kernel-log.mjs's patterns:
# the console log is scanned for them.

/bin/busybox --install -s /bin
export PATH=/bin
export HOME=/
R=/results

say() {
	echo "vm-init: $*"
}

# A setup failure is reported like a failed test, with the reason.
fatal() {
	say "setup failed: $*"
	if [ -n "$RESULTS_MOUNTED" ]; then
		echo "vm-init: setup failed: $*" >> $R/output.log
		cat /proc/sys/kernel/tainted > $R/tainted
		dmesg > $R/dmesg.log
		echo 125 > $R/exit-status
		sync
	fi
	poweroff -f
	sleep 60
}

# insmod unless loaded; $1 is a path under /lib/modules of the initramfs.
# A failure is not fatal by itself: soft dependencies such as crc32c-intel
# refuse to load on a CPU without the instructions they use. The modules
# that were asked for are checked by name afterwards (need).
load() {
	name=$(basename "$1" .ko | tr - _)
	[ -d "/sys/module/$name" ] && return 0
	insmod "/lib/modules/$1" || say "insmod $1 failed"
}

need() {
	for n in "$@"; do
		n=$(echo "$n" | tr - _)
		[ -d "/sys/module/$n" ] || fatal "module $n is not loaded"
	done
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for m in $(cat /etc/modules.base); do
	load "$m"
done
# Loaded or built in (the debug kernel), the file system must be there.
grep -qw 9p /proc/filesystems || fatal "no 9p file system (modules: $(cat /etc/modules.base))"

# 9p over virtio: big messages make reading node and the repo from the
# host much faster than the default 8 KiB (9p caps it at the virtio ring).
P9="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p $R
mount -t 9p -o "$P9" results $R || fatal "cannot mount the results share"
RESULTS_MOUNTED=1
[ -r $R/job.env ] || fatal "no job.env in the results share"
. $R/job.env
cat /proc/uptime > $R/uptime-setup

for m in $TEST_MODULES; do
	load "$m"
done
need $TEST_MODULE_NAMES

# NVMe disks: the driver only for a test that has one (a module on Debian's
# kernels, built in on the debug kernel).
if [ -n "$TEST_NVME" ]; then
	for m in $(cat /etc/modules.nvme); do
		load "$m"
	done
fi

# Networking only for a test that asked (net= in its header): qemu's user
# network, reached from the host through the forwarded ports.
if [ -n "$TEST_NET" ]; then
	for m in $(cat /etc/modules.net); do
		load "$m"
	done
	ip link set lo up || fatal "cannot bring lo up"
	nic=""
	tries=0
	while [ -z "$nic" ] && [ $tries -lt 50 ]; do
		for n in /sys/class/net/*; do
			[ "${n##*/}" = lo ] || nic=${n##*/}
		done
		[ -n "$nic" ] || sleep 0.1
		tries=$((tries + 1))
	done
	[ -n "$nic" ] || fatal "no network interface appeared"
	ip addr add 10.0.2.15/24 dev "$nic" &&
	ip link set "$nic" up &&
	ip route add default via 10.0.2.2 ||
		fatal "cannot configure $nic"
	say "network: $nic 10.0.2.15/24, forwarded (host:guest) $TEST_HOSTFWD"
fi

H=/host
mkdir -p $H
# The root is read-only and nothing changes it during a test, so the
# guest may cache it (cache=loose): node starts in a fraction of the time.
mount -t 9p -o "ro,$P9,cache=loose" hostroot $H ||
	fatal "cannot mount the host root"

# /tmp and /run are covered by tmpfs below; a repository checked out under
# either would vanish, so keep it visible at the same path.
KEEP=""
case "$SNAPKEEP_REPO" in
/tmp/*|/run/*)
	KEEP=/keep-repo
	mkdir -p $KEEP
	mount -o bind "$H$SNAPKEEP_REPO" $KEEP || fatal "bind $SNAPKEEP_REPO"
	;;
esac

mount -t proc proc $H/proc &&
mount -t sysfs sysfs $H/sys &&
mount -t devtmpfs devtmpfs $H/dev &&
mkdir -p $H/dev/pts $H/dev/shm &&
mount -t devpts -o newinstance,ptmxmode=0666 devpts $H/dev/pts &&
mount -t tmpfs -o mode=1777 tmpfs $H/dev/shm &&
mount -t tmpfs -o mode=1777 tmpfs $H/tmp &&
mount -t tmpfs -o mode=0755 tmpfs $H/run ||
	fatal "cannot mount the guest file systems"
mount -t debugfs debugfs $H/sys/kernel/debug 2>/dev/null
# The debug kernel's modules are in its cache entry on the host, not in
# /lib/modules: show them there, so modprobe in the test finds them.
if [ -n "$TEST_MODULES_ROOT" ]; then
	mount -o bind "$H$TEST_MODULES_ROOT/lib/modules" $H/lib/modules ||
		fatal "cannot bind the modules of $SNAPKEEP_KERNEL"
fi
# LVM, cryptsetup and mdadm work on a read-only root without udev: LVM
# with a configuration that keeps its metadata backups in /run and does
# not wait for udev; lock directories in /run.
if [ -d $H/etc/lvm ]; then
	mount -t tmpfs -o mode=0755 tmpfs $H/etc/lvm &&
	cat > $H/etc/lvm/lvm.conf <<'LVM' || fatal "cannot configure LVM"
# Written by the test VM's /init (test/vm/guest/init.sh).
activation {
	udev_sync = 0
	udev_rules = 0
	monitoring = 0
}
backup {
	backup_dir = "/run/lvm/backup"
	archive = 0
}
devices {
	obtain_device_list_from_udev = 0
}
global {
	use_lvmpolld = 0
}
LVM
fi
mkdir -p $H/run/lvm $H/run/lock/lvm $H/run/cryptsetup $H/run/mdadm
# Modules the kernel asks for itself (a cipher for dm-crypt, a RAID
# personality, a file system at mount): its usermode helper runs in this
# initramfs, so hand the request to the host's modprobe in /host.
# Each request is logged in modprobe-requests.log of the results.
printf '#!/bin/sh\necho "$*" >> %s/modprobe-requests.log\nexec /bin/chroot %s /sbin/modprobe "$@"\n' $R $H > /bin/modprobe-host &&
chmod 755 /bin/modprobe-host &&
echo /bin/modprobe-host > /proc/sys/kernel/modprobe ||
	fatal "cannot set the kernel's modprobe"
ln -sf /proc/self/fd $H/dev/fd
ln -sf /proc/self/fd/0 $H/dev/stdin
ln -sf /proc/self/fd/1 $H/dev/stdout
ln -sf /proc/self/fd/2 $H/dev/stderr

if [ -n "$KEEP" ]; then
	mkdir -p "$H$SNAPKEEP_REPO"
	mount -o bind $KEEP "$H$SNAPKEEP_REPO" || fatal "rebind repository"
fi
mkdir -p $H/run/snapkeep-results
mount -o bind $R $H/run/snapkeep-results || fatal "bind results"

# Test disks in the order the host attached them: serials skdisk0, 1...
# (virtio: /sys/block/vdX/serial; NVMe: the controller's serial, padded
# with blanks, which the unquoted echo drops). NVMe controllers probe
# asynchronously: wait for them.
serial_of() {
	for f in "$1/serial" "$1/device/serial"; do
		if [ -r "$f" ]; then
			# shellcheck disable=SC2046
			echo $(cat "$f")
			return
		fi
	done
}
DISKS=""
i=0
while [ $i -lt "$TEST_DISK_COUNT" ]; do
	disk=""
	tries=0
	while [ -z "$disk" ] && [ $tries -lt 100 ]; do
		for d in /sys/block/vd* /sys/block/nvme*; do
			[ -e "$d" ] || continue
			[ "$(serial_of "$d")" = "skdisk$i" ] && disk=/dev/${d##*/}
		done
		[ -b "$disk" ] || { disk=""; sleep 0.1; }
		tries=$((tries + 1))
	done
	[ -n "$disk" ] || fatal "test disk skdisk$i not found"
	DISKS="$DISKS $disk"
	i=$((i + 1))
done
DISKS="${DISKS# }"

cat /proc/uptime > $R/uptime-start
say "running $TEST_FILE"
setsid chroot $H /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8 TERM=dumb \
	SNAPKEEP_REPO="$SNAPKEEP_REPO" \
	SNAPKEEP_KO="$SNAPKEEP_KO" \
	SNAPKEEP_KERNEL="$SNAPKEEP_KERNEL" \
	SNAPKEEP_HELPERS="$SNAPKEEP_HELPERS" \
	SNAPKEEP_DISKS="$DISKS" \
	SNAPKEEP_RESULTS=/run/snapkeep-results \
	SNAPKEEP_HOSTCTL="$SNAPKEEP_REPO/test/vm/guest/hostctl.sh" \
	SNAPKEEP_TEST="$TEST_NAME" \
	${TEST_NET:+"SNAPKEEP_HOSTFWD=$TEST_HOSTFWD"} \
	/bin/sh -c 'cd /tmp && exec "$@"' sh $TEST_INTERP "$TEST_FILE" \
	> $R/output.log 2>&1 < /dev/null &
pid=$!

(
	sleep "$TEST_TIMEOUT"
	if kill -0 $pid 2>/dev/null; then
		echo "$TEST_TIMEOUT" > $R/timed-out
		# Stacks of blocked (D state) tasks into the kernel log.
		echo w > /proc/sysrq-trigger
		# Where a lost I/O sits: still in a device's queue (its
		# inflight count), or above it (device-mapper status).
		{
			for d in /sys/block/*; do
				[ -e "$d" ] || continue
				echo "${d##*/} inflight $(cat "$d/inflight" 2>/dev/null)"
			done
			dmsetup table 2>/dev/null
			dmsetup status 2>/dev/null
			# The module's copies and the writes it holds.
			cat /sys/kernel/snapkeep/inflight 2>/dev/null
		} > $R/io-at-timeout 2>&1
		# The host reads the disks' queues from qemu's side now
		# (lib/virtio-probe.mjs): stay up until it has.
		for _ in $(seq 60); do
			[ -e $R/probed ] && break
			sleep 0.5
		done
		kill -KILL -$pid
	fi
) &
watchdog=$!

wait $pid
status=$?
kill $watchdog 2>/dev/null
cat /proc/uptime > $R/uptime-end
say "test exited with status $status"

cat /proc/sys/kernel/tainted > $R/tainted
dmesg > $R/dmesg.log
echo $status > $R/exit-status
sync
poweroff -f
sleep 60
