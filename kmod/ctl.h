/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control device /dev/snapkeep, the only entry point of the
 * user-space ABI declared in include/uapi/snapkeep.h.
 */
#ifndef __SNAPKEEP_CTL_H
#define __SNAPKEEP_CTL_H

int ctl_init(void);
void ctl_done(void);

#endif /* __SNAPKEEP_CTL_H */
