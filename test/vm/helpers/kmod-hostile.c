// SPDX-License-Identifier: GPL-2.0
/*
 * kmod-hostile - feeds /dev/snapkeep malformed and impossible requests and
 * checks each one fails with the right errno, leaving nothing behind.
 *
 *   kmod-hostile DISK PART STORAGE LOOP4K
 *
 * DISK: a whole disk with a partition PART; STORAGE: a spare device;
 * LOOP4K: a device with 4096-byte logical blocks (refused as storage of
 * DISK, which has 512-byte blocks). Nothing may be tracked
 * when it starts; nothing is when it ends. Prints one line per check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snapkeep.h"

static int ctl, failures;
static void *bad = (void *)16;	/* never mapped */

#define P(x) ((__u64)(uintptr_t)(x))

static void expect(const char *what, int ret, int err)
{
	int got = ret < 0 ? errno : 0;

	if (got == err) {
		printf("ok   %-58s %s\n", what, err ? strerrorname_np(err) : "0");
		return;
	}
	printf("FAIL %-58s got %s, expected %s\n", what,
	       got ? strerrorname_np(got) : "0", err ? strerrorname_np(err) : "0");
	failures++;
}

static void expect_any(const char *what, int ret, int e1, int e2, int e3)
{
	int got = ret < 0 ? errno : 0;

	if (ret < 0 && (got == e1 || got == e2 || got == e3)) {
		printf("ok   %-58s %s\n", what, strerrorname_np(got));
		return;
	}
	printf("FAIL %-58s got %s\n", what, got ? strerrorname_np(got) : "0");
	failures++;
}

static struct snapkeep_dev dev_of(const char *path)
{
	struct snapkeep_dev d = { 0, 0 };
	struct stat st;

	if (stat(path, &st) || !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "kmod-hostile: %s is not a block device\n", path);
		exit(2);
	}
	d.major = major(st.st_rdev);
	d.minor = minor(st.st_rdev);
	return d;
}

static uint64_t sectors_of(const char *path)
{
	uint64_t bytes = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || ioctl(fd, 0x80081272 /* BLKGETSIZE64 */, &bytes))
		exit(2);
	close(fd);
	return bytes / 512;
}

static int io(unsigned long cmd, void *arg)
{
	return ioctl(ctl, cmd, arg);
}

/*
 * Root without CAP_SYS_ADMIN (a container, or a descriptor passed on):
 * opening the device and every command on a descriptor opened before
 * fail with EPERM. Checked in a child that drops all its capabilities.
 */
static void without_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { { 0 } };
	struct snapkeep_version ver;
	int status, fd;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (!pid) {
		if (syscall(SYS_capset, &hdr, data))
			_exit(2);
		fd = open("/dev/snapkeep", O_RDWR);
		expect("open without CAP_SYS_ADMIN", fd, EPERM);
		expect("version on an inherited descriptor without CAP_SYS_ADMIN",
		       io(SNAPKEEP_IOCTL_VERSION, &ver), EPERM);
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		printf("FAIL the checks without CAP_SYS_ADMIN\n");
		failures++;
	}
}

