// SPDX-License-Identifier: GPL-2.0
/*
 * seal-hostile - feeds SNAPKEEP_IOCTL_SEAL_IN_PLACE (ABI 1.6) malformed and
 * impossible requests; each must fail with its errno and change nothing.
 *
 *   seal-hostile UNTRACKED PLAIN NOINTENT MAP
 *
 * UNTRACKED: a device nobody tracks; PLAIN: tracked without a store;
 * NOINTENT: a map attached with SNAPKEEP_PERSIST_NO_INTENT; MAP: an
 * intent-mode map that is not sealed in place (it is, twice, at the end).
 * Prints one line per check; exit status 1 when one failed.
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

static struct snapkeep_dev dev_of(const char *path)
{
	struct snapkeep_dev d = { 0, 0 };
	struct stat st;

	if (stat(path, &st) || !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "seal-hostile: %s is not a block device\n", path);
		exit(2);
	}
	d.major = major(st.st_rdev);
	d.minor = minor(st.st_rdev);
	return d;
}

static int seal(struct snapkeep_dev d, struct snapkeep_tracker_seal *a)
{
	memset(a, 0, sizeof(*a));
	a->dev = d;
	return ioctl(ctl, SNAPKEEP_IOCTL_SEAL_IN_PLACE, a);
}

/* The map's persist flags (TRACKER_INFO2), or ~0U. */
static __u32 flags_of(struct snapkeep_dev d)
{
	struct snapkeep_tracker_info2 i;

	memset(&i, 0, sizeof(i));
	i.info.dev = d;
	if (ioctl(ctl, SNAPKEEP_IOCTL_TRACKER_INFO2, &i) < 0)
		return ~0U;
	return i.persist_flags;
}

int main(int argc, char **argv)
{
	struct snapkeep_dev untracked, plain, nointent, map, zero = { 0, 0 };
	struct snapkeep_tracker_seal a;
	struct snapkeep_version v;
	__u64 seq;

	if (argc != 5) {
		fprintf(stderr, "usage: seal-hostile UNTRACKED PLAIN NOINTENT MAP\n");
		return 2;
	}
	untracked = dev_of(argv[1]);
	plain = dev_of(argv[2]);
	nointent = dev_of(argv[3]);
	map = dev_of(argv[4]);
	ctl = open("/dev/" SNAPKEEP_CTL_NAME, O_RDONLY | O_CLOEXEC);
	if (ctl < 0) {
		perror("seal-hostile: /dev/snapkeep");
		return 2;
	}
	memset(&v, 0, sizeof(v));
	expect("VERSION says 1.6 or later", ioctl(ctl, SNAPKEEP_IOCTL_VERSION, &v), 0);
	if (v.abi_major != 1 || v.abi_minor < 6) {
		printf("FAIL the module speaks ABI %u.%u\n", v.abi_major, v.abi_minor);
		failures++;
	}

	expect("bad pointer", ioctl(ctl, SNAPKEEP_IOCTL_SEAL_IN_PLACE, (void *)16), EFAULT);
	memset(&a, 0, sizeof(a));
	a.dev = map;
	a.flags = 1;
	expect("flags set", ioctl(ctl, SNAPKEEP_IOCTL_SEAL_IN_PLACE, &a), EINVAL);
	memset(&a, 0, sizeof(a));
	a.dev = map;
	a.reserved0 = 1;
	expect("reserved0 set", ioctl(ctl, SNAPKEEP_IOCTL_SEAL_IN_PLACE, &a), EINVAL);
	memset(&a, 0, sizeof(a));
	a.dev = map;
	a.reserved[1] = 1;
	expect("reserved set", ioctl(ctl, SNAPKEEP_IOCTL_SEAL_IN_PLACE, &a), EINVAL);
	memset(&a, 0, sizeof(a));
	a.dev = map;
	a.sequence = 5;
	expect("sequence (out) given on input", ioctl(ctl, SNAPKEEP_IOCTL_SEAL_IN_PLACE, &a), EINVAL);
	expect("device 0:0", seal(zero, &a), EINVAL);
	zero.major = 4095;
	zero.minor = 1048575;
	expect("a device number that does not exist", seal(zero, &a), ENOENT);
	expect("an untracked device", seal(untracked, &a), ENOENT);
	expect("a tracker without a store (not a map)", seal(plain, &a), ENODATA);
	expect("a map without write intent", seal(nointent, &a), EOPNOTSUPP);
	if (flags_of(map) & SNAPKEEP_PERSIST_SEALED) {
		printf("FAIL the map was sealed by a refused request\n");
		failures++;
	}

	expect("the intent-mode map: sealed in place", seal(map, &a), 0);
	seq = a.sequence;
	if (!seq) {
		printf("FAIL no sequence returned\n");
		failures++;
	}
	if (!(flags_of(map) & SNAPKEEP_PERSIST_SEALED)) {
		printf("FAIL TRACKER_INFO2 does not say sealed\n");
		failures++;
	}
	expect("twice: sealed already", seal(map, &a), EALREADY);
	if (!(flags_of(map) & SNAPKEEP_PERSIST_SEALED) ||
	    !(flags_of(map) & SNAPKEEP_PERSIST_INTENT)) {
		printf("FAIL after the second request the map is no longer sealed and in intent mode\n");
		failures++;
	}
	printf("sealed in place at sequence %llu\n", (unsigned long long)seq);
	close(ctl);
	return failures ? 1 : 0;
}
