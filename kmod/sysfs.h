/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Read-only status for humans: /sys/kernel/snapkeep/.
 */
#ifndef __SNAPKEEP_SYSFS_H
#define __SNAPKEEP_SYSFS_H

int sysfs_status_init(void);
void sysfs_status_done(void);

#endif /* __SNAPKEEP_SYSFS_H */