int main(int argc, char **argv)
{
	struct snapkeep_dev disk, part, store, loop4k, none = { 240, 7 };
	struct snapkeep_snapshot_create create = { 0 };
	struct snapkeep_snapshot_storage st = { 0 };
	struct snapkeep_tracker_dirty dirty = { 0 };
	struct snapkeep_tracker_info info = { 0 };
	struct snapkeep_tracker_map map = { 0 };
	struct snapkeep_snapshot_event ev = { 0 };
	struct snapkeep_snapshot_info si = { 0 };
	struct snapkeep_sectors r[3];
	struct snapkeep_uuid id, unknown;
	struct snapkeep_list list = { 0 };
	struct snapkeep_dev two[2];
	uint64_t store_sectors;
	unsigned char *mapbuf;
	void *ro;

	if (argc != 5) {
		fprintf(stderr, "usage: kmod-hostile DISK PART STORAGE LOOP4K\n");
		return 2;
	}
	disk = dev_of(argv[1]);
	part = dev_of(argv[2]);
	store = dev_of(argv[3]);
	loop4k = dev_of(argv[4]);
	store_sectors = sectors_of(argv[3]);
	ctl = open("/dev/" SNAPKEEP_CTL_NAME, O_RDONLY);
	if (ctl < 0) {
		perror("/dev/" SNAPKEEP_CTL_NAME);
		return 2;
	}
	memset(&unknown, 0x5a, sizeof(unknown));

	/* Unknown commands. */
	expect("unknown command number", ioctl(ctl, _IO(SNAPKEEP_IOCTL_MAGIC, 0x7e), 0), ENOTTY);
	expect("ATTACH with the wrong size",
	       ioctl(ctl, _IOW(SNAPKEEP_IOCTL_MAGIC, 0x01, int), 0), ENOTTY);

	/* Pointers. */
	expect("attach: NULL", io(SNAPKEEP_IOCTL_ATTACH, NULL), EFAULT);
	expect("attach: bad pointer", io(SNAPKEEP_IOCTL_ATTACH, bad), EFAULT);
	expect("tracker info: NULL", io(SNAPKEEP_IOCTL_TRACKER_INFO, NULL), EFAULT);
	expect("create: NULL", io(SNAPKEEP_IOCTL_CREATE, NULL), EFAULT);
	expect("destroy: NULL", io(SNAPKEEP_IOCTL_DESTROY, NULL), EFAULT);
	expect("take: bad pointer", io(SNAPKEEP_IOCTL_TAKE, bad), EFAULT);
	expect("wait event: NULL", io(SNAPKEEP_IOCTL_WAIT_EVENT, NULL), EFAULT);
	expect("append storage: NULL", io(SNAPKEEP_IOCTL_APPEND_STORAGE, NULL), EFAULT);

	/* Device numbers. */
	struct snapkeep_dev zero = { 0, 0 }, huge = { 4096, 0 }, hugemin = { 8, 1 << 20 };

	expect("attach 0:0", io(SNAPKEEP_IOCTL_ATTACH, &zero), EINVAL);
	expect("attach major 4096", io(SNAPKEEP_IOCTL_ATTACH, &huge), EINVAL);
	expect("attach minor 2^20", io(SNAPKEEP_IOCTL_ATTACH, &hugemin), EINVAL);
	expect_any("attach a device that does not exist",
		   io(SNAPKEEP_IOCTL_ATTACH, &none), ENXIO, ENODEV, ENOENT);
	expect("detach an untracked device", io(SNAPKEEP_IOCTL_DETACH, &disk), ENOENT);
	info.dev = disk;
	expect("tracker info of an untracked device", io(SNAPKEEP_IOCTL_TRACKER_INFO, &info), ENOENT);

	/* Whole disk and partition. */
	expect("attach the disk", io(SNAPKEEP_IOCTL_ATTACH, &disk), 0);
	expect("attach it again", io(SNAPKEEP_IOCTL_ATTACH, &disk), EEXIST);
	expect("attach its partition", io(SNAPKEEP_IOCTL_ATTACH, &part), EBUSY);
	expect("tracker info", io(SNAPKEEP_IOCTL_TRACKER_INFO, &info), 0);
	info.reserved = 1;
	expect("tracker info: reserved field set", io(SNAPKEEP_IOCTL_TRACKER_INFO, &info), EINVAL);
	info.reserved = 0;
	info.reserved0[2] = 1;
	expect("tracker info: reserved0 set", io(SNAPKEEP_IOCTL_TRACKER_INFO, &info), EINVAL);
	info.reserved0[2] = 0;
	without_cap_sys_admin();

	/* Reading the map. */
	mapbuf = malloc(info.block_count + 1);
	map.dev = disk;
	map.length = 16;
	map.buffer = 0;
	expect("read map into NULL", io(SNAPKEEP_IOCTL_READ_MAP, &map), EFAULT);
	map.buffer = P(bad);
	expect("read map into a bad pointer", io(SNAPKEEP_IOCTL_READ_MAP, &map), EFAULT);
	map.buffer = P(mapbuf);
	map.length = ~0ULL;
	expect("read map, huge length, big enough buffer", io(SNAPKEEP_IOCTL_READ_MAP, &map), 0);
	if (map.copied != info.block_count) {
		printf("FAIL read map copied %llu, not %llu\n",
		       (unsigned long long)map.copied, (unsigned long long)info.block_count);
		failures++;
	}
	map.offset = ~0ULL;
	expect("read map past the end", io(SNAPKEEP_IOCTL_READ_MAP, &map), 0);
	if (map.copied) {
		printf("FAIL read map past the end copied %llu\n", (unsigned long long)map.copied);
		failures++;
	}

	/* Marking dirty. */
	dirty.dev = disk;
	dirty.count = 0;
	dirty.ranges = P(r);
	expect("mark dirty: no ranges", io(SNAPKEEP_IOCTL_MARK_DIRTY, &dirty), EINVAL);
	dirty.count = 0x80000000u;
	expect("mark dirty: 2^31 ranges", io(SNAPKEEP_IOCTL_MARK_DIRTY, &dirty), E2BIG);
	dirty.count = 1;
	dirty.ranges = 0;
	expect("mark dirty: NULL ranges", io(SNAPKEEP_IOCTL_MARK_DIRTY, &dirty), EFAULT);
	dirty.ranges = P(r);
	r[0].start = ~0ULL - 1;
	r[0].count = 4;
	expect("mark dirty: range wrapping around", io(SNAPKEEP_IOCTL_MARK_DIRTY, &dirty), EINVAL);
	r[0].start = 0;
	r[0].count = 0;
	expect("mark dirty: empty range", io(SNAPKEEP_IOCTL_MARK_DIRTY, &dirty), EINVAL);
	r[0].count = 8;
	dirty.reserved = 1;
	expect("mark dirty: reserved field set", io(SNAPKEEP_IOCTL_MARK_DIRTY, &dirty), EINVAL);
	dirty.reserved = 0;
	expect("mark dirty: one good range", io(SNAPKEEP_IOCTL_MARK_DIRTY, &dirty), 0);

	/* Lists. */
	list.count = 0;
	list.items = 0;
	expect("list trackers: count only", io(SNAPKEEP_IOCTL_LIST_TRACKERS, &list), 0);
	if (list.count != 1) {
		printf("FAIL list trackers counted %u, not 1\n", list.count);
		failures++;
	}
	list.items = P(bad);
	expect("list trackers into a bad pointer", io(SNAPKEEP_IOCTL_LIST_TRACKERS, &list), EFAULT);

	/* Creating snapshots. */
	create.count = 0;
	create.devs = P(&disk);
	expect("create: no devices", io(SNAPKEEP_IOCTL_CREATE, &create), EINVAL);
	create.count = 100000;
	expect("create: 100000 devices", io(SNAPKEEP_IOCTL_CREATE, &create), E2BIG);
	create.count = 1;
	create.devs = 0;
	expect("create: NULL devices", io(SNAPKEEP_IOCTL_CREATE, &create), EFAULT);
	two[0] = disk;
	two[1] = disk;
	create.count = 2;
	create.devs = P(two);
	expect("create: the same device twice", io(SNAPKEEP_IOCTL_CREATE, &create), EINVAL);
	create.count = 1;
	create.devs = P(&none);
	expect_any("create: a device that does not exist",
		   io(SNAPKEEP_IOCTL_CREATE, &create), ENXIO, ENODEV, ENOENT);
	create.devs = P(&part);
	expect("create: partition of a tracked disk", io(SNAPKEEP_IOCTL_CREATE, &create), EBUSY);
	create.devs = P(&disk);
	create.reserved = 1;
	expect("create: reserved field set", io(SNAPKEEP_IOCTL_CREATE, &create), EINVAL);
	create.reserved = 0;
	/* The answer cannot be written back: nothing may be left behind. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(ro, &create, sizeof(create));
	mprotect(ro, 4096, PROT_READ);
	expect("create into read-only memory", io(SNAPKEEP_IOCTL_CREATE, ro), EFAULT);
	list.count = 0;
	list.items = 0;
	io(SNAPKEEP_IOCTL_LIST_SNAPSHOTS, &list);
	if (list.count) {
		printf("FAIL a snapshot was left behind by the failed create\n");
		failures++;
	}
	expect("create", io(SNAPKEEP_IOCTL_CREATE, &create), 0);
	id = create.id;
	expect("create a second one for the same device", io(SNAPKEEP_IOCTL_CREATE, &create), EBUSY);
	expect("detach while in a snapshot", io(SNAPKEEP_IOCTL_DETACH, &disk), EBUSY);

	/* Unknown ids. */
	expect("destroy an unknown id", io(SNAPKEEP_IOCTL_DESTROY, &unknown), ENOENT);
	expect("take an unknown id", io(SNAPKEEP_IOCTL_TAKE, &unknown), ENOENT);
	ev.id = unknown;
	expect("wait event of an unknown id", io(SNAPKEEP_IOCTL_WAIT_EVENT, &ev), ENOENT);
	si.id = unknown;
	expect("info of an unknown id", io(SNAPKEEP_IOCTL_SNAPSHOT_INFO, &si), ENOENT);
	st.id = unknown;
	st.dev = store;
	st.count = 1;
	st.ranges = P(r);
	r[0].start = 0;
	r[0].count = 8;
	expect("append to an unknown id", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), ENOENT);

	/* Storage ranges. */
	st.id = id;
	st.count = 0;
	expect("append: no ranges", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	st.count = 0xffffffffu;
	expect("append: 2^32-1 ranges", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), E2BIG);
	st.count = 1;
	st.ranges = P(bad);
	expect("append: bad ranges pointer", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EFAULT);
	st.ranges = P(r);
	st.dev = zero;
	expect("append: device 0:0", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	st.dev = none;
	expect_any("append: a device that does not exist",
		   io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), ENXIO, ENODEV, ENOENT);
	st.dev = store;
	r[0].count = 0;
	expect("append: empty range", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	r[0].start = store_sectors - 8;
	r[0].count = 16;
	expect("append: range past the end", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	r[0].start = ~0ULL - 7;
	r[0].count = 16;
	expect("append: range wrapping around", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	r[0].start = 0;
	r[0].count = 2048;
	r[1].start = 1024;
	r[1].count = 2048;
	st.count = 2;
	expect("append: overlapping ranges", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	st.reserved = 7;
	st.count = 1;
	expect("append: reserved field set", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	st.reserved = 0;
	expect("append: one good range", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), 0);
	r[0].start = 2000;
	r[0].count = 100;
	expect("append: overlapping an earlier range", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	st.dev = loop4k;
	r[0].start = 1;
	r[0].count = 8;
	expect("append: unaligned to 4096-byte blocks", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	r[0].start = 8;
	r[0].count = 4;
	expect("append: unaligned length", io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
	r[0].start = 0;
	r[0].count = 8192;
	expect("append: 4096-byte blocks for a 512-byte origin",
	       io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);

	/* Storage given as a file (pinned). */
	{
		struct snapkeep_snapshot_storage_file sf = { 0 };
		int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
		int null = open("/dev/null", O_RDONLY);

		sf.id = id;
		sf.dev = store;
		sf.count = 1;
		sf.ranges = P(r);
		r[0].start = 4096;
		r[0].count = 8;
		sf.fd = -1;
		expect("append file: bad descriptor",
		       io(SNAPKEEP_IOCTL_APPEND_STORAGE_FILE, &sf), EBADF);
		sf.fd = null;
		sf.flags = 1;
		expect("append file: flags set",
		       io(SNAPKEEP_IOCTL_APPEND_STORAGE_FILE, &sf), EINVAL);
		sf.flags = 0;
		expect("append file: not a regular file",
		       io(SNAPKEEP_IOCTL_APPEND_STORAGE_FILE, &sf), EINVAL);
		sf.fd = tmp;
		expect("append file: a directory",
		       io(SNAPKEEP_IOCTL_APPEND_STORAGE_FILE, &sf), EINVAL);
		close(tmp);
		close(null);
	}

	/* Take, events, info. */
	expect("take", io(SNAPKEEP_IOCTL_TAKE, &id), 0);
	expect("take again", io(SNAPKEEP_IOCTL_TAKE, &id), EALREADY);
	ev.id = id;
	ev.timeout_ms = 0;
	/* The storage is small: the first event may be low space. */
	while (io(SNAPKEEP_IOCTL_WAIT_EVENT, &ev) == 0)
		;
	expect("wait event, nothing queued", -1, errno == ETIMEDOUT ? ETIMEDOUT : -1);
	ev.reserved = 1;
	expect("wait event: reserved field set", io(SNAPKEEP_IOCTL_WAIT_EVENT, &ev), EINVAL);
	ev.reserved = 0;
	si.id = id;
	si.count = 1;
	si.devs = 0;
	expect("info into a NULL device array", io(SNAPKEEP_IOCTL_SNAPSHOT_INFO, &si), EFAULT);
	si.count = 0;
	expect("info, counting only", io(SNAPKEEP_IOCTL_SNAPSHOT_INFO, &si), 0);
	{
		struct snapkeep_snapshot_dev d;
		char path[64];
		struct stat sb;

		si.count = 1;
		si.devs = P(&d);
		expect("info", io(SNAPKEEP_IOCTL_SNAPSHOT_INFO, &si), 0);
		snprintf(path, sizeof(path), "/dev/%s", (char *)d.image_name);
		if (stat(path, &sb) == 0 && S_ISBLK(sb.st_mode)) {
			st.dev.major = major(sb.st_rdev);
			st.dev.minor = minor(sb.st_rdev);
			r[0].start = 0;
			r[0].count = 8;
			expect("append: an image device as storage",
			       io(SNAPKEEP_IOCTL_APPEND_STORAGE, &st), EINVAL);
			create.devs = P(&st.dev);
			expect("create: snapshot of an image device",
			       io(SNAPKEEP_IOCTL_CREATE, &create), EINVAL);
			expect("attach an image device", io(SNAPKEEP_IOCTL_ATTACH, &st.dev), EINVAL);
		} else {
			printf("FAIL image %s not found\n", path);
			failures++;
		}
	}

	/* Clean up. */
	expect("destroy", io(SNAPKEEP_IOCTL_DESTROY, &id), 0);
	expect("destroy again", io(SNAPKEEP_IOCTL_DESTROY, &id), ENOENT);
	expect("detach", io(SNAPKEEP_IOCTL_DETACH, &disk), 0);
	list.count = 0;
	list.items = 0;
	io(SNAPKEEP_IOCTL_LIST_TRACKERS, &list);
	if (list.count) {
		printf("FAIL %u trackers left\n", list.count);
		failures++;
	}
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
