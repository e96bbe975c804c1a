// SPDX-License-Identifier: GPL-2.0
/*
 * boot_log.c - one line per event, to stderr and to the kernel log.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot_log.h"

static int boot_log_kmsg = -1;

/*
 * Without /dev/kmsg (a container, a test as non-root) messages still
 * reach stderr; nothing else depends on it.
 */
void boot_log_open(void)
{
	if (boot_log_kmsg < 0)
		boot_log_kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
}

void boot_log(int prio, const char *fmt, ...)
{
	char line[1024];
	char rec[1040];
	va_list ap;
	int n;
	size_t i;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/*
	 * Names in messages come from a config file and device paths: keep
	 * control characters out of the log, each record one line.
	 */
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	fprintf(stderr, "snapkeep-boot: %s\n", line);
	if (boot_log_kmsg >= 0) {
		n = snprintf(rec, sizeof(rec), "<%d>snapkeep-boot: %s\n",
			     prio, line);
		if (n > 0) {
			/* A full log is no reason to stop attaching. */
			if (write(boot_log_kmsg, rec,
				  strnlen(rec, sizeof(rec))) < 0)
				return;
		}
	}
}
