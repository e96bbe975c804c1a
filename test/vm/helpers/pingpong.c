// SPDX-License-Identifier: GPL-2.0
/*
 * pingpong - one workload writing two devices in lockstep, to check that a
 * snapshot of both is one instant.
 *
 *   pingpong write A B NONCE   record i goes to block i of A, then (once
 *                              that write completed) to block i of B;
 *                              i = 0, 1, ... until SIGTERM or the devices
 *                              are full; prints the last i
 *   pingpong check A B NONCE   counts the leading valid records of each
 *                              (images of A and B); exit 0 when B has as
 *                              many as A or one fewer, as a single instant
 *                              allows, else 1
 *
 * Blocks are 4 KiB, written with O_DIRECT | O_DSYNC; a record holds the
 * nonce and its number, so leftovers of another run never count.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BLOCK 4096

struct record {
	uint64_t magic;
	uint64_t nonce;
	uint64_t index;
	uint64_t check;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int open_dev(const char *path, int flags, uint64_t *blocks)
{
	uint64_t size;
	int fd = open(path, flags | O_DIRECT);

	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size)) {
		perror(path);
		exit(2);
	}
	*blocks = size / BLOCK;
	return fd;
}

static void fill(void *buf, uint64_t nonce, uint64_t i)
{
	struct record *r = buf;

	memset(buf, (int)(i & 0xff), BLOCK);
	r->magic = 0x676e6f70676e6970ULL;
	r->nonce = nonce;
	r->index = i;
	r->check = nonce ^ (i * 0x9e3779b97f4a7c15ULL);
}

static int valid(const void *buf, uint64_t nonce, uint64_t i)
{
	const struct record *r = buf;

	return r->magic == 0x676e6f70676e6970ULL && r->nonce == nonce &&
	       r->index == i && r->check == (nonce ^ (i * 0x9e3779b97f4a7c15ULL));
}

static uint64_t count(int fd, uint64_t blocks, uint64_t nonce, void *buf)
{
	uint64_t i;

	for (i = 0; i < blocks; i++) {
		if (pread(fd, buf, BLOCK, i * BLOCK) != BLOCK)
			break;
		if (!valid(buf, nonce, i))
			break;
	}
	return i;
}

int main(int argc, char **argv)
{
	uint64_t nonce, blocks_a, blocks_b, blocks, i;
	int a, b;
	void *buf;

	if (argc != 5 || (strcmp(argv[1], "write") && strcmp(argv[1], "check"))) {
		fprintf(stderr, "usage: pingpong write|check A B NONCE\n");
		return 2;
	}
	nonce = strtoull(argv[4], NULL, 0);
	if (posix_memalign(&buf, BLOCK, BLOCK))
		return 2;

	if (!strcmp(argv[1], "check")) {
		uint64_t la, lb;

		a = open_dev(argv[2], O_RDONLY, &blocks_a);
		b = open_dev(argv[3], O_RDONLY, &blocks_b);
		la = count(a, blocks_a, nonce, buf);
		lb = count(b, blocks_b, nonce, buf);
		printf("pingpong check: %llu records on A, %llu on B\n",
		       (unsigned long long)la, (unsigned long long)lb);
		return (lb == la || lb + 1 == la) ? 0 : 1;
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	a = open_dev(argv[2], O_WRONLY | O_DSYNC, &blocks_a);
	b = open_dev(argv[3], O_WRONLY | O_DSYNC, &blocks_b);
	blocks = blocks_a < blocks_b ? blocks_a : blocks_b;
	for (i = 0; i < blocks && !stop; i++) {
		fill(buf, nonce, i);
		if (pwrite(a, buf, BLOCK, i * BLOCK) != BLOCK ||
		    pwrite(b, buf, BLOCK, i * BLOCK) != BLOCK) {
			perror("pingpong: write");
			return 1;
		}
	}
	printf("pingpong write: %llu records\n", (unsigned long long)i);
	return 0;
}
