/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the I/O helpers share: sizes with K/M/G suffixes on the command
 * line, a monotonic clock in seconds, a small fast PRNG.
 */
#ifndef SNAPKEEP_HELPER_UTIL_H
#define SNAPKEEP_HELPER_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* "64K", "1M", "2G" or a plain number (0x... allowed). */
static inline uint64_t size_arg(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*end == 'K' || *end == 'k')
		v <<= 10;
	else if (*end == 'M' || *end == 'm')
		v <<= 20;
	else if (*end == 'G' || *end == 'g')
		v <<= 30;
	return v;
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint64_t xorshift(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

#endif
