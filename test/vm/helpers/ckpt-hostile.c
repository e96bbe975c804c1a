// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt-hostile - feeds the checkpoint ioctls (ABI 1.5) malformed and
 * impossible requests; each must fail with its errno and leave nothing
 * behind.
 *
 *   ckpt-hostile DISK STORE
 *
 * DISK: a device to checkpoint; STORE: a spare device whose first 64 MiB
 * may be written. Nothing may be tracked nor checkpointed when it starts;
 * nothing is when it ends. Prints one line per check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "snapkeep.h"

static int ctl, failures;
static void *bad = (void *)16;	/* never mapped */

#define P(x) ((__u64)(uintptr_t)(x))

static void expect(const char *what, int ret, int err)
{
	int got = ret < 0 ? errno : 0;

	if (got == err) {
		printf("ok   %-62s %s\n", what, err ? strerrorname_np(err) : "0");
		return;
	}
	printf("FAIL %-62s got %s, expected %s\n", what,
	       got ? strerrorname_np(got) : "0", err ? strerrorname_np(err) : "0");
	failures++;
}

static void expect2(const char *what, int ret, int e1, int e2)
{
	if (ret < 0 && errno == e2)
		errno = e1;
	expect(what, ret, e1);
}

static struct snapkeep_dev dev_of(const char *path)
{
	struct snapkeep_dev d = { 0, 0 };
	struct stat st;

	if (stat(path, &st) || !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "ckpt-hostile: %s is not a block device\n", path);
		exit(2);
	}
	d.major = major(st.st_rdev);
	d.minor = minor(st.st_rdev);
	return d;
}

static struct snapkeep_ckpt_dev devs[2];
static struct snapkeep_sectors ranges[2];

/* A well-formed create of DISK with the store at 1 MiB, 16 MiB long. */
static void good(struct snapkeep_ckpt_create *a, struct snapkeep_dev disk,
		 struct snapkeep_dev store)
{
	memset(a, 0, sizeof(*a));
	memset(devs, 0, sizeof(devs));
	devs[0].dev = disk;
	strcpy((char *)devs[0].identity, "hostile-disk");
	ranges[0].start = 2048;
	ranges[0].count = 32768;
	a->count = 1;
	a->devs = P(devs);
	a->store_dev = store;
	a->fd = -1;
	a->range_count = 1;
	a->ranges = P(ranges);
	strcpy((char *)a->name, "hostile");
}

static int create(struct snapkeep_ckpt_create *a)
{
	return ioctl(ctl, SNAPKEEP_IOCTL_CKPT_CREATE, a);
}

