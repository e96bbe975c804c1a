// SPDX-License-Identifier: GPL-2.0
/*
 * skmap - test helper of the full-boot guests (no node there): a tracker's
 * state and its change map as JSON, straight from the module's ioctls.
 *
 *	skmap info DEV	TRACKER_INFO2
 *	skmap take DEV	CREATE, TAKE, READ_MAP, TRACKER_INFO2, DESTROY: the
 *			map frozen at the take, one hex byte per cell
 *
 * The snapshot gets no difference storage: it lives only for the map read.
 */
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

static int die(const char *what)
{
	fprintf(stderr, "skmap: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void print_info(const struct snapkeep_tracker_info2 *i)
{
	const __u8 *g = i->info.generation.b;
	int k;

	printf("\"number\":%u,\"blockSize\":%u,\"blockCount\":%llu,\"generation\":\"",
	       i->info.number, i->info.block_size,
	       (unsigned long long)i->info.block_count);
	for (k = 0; k < 16; k++)
		printf("%02x", g[k]);
	printf("\",\"persist\":{\"flags\":%u,\"reason\":%u,\"foundSequence\":%llu,\"foundTime\":%llu,\"sequence\":%llu}",
	       i->persist_flags, i->persist_reason,
	       (unsigned long long)i->found_sequence,
	       (unsigned long long)i->found_time,
	       (unsigned long long)i->sequence);
}

int main(int argc, char **argv)
{
	struct snapkeep_tracker_info2 info;
	struct snapkeep_dev dev;
	struct stat st;
	int ctl;

	if (argc != 3 || (strcmp(argv[1], "info") && strcmp(argv[1], "take"))) {
		fprintf(stderr, "usage: skmap info|take DEV\n");
		return 2;
	}
	if (stat(argv[2], &st) < 0 || !S_ISBLK(st.st_mode))
		die(argv[2]);
	dev.major = major(st.st_rdev);
	dev.minor = minor(st.st_rdev);
	ctl = open("/dev/" SNAPKEEP_CTL_NAME, O_RDONLY | O_CLOEXEC);
	if (ctl < 0)
		die("/dev/" SNAPKEEP_CTL_NAME);
	memset(&info, 0, sizeof(info));
	info.info.dev = dev;
	if (!strcmp(argv[1], "take")) {
		struct snapkeep_snapshot_create c;
		struct snapkeep_tracker_map m;
		unsigned char *cells;
		__u64 n, k;

		memset(&c, 0, sizeof(c));
		c.count = 1;
		c.devs = (__u64)(uintptr_t)&dev;
		if (ioctl(ctl, SNAPKEEP_IOCTL_CREATE, &c) < 0)
			die("create");
		if (ioctl(ctl, SNAPKEEP_IOCTL_TAKE, &c.id) < 0)
			die("take");
		if (ioctl(ctl, SNAPKEEP_IOCTL_TRACKER_INFO2, &info) < 0)
			die("tracker info");
		n = info.info.block_count;
		cells = calloc(n ? n : 1, 1);
		if (!cells)
			die("calloc");
		memset(&m, 0, sizeof(m));
		m.dev = dev;
		m.length = n;
		m.buffer = (__u64)(uintptr_t)cells;
		if (ioctl(ctl, SNAPKEEP_IOCTL_READ_MAP, &m) < 0)
			die("read map");
		if (ioctl(ctl, SNAPKEEP_IOCTL_DESTROY, &c.id) < 0)
			die("destroy");
		printf("{");
		print_info(&info);
		printf(",\"cells\":\"");
		for (k = 0; k < m.copied; k++)
			printf("%02x", cells[k]);
		printf("\"}\n");
		free(cells);
	} else {
		if (ioctl(ctl, SNAPKEEP_IOCTL_TRACKER_INFO2, &info) < 0)
			die("tracker info");
		printf("{");
		print_info(&info);
		printf("}\n");
	}
	close(ctl);
	return 0;
}
