// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl-version - talk to /dev/snapkeep without the native addon.
 *
 *   ioctl-version            print SNAPKEEP_IOCTL_VERSION's answer as JSON,
 *                            shaped like the addon's moduleVersion()
 *   ioctl-version --unknown  check that unknown commands fail with ENOTTY
 *
 * Built static on the host by test/vm/lib/helpers.mjs; runs in the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "snapkeep.h"

#define CTL_PATH "/dev/" SNAPKEEP_CTL_NAME

static int expect_enotty(int fd, unsigned long cmd, const char *what)
{
	struct snapkeep_version v;

	if (ioctl(fd, cmd, &v) != -1 || errno != ENOTTY) {
		fprintf(stderr, "ioctl-version: %s (0x%lx): %s, not ENOTTY\n",
			what, cmd, strerror(errno));
		return 1;
	}
	return 0;
}

static int print_version(int fd)
{
	struct snapkeep_version v;
	size_t i;

	/* Garbage in: the kernel must fill every byte it answers with. */
	memset(&v, 0xa5, sizeof(v));
	if (ioctl(fd, SNAPKEEP_IOCTL_VERSION, &v)) {
		fprintf(stderr, "ioctl-version: SNAPKEEP_IOCTL_VERSION: %s\n",
			strerror(errno));
		return 1;
	}
	if (v.reserved) {
		fprintf(stderr, "ioctl-version: reserved is 0x%x, not 0\n",
			v.reserved);
		return 1;
	}
	for (i = 0; i < sizeof(v.module_version) && v.module_version[i]; i++) {
		if (v.module_version[i] < 0x20 || v.module_version[i] > 0x7e ||
		    v.module_version[i] == '"' || v.module_version[i] == '\\') {
			fprintf(stderr, "ioctl-version: bad byte 0x%02x\n",
				v.module_version[i]);
			return 1;
		}
	}
	if (i == sizeof(v.module_version)) {
		fprintf(stderr, "ioctl-version: module_version has no NUL\n");
		return 1;
	}
	printf("{\"abiMajor\":%u,\"abiMinor\":%u,\"moduleVersion\":\"%s\"}\n",
	       v.abi_major, v.abi_minor, (const char *)v.module_version);
	return 0;
}

int main(int argc, char **argv)
{
	int fd, ret;

	fd = open(CTL_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ioctl-version: open %s: %s\n", CTL_PATH,
			strerror(errno));
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "--unknown")) {
		ret = expect_enotty(fd, _IOR(SNAPKEEP_IOCTL_MAGIC, 0x7f,
					     struct snapkeep_version),
				    "unknown command number");
		/* Same number, other size: must not be taken for VERSION. */
		ret |= expect_enotty(fd, _IOR(SNAPKEEP_IOCTL_MAGIC, 0x00, int),
				     "VERSION with a wrong size");
		ret |= expect_enotty(fd, _IO('x', 0x00), "foreign magic");
		if (!ret)
			printf("unknown commands: ENOTTY\n");
	} else {
		ret = print_version(fd);
	}
	close(fd);
	return ret;
}
