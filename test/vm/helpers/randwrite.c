// SPDX-License-Identifier: GPL-2.0
/*
 * randwrite - random writes to a file or a block device, for the kernel
 * module tests: sizes 512 B to --max-io, a mix of O_DIRECT writes (4 KiB
 * aligned), buffered writes (512 B aligned) with an fsync now and then,
 * and discards (a punched hole in a file, BLKDISCARD or BLKZEROOUT on a
 * device).
 *
 *   randwrite [--seconds S] [--bytes N] [--size N] [--offset N]
 *             [--max-io N] [--seed N] [--no-discard] [--direct-only] PATH
 *
 * A file is extended to --size (default 64 MiB) first. On a device the
 * writes stay within [--offset, --offset + --size) (default: all of it).
 * Runs until --seconds or --bytes is reached, or SIGTERM/SIGINT; prints
 * what it did. Exit 0 unless a write failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helper-util.h"

static volatile sig_atomic_t stop;
static uint64_t rng;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t next(void)
{
	rng = xorshift(rng);
	return rng;
}

int main(int argc, char **argv)
{
	uint64_t size = 0, offset = 0, max_io = 1 << 20, limit = 0, done = 0;
	uint64_t n_direct = 0, n_buffered = 0, n_discard = 0;
	double seconds = 0, start;
	int discard = 1, direct_only = 0, is_dev, fd, dfd, i;
	const char *path = NULL;
	struct stat st;
	char *buf;

	rng = 88172645463325252ULL ^ (uint64_t)getpid();
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
			limit = size_arg(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = size_arg(argv[++i]);
		else if (!strcmp(argv[i], "--offset") && i + 1 < argc)
			offset = size_arg(argv[++i]);
		else if (!strcmp(argv[i], "--max-io") && i + 1 < argc)
			max_io = size_arg(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			rng = size_arg(argv[++i]) * 2654435761ULL + 1;
		else if (!strcmp(argv[i], "--no-discard"))
			discard = 0;
		else if (!strcmp(argv[i], "--direct-only"))
			direct_only = 1;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "randwrite: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: randwrite [options] PATH\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	fd = open(path, O_RDWR | O_CREAT, 0644);
	dfd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0 || dfd < 0 || fstat(fd, &st)) {
		perror(path);
		return 1;
	}
	is_dev = S_ISBLK(st.st_mode);
	if (is_dev) {
		uint64_t devsize;

		if (ioctl(fd, BLKGETSIZE64, &devsize)) {
			perror("BLKGETSIZE64");
			return 1;
		}
		if (!size || offset + size > devsize)
			size = devsize - offset;
	} else {
		if (!size)
			size = 64 << 20;
		if ((uint64_t)st.st_size < size && ftruncate(fd, size)) {
			perror("ftruncate");
			return 1;
		}
	}
	size &= ~4095ULL;
	if (max_io > size)
		max_io = size;
	if (posix_memalign((void **)&buf, 4096, max_io)) {
		fprintf(stderr, "randwrite: no memory\n");
		return 1;
	}

	start = now();
	while (!stop && (!limit || done < limit) &&
	       (!seconds || now() - start < seconds)) {
		unsigned int kind = direct_only ? 0 : next() % 10;
		uint64_t len, pos;
		ssize_t w;

		for (uint64_t k = 0; k < max_io; k += 8)
			*(uint64_t *)(buf + k) = next();
		if (kind < 4) {
			len = (1 + next() % (max_io / 4096)) * 4096;
			pos = offset + (next() % ((size - len) / 4096 + 1)) * 4096;
			w = pwrite(dfd, buf, len, pos);
			n_direct++;
		} else if (kind < 8 || !discard) {
			len = (1 + next() % (max_io / 512)) * 512;
			pos = offset + (next() % ((size - len) / 512 + 1)) * 512;
			w = pwrite(fd, buf, len, pos);
			if (++n_buffered % 16 == 0)
				fsync(fd);
		} else {
			len = (1 + next() % (max_io / 4096)) * 4096;
			pos = offset + (next() % ((size - len) / 4096 + 1)) * 4096;
			if (is_dev) {
				uint64_t r[2] = { pos, len };

				w = ioctl(fd, BLKDISCARD, r) ? -1 : (ssize_t)len;
				if (w < 0 && errno == EOPNOTSUPP)
					w = ioctl(fd, BLKZEROOUT, r) ? -1 :
					    (ssize_t)len;
			} else {
				w = fallocate(fd, FALLOC_FL_PUNCH_HOLE |
					      FALLOC_FL_KEEP_SIZE, pos, len) ?
				    -1 : (ssize_t)len;
			}
			n_discard++;
		}
		if (w != (ssize_t)len) {
			if (stop)
				break;
			fprintf(stderr, "randwrite: %s: kind %u at %llu+%llu: %s\n",
				path, kind, (unsigned long long)pos,
				(unsigned long long)len,
				w < 0 ? strerror(errno) : "short write");
			return 1;
		}
		done += len;
	}
	fsync(fd);
	printf("randwrite %s: %llu MiB in %.1f s (%llu direct, %llu buffered, %llu discards)\n",
	       path, (unsigned long long)(done >> 20), now() - start,
	       (unsigned long long)n_direct, (unsigned long long)n_buffered,
	       (unsigned long long)n_discard);
	return 0;
}
