/* SPDX-License-Identifier: GPL-2.0 */
/*
 * boot_log.h - messages of snapkeep-boot.
 *
 * At boot nobody reads the tool's stderr: the initramfs has no journal yet
 * and the shutdown path has none any more. Every message therefore also
 * goes to /dev/kmsg, where it lands in the kernel log in order with the
 * mounts it must precede, and is kept by journald from the next boot on.
 */
#ifndef __SNAPKEEP_BOOT_LOG_H
#define __SNAPKEEP_BOOT_LOG_H

/* syslog priorities, as /dev/kmsg reads them from "<N>". */
#define BOOT_LOG_ERR	3
#define BOOT_LOG_WARN	4
#define BOOT_LOG_NOTICE	5
#define BOOT_LOG_INFO	6

void boot_log_open(void);
void boot_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* __SNAPKEEP_BOOT_LOG_H */
