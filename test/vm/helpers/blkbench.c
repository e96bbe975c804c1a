// SPDX-License-Identifier: GPL-2.0
/*
 * blkbench - timed O_DIRECT I/O at queue depth 1, for the kernel module
 * benchmark (test/bench/kmod.mjs).
 *
 *   blkbench write DEV OFFSET BYTES BS        sequential writes
 *   blkbench read DEV OFFSET BYTES BS         sequential reads
 *   blkbench randwrite DEV OFFSET REGION BS COUNT SEED [STRIDE]
 *                                             COUNT writes of BS bytes at
 *                                             BS-aligned random offsets in
 *                                             [OFFSET, OFFSET + REGION);
 *                                             with STRIDE, each write in
 *                                             its own STRIDE-sized slot
 *                                             (slots in random order, at
 *                                             most REGION / STRIDE writes):
 *                                             with STRIDE = the snapshot's
 *                                             chunk size, every write is a
 *                                             first write to its chunk
 *
 * Prints one JSON line: {"op", "bytes", "seconds", "mbps", "iops", "p50_us"}
 * (p50_us: the median time of one I/O, which the stalls of a busy host
 * skew much less than the mean).
 * Sizes take K, M, G suffixes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helper-util.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	uint64_t off, bytes, bs, count, done = 0, ops = 0, seed = 1, region;
	uint64_t stride = 0, slots = 0, *slot = NULL;
	int write_op, random_op, fd;
	double t0, t, secs, *lat;
	char *buf;

	if (argc < 6) {
		fprintf(stderr, "usage: blkbench write|read DEV OFFSET BYTES BS\n"
			"       blkbench randwrite DEV OFFSET REGION BS COUNT SEED\n");
		return 2;
	}
	write_op = strcmp(argv[1], "read") != 0;
	random_op = strcmp(argv[1], "randwrite") == 0;
	off = size_arg(argv[3]);
	bytes = region = size_arg(argv[4]);
	bs = size_arg(argv[5]);
	count = random_op && argc > 6 ? size_arg(argv[6]) : bytes / bs;
	if (random_op && argc > 7)
		seed = size_arg(argv[7]) * 2654435761ULL + 1;
	if (random_op && argc > 8)
		stride = size_arg(argv[8]);
	if (stride) {
		slots = region / stride;
		if (stride % bs || count > slots ||
		    !(slot = malloc(slots * sizeof(*slot)))) {
			fprintf(stderr, "blkbench: bad STRIDE\n");
			return 2;
		}
	}
	fd = open(argv[2], (write_op ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0 || !bs || posix_memalign((void **)&buf, 4096, bs)) {
		perror(argv[2]);
		return 1;
	}
	for (uint64_t i = 0; i < bs; i++)
		buf[i] = (char)(i * 2654435761ULL >> 13);
	/* The slots in random order (Fisher-Yates), before the clock starts. */
	for (uint64_t i = 0; i < slots; i++)
		slot[i] = i;
	for (uint64_t i = slots; i > 1; i--) {
		uint64_t j, t;

		seed = xorshift(seed);
		j = seed % i;
		t = slot[i - 1];
		slot[i - 1] = slot[j];
		slot[j] = t;
	}

	lat = malloc((count ? count : 1) * sizeof(*lat));
	if (!lat) {
		perror("blkbench");
		return 1;
	}
	t0 = t = now();
	for (ops = 0; ops < count; ops++) {
		uint64_t pos = off + ops * bs;
		ssize_t n;

		if (stride) {
			seed = xorshift(seed);
			pos = off + slot[ops] * stride + seed % (stride / bs) * bs;
		} else if (random_op) {
			seed = xorshift(seed);
			pos = off + (seed % (region / bs)) * bs;
		}
		n = write_op ? pwrite(fd, buf, bs, pos) : pread(fd, buf, bs, pos);
		if (n != (ssize_t)bs) {
			perror("blkbench");
			return 1;
		}
		done += bs;
		lat[ops] = -t;
		t = now();
		lat[ops] += t;
	}
	secs = t - t0;
	qsort(lat, ops, sizeof(*lat), cmp_double);
	printf("{\"op\":\"%s\",\"bytes\":%llu,\"seconds\":%.4f,\"mbps\":%.2f,\"iops\":%.1f,\"p50_us\":%.1f}\n",
	       argv[1], (unsigned long long)done, secs, done / secs / 1048576.0,
	       ops / secs, ops ? lat[ops / 2] * 1e6 : 0.0);
	return 0;
}
