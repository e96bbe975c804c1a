/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control device /dev/snapkeep, the only entry point of the
 * user-space ABI declared in include/uapi/snapkeep.h.
 */
#ifndef __SNAPKEEP_CTL_H
#define __SNAPKEEP_CTL_H

#include <linux/mutex.h>

/*
 * The control lock: serializes every command that changes or reads the
 * object graph (trackers in the filter table, snapshots, their membership
 * and state). The I/O paths never take it. Taking a snapshot holds it
 * while file systems are frozen; waiting for events does not hold it.
 */
extern struct mutex ctl_lock;

int ctl_init(void);
void ctl_done(void);

#endif /* __SNAPKEEP_CTL_H */
