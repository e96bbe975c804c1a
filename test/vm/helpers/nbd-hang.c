// SPDX-License-Identifier: GPL-2.0
/*
 * nbd-hang - an NBD device whose server stops answering writes, for the
 * kernel module tests: a hung network disk somewhere else in the system.
 *
 *   nbd-hang /dev/nbdN SIZE
 *
 * Connects /dev/nbdN through a socket pair to a server in a child process
 * (the classic ioctl interface: NBD_SET_SOCK, NBD_DO_IT). The server
 * answers reads with zeros (so opening the device and reading its
 * partition table work) and never answers writes or flushes: writers pile
 * up until the device runs out of tags, and then submitters block inside
 * submit_bio_noacct(). SIGTERM ends the server: the connection drops, the
 * requests in flight fail, NBD_DO_IT returns and this program exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper-util.h"

static pid_t server;

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Answers reads, swallows everything else; returns when the peer is gone. */
static void serve(int sock)
{
	static char data[1 << 20];
	struct nbd_request req;

	while (!read_all(sock, &req, sizeof(req))) {
		uint32_t type = ntohl(req.type) & 0xffff;
		uint32_t len = ntohl(req.len);
		struct nbd_reply rep = {
			.magic = htonl(NBD_REPLY_MAGIC),
			.error = 0,
		};

		if (ntohl(req.magic) != NBD_REQUEST_MAGIC)
			return;
		if (type == NBD_CMD_DISC)
			return;
		if (type == NBD_CMD_WRITE) {
			while (len) {
				uint32_t n = len < sizeof(data) ? len : sizeof(data);

				if (read_all(sock, data, n))
					return;
				len -= n;
			}
			continue;	/* never answered: the hang */
		}
		if (type != NBD_CMD_READ || len > sizeof(data))
			continue;
		memcpy(rep.handle, req.handle, sizeof(rep.handle));
		memset(data, 0, len);
		if (write_all(sock, &rep, sizeof(rep)) || write_all(sock, data, len))
			return;
	}
}

static void stop_server(int sig)
{
	(void)sig;
	if (server > 0)
		kill(server, SIGKILL);
}

int main(int argc, char **argv)
{
	uint64_t size;
	int sv[2], fd;

	if (argc != 3 || !(size = size_arg(argv[2]))) {
		fprintf(stderr, "usage: nbd-hang /dev/nbdN SIZE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror(argv[1]);
		return 1;
	}
	server = fork();
	if (server < 0) {
		perror("fork");
		return 1;
	}
	if (!server) {
		close(sv[0]);
		close(fd);
		serve(sv[1]);
		return 0;
	}
	close(sv[1]);
	signal(SIGTERM, stop_server);
	signal(SIGINT, stop_server);
	if (ioctl(fd, NBD_SET_BLKSIZE, 4096UL) ||
	    ioctl(fd, NBD_SET_SIZE_BLOCKS, (unsigned long)(size / 4096)) ||
	    ioctl(fd, NBD_SET_TIMEOUT, 0UL) ||
	    ioctl(fd, NBD_SET_SOCK, (unsigned long)sv[0])) {
		perror("nbd-hang: setting up the device");
		kill(server, SIGKILL);
		return 1;
	}
	printf("nbd-hang: %s connected, %llu bytes; writes will hang\n", argv[1],
	       (unsigned long long)size);
	fflush(stdout);
	/* Returns when the connection is gone. */
	ioctl(fd, NBD_DO_IT);
	ioctl(fd, NBD_CLEAR_QUE);
	ioctl(fd, NBD_CLEAR_SOCK);
	waitpid(server, NULL, 0);
	printf("nbd-hang: %s disconnected\n", argv[1]);
	return 0;
}