int main(int argc, char **argv)
{
	struct snapkeep_dev disk, store;
	struct snapkeep_ckpt_create a;
	struct snapkeep_ckpt_info info;
	struct snapkeep_uuid id, zero = { { 0 } };
	struct snapkeep_list l;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: ckpt-hostile DISK STORE\n");
		return 2;
	}
	disk = dev_of(argv[1]);
	store = dev_of(argv[2]);
	ctl = open("/dev/snapkeep", O_RDONLY | O_CLOEXEC);
	if (ctl < 0) {
		perror("/dev/snapkeep");
		return 2;
	}

	good(&a, disk, store);
	expect("create: bad argument pointer",
	       ioctl(ctl, SNAPKEEP_IOCTL_CKPT_CREATE, bad), EFAULT);
	a.reserved[1] = 1;
	expect("create: reserved field set", create(&a), EINVAL);
	good(&a, disk, store);
	a.flags = 1U << 7;
	expect("create: unknown flag", create(&a), EINVAL);
	good(&a, disk, store);
	a.count = 0;
	expect("create: no device", create(&a), EINVAL);
	a.count = SNAPKEEP_CKPT_MAX_DEVICES + 1;
	expect("create: 17 devices", create(&a), E2BIG);
	a.count = 0xffffffff;
	expect("create: 2^32-1 devices", create(&a), E2BIG);
	good(&a, disk, store);
	a.devs = P(bad);
	expect("create: bad device array pointer", create(&a), EFAULT);
	good(&a, disk, store);
	a.ranges = P(bad);
	expect("create: bad range array pointer", create(&a), EFAULT);
	good(&a, disk, store);
	a.range_count = 0;
	expect("create: no range", create(&a), EINVAL);
	a.range_count = SNAPKEEP_MAX_RANGES + 1;
	expect("create: 65537 ranges", create(&a), E2BIG);
	good(&a, disk, store);
	memset(a.name, 0, sizeof(a.name));
	expect("create: empty name", create(&a), EINVAL);
	memset(a.name, 'x', sizeof(a.name));
	a.name[10] = 0;
	expect("create: name not NUL-padded", create(&a), EINVAL);
	good(&a, disk, store);
	memset(devs[0].identity, 0, sizeof(devs[0].identity));
	expect("create: empty identity", create(&a), EINVAL);
	good(&a, disk, store);
	devs[0].reserved = 1;
	expect("create: device reserved field set", create(&a), EINVAL);
	good(&a, disk, store);
	devs[0].dev.major = 0;
	expect("create: device number 0:0", create(&a), EINVAL);
	good(&a, disk, store);
	devs[0].dev.major = 4095;
	devs[0].dev.minor = 1048575;
	expect2("create: no such device", create(&a), ENXIO, ENODEV);
	good(&a, disk, store);
	devs[1] = devs[0];
	a.count = 2;
	expect("create: the same device twice", create(&a), EINVAL);
	good(&a, disk, store);
	a.store_dev.major = 0;
	expect("create: store device 0:0", create(&a), EINVAL);
	good(&a, disk, store);
	ranges[0].start = 2049;
	expect("create: unaligned range", create(&a), EINVAL);
	good(&a, disk, store);
	ranges[0].count = 1ULL << 50;
	expect("create: range past the store device", create(&a), EINVAL);
	good(&a, disk, store);
	ranges[1] = ranges[0];
	a.range_count = 2;
	expect("create: overlapping ranges", create(&a), EINVAL);
	good(&a, disk, store);
	ranges[0].count = 64;
	expect("create: store too small for one chunk", create(&a), ENOSPC);
	good(&a, disk, store);
	a.fd = 1000000;
	expect("create: bad store descriptor", create(&a), EBADF);
	good(&a, disk, store);
	a.fd = ctl;
	expect("create: store descriptor not a file on the store device",
	       create(&a), EINVAL);
	good(&a, disk, store);
	a.flags = SNAPKEEP_CKPT_RESUME;
	expect("resume: a store that holds no checkpoint", create(&a), EUCLEAN);

	/* A real one, then what it must refuse. */
	good(&a, disk, store);
	ret = create(&a);
	expect("create: well-formed", ret, 0);
	id = a.id;
	good(&a, disk, store);
	ranges[0].start = 2048 + 32768;
	expect("create: a device in a checkpoint already", create(&a), EBUSY);
	expect("detach: a device in a checkpoint",
	       ioctl(ctl, SNAPKEEP_IOCTL_DETACH, &disk), EBUSY);
	memset(&info, 0, sizeof(info));
	info.id = id;
	info.reserved[3] = 1;
	expect("info: reserved field set",
	       ioctl(ctl, SNAPKEEP_IOCTL_CKPT_INFO, &info), EINVAL);
	memset(&info, 0, sizeof(info));
	info.id = zero;
	expect("info: unknown id", ioctl(ctl, SNAPKEEP_IOCTL_CKPT_INFO, &info),
	       ENOENT);
	expect("info: bad pointer", ioctl(ctl, SNAPKEEP_IOCTL_CKPT_INFO, bad),
	       EFAULT);
	info.id = id;
	ret = ioctl(ctl, SNAPKEEP_IOCTL_CKPT_INFO, &info);
	expect("info: the checkpoint", ret, 0);
	if (!ret && (info.state != SNAPKEEP_CKPT_ACTIVE || info.count != 1 ||
		     strcmp((char *)info.name, "hostile"))) {
		printf("FAIL info: state %u, %u devices, name %.64s\n",
		       info.state, info.count, info.name);
		failures++;
	}
	memset(&l, 0, sizeof(l));
	l.reserved = 1;
	expect("list: reserved field set",
	       ioctl(ctl, SNAPKEEP_IOCTL_CKPT_LIST, &l), EINVAL);
	memset(&l, 0, sizeof(l));
	l.count = 4;
	l.items = P(bad);
	expect("list: bad item pointer", ioctl(ctl, SNAPKEEP_IOCTL_CKPT_LIST, &l),
	       EFAULT);
	expect("commit: unknown id",
	       ioctl(ctl, SNAPKEEP_IOCTL_CKPT_COMMIT, &zero), ENOENT);
	expect("commit: bad pointer",
	       ioctl(ctl, SNAPKEEP_IOCTL_CKPT_COMMIT, bad), EFAULT);
	expect("abandon: the checkpoint",
	       ioctl(ctl, SNAPKEEP_IOCTL_CKPT_ABANDON, &id), 0);
	expect("commit: abandoned already",
	       ioctl(ctl, SNAPKEEP_IOCTL_CKPT_COMMIT, &id), ENOENT);
	good(&a, disk, store);
	a.flags = SNAPKEEP_CKPT_RESUME;
	expect("resume: an abandoned checkpoint", create(&a), ESTALE);
	good(&a, disk, store);
	ret = create(&a);
	expect("create: again on the same store", ret, 0);
	id = a.id;
	good(&a, disk, store);
	strcpy((char *)devs[0].identity, "someone-else");
	a.flags = SNAPKEEP_CKPT_RESUME;
	ranges[0].start = 2048;
	expect("resume: attached already (busy)", create(&a), EBUSY);
	expect("commit: the checkpoint",
	       ioctl(ctl, SNAPKEEP_IOCTL_CKPT_COMMIT, &id), 0);
	good(&a, disk, store);
	a.flags = SNAPKEEP_CKPT_RESUME;
	expect("resume: a committed checkpoint", create(&a), ESTALE);
	memset(&l, 0, sizeof(l));
	expect("list: empty", ioctl(ctl, SNAPKEEP_IOCTL_CKPT_LIST, &l), 0);
	if (l.count) {
		printf("FAIL list: %u checkpoints left\n", l.count);
		failures++;
	}
	expect("detach: not tracked any more",
	       ioctl(ctl, SNAPKEEP_IOCTL_DETACH, &disk), ENOENT);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
