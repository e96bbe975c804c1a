// SPDX-License-Identifier: GPL-2.0
/*
 * aiowrite - a queue-depth random writer for the kernel module tests: keeps
 * --depth O_DIRECT writes of --bs bytes in flight at random aligned offsets
 * of a block device or file (Linux AIO, called through syscall(): no
 * libaio needed), each filled with fresh random data.
 *
 *   aiowrite [--depth N] [--bs N] [--size N] [--seconds S] [--seed N] PATH
 *
 * Runs until --seconds or SIGTERM/SIGINT, then waits for what is in flight
 * and prints what it did. Exit 0 unless a write failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper-util.h"

#define MAX_DEPTH	256

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	uint64_t size = 0, bs = 4096, rng = 0x2545f4914f6cdd1dULL, done = 0;
	struct iocb cbs[MAX_DEPTH], *ptrs[1];
	struct io_event events[MAX_DEPTH];
	unsigned int depth = 32, inflight = 0, i;
	const char *path = NULL;
	aio_context_t ctx = 0;
	double seconds = 0, start;
	struct stat st;
	char *bufs;
	int fd;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--depth") && i + 1 < (unsigned int)argc)
			depth = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--bs") && i + 1 < (unsigned int)argc)
			bs = size_arg(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < (unsigned int)argc)
			size = size_arg(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < (unsigned int)argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < (unsigned int)argc)
			rng = size_arg(argv[++i]) * 2654435761ULL + 1;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "aiowrite: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (!path || !depth || depth > MAX_DEPTH || !bs || bs % 512) {
		fprintf(stderr, "usage: aiowrite [--depth 1..%d] [--bs N] [--size N] [--seconds S] [--seed N] PATH\n",
			MAX_DEPTH);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	memset(cbs, 0, sizeof(cbs));

	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0 || fstat(fd, &st)) {
		perror(path);
		return 1;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t devsize;

		if (ioctl(fd, BLKGETSIZE64, &devsize)) {
			perror("BLKGETSIZE64");
			return 1;
		}
		if (!size || size > devsize)
			size = devsize;
	} else if (!size) {
		size = st.st_size;
	}
	if (size < bs) {
		fprintf(stderr, "aiowrite: %s is smaller than one write\n", path);
		return 1;
	}
	if (posix_memalign((void **)&bufs, 4096, depth * bs) ||
	    syscall(SYS_io_setup, depth, &ctx)) {
		perror("aiowrite: setup");
		return 1;
	}

	start = now();
	for (;;) {
		int n;

		/* Refill every free slot while running; then only drain. */
		while (!stop && inflight < depth &&
		       (!seconds || now() - start < seconds)) {
			struct iocb *cb = NULL;
			char *buf;

			for (i = 0; i < depth; i++)
				if (!cbs[i].aio_data) {
					cb = &cbs[i];
					break;
				}
			buf = bufs + (cb - cbs) * bs;
			for (uint64_t k = 0; k < bs; k += 8) {
				rng = xorshift(rng);
				*(uint64_t *)(buf + k) = rng;
			}
			rng = xorshift(rng);
			memset(cb, 0, sizeof(*cb));
			cb->aio_data = 1;
			cb->aio_lio_opcode = IOCB_CMD_PWRITE;
			cb->aio_fildes = fd;
			cb->aio_buf = (uint64_t)(uintptr_t)buf;
			cb->aio_nbytes = bs;
			cb->aio_offset = (rng % (size / bs)) * bs;
			ptrs[0] = cb;
			if (syscall(SYS_io_submit, ctx, 1, ptrs) != 1) {
				perror("aiowrite: io_submit");
				return 1;
			}
			inflight++;
		}
		if (!inflight)
			break;
		n = syscall(SYS_io_getevents, ctx, 1, depth, events, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("aiowrite: io_getevents");
			return 1;
		}
		for (i = 0; i < (unsigned int)n; i++) {
			struct iocb *cb = (struct iocb *)(uintptr_t)events[i].obj;

			if (events[i].res != (int64_t)bs) {
				fprintf(stderr, "aiowrite: write at %llu: %s\n",
					(unsigned long long)cb->aio_offset,
					events[i].res < 0 ?
					strerror(-events[i].res) : "short");
				return 1;
			}
			cb->aio_data = 0;
			inflight--;
			done++;
		}
		if (seconds && now() - start >= seconds)
			stop = 1;
	}
	printf("aiowrite %s: %llu writes of %llu B, depth %u, in %.1f s\n",
	       path, (unsigned long long)done, (unsigned long long)bs, depth,
	       now() - start);
	return 0;
}
