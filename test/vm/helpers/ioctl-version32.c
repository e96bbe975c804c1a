// SPDX-License-Identifier: GPL-2.0
// helper-cflags: -m32 -nostdlib -ffreestanding -fno-pic -fno-stack-protector
/*
 * ioctl-version32 - SNAPKEEP_IOCTL_VERSION from a 32-bit process, which
 * reaches the module through .compat_ioctl. Prints the same JSON as
 * ioctl-version.
 *
 * Freestanding (int $0x80 system calls, no libc) so that it builds with
 * the stock 64-bit toolchain: no gcc-multilib or i386 libc needed.
 */
#include "snapkeep.h"

#define NR_EXIT		1
#define NR_WRITE	4
#define NR_OPEN		5
#define NR_IOCTL	54
#define O_RDONLY	0

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile ("int $0x80"
		      : "=a" (ret)
		      : "a" (nr), "b" (a), "c" (b), "d" (c)
		      : "memory");
	return ret;
}

static unsigned long len(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

static void put(int fd, const char *s)
{
	sys3(NR_WRITE, fd, (long)s, (long)len(s));
}

static void put_uint(unsigned int v)
{
	char buf[12];
	int i = sizeof(buf) - 1;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	put(1, buf + i);
}

static int run(void)
{
	struct snapkeep_version v;
	unsigned int i;
	long ret;
	int fd;

	fd = sys3(NR_OPEN, (long)"/dev/" SNAPKEEP_CTL_NAME, O_RDONLY, 0);
	if (fd < 0) {
		put(2, "ioctl-version32: cannot open the control device\n");
		return 1;
	}
	for (i = 0; i < sizeof(v); i++)
		((unsigned char *)&v)[i] = 0xa5;
	ret = sys3(NR_IOCTL, fd, SNAPKEEP_IOCTL_VERSION, (long)&v);
	if (ret) {
		put(2, "ioctl-version32: SNAPKEEP_IOCTL_VERSION failed\n");
		return 1;
	}
	if (v.reserved) {
		put(2, "ioctl-version32: reserved is not 0\n");
		return 1;
	}
	for (i = 0; i < sizeof(v.module_version) && v.module_version[i]; i++)
		;
	if (i == sizeof(v.module_version)) {
		put(2, "ioctl-version32: module_version has no NUL\n");
		return 1;
	}
	put(1, "{\"abiMajor\":");
	put_uint(v.abi_major);
	put(1, ",\"abiMinor\":");
	put_uint(v.abi_minor);
	put(1, ",\"moduleVersion\":\"");
	put(1, (const char *)v.module_version);
	put(1, "\"}\n");
	return 0;
}

void _start(void)
{
	sys3(NR_EXIT, run(), 0, 0);
	for (;;)
		;
}
