/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * snapkeep.h - user-space ABI of the snapkeep kernel module.
 *
 * This header is the single source of truth for the ABI: the kernel module
 * and the native addon (native/) both include it; nothing copies it.
 *
 * Rules that keep the ABI stable:
 *  - every structure has a fixed size and layout on 32- and 64-bit user
 *    space: only __u8..__u64 members, explicit padding, no pointers (user
 *    pointers travel as __u64);
 *  - all ioctls go through the control device /dev/snapkeep;
 *  - SNAPKEEP_ABI_MAJOR changes when an existing command changes meaning;
 *    SNAPKEEP_ABI_MINOR when commands are added.
 */
#ifndef _UAPI_LINUX_SNAPKEEP_H
#define _UAPI_LINUX_SNAPKEEP_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define SNAPKEEP_CTL_NAME	"snapkeep"

#define SNAPKEEP_ABI_MAJOR	1
#define SNAPKEEP_ABI_MINOR	0

#define SNAPKEEP_IOCTL_MAGIC	'K'

/**
 * struct snapkeep_version - answer of SNAPKEEP_IOCTL_VERSION.
 * @abi_major: SNAPKEEP_ABI_MAJOR the module was built with.
 * @abi_minor: SNAPKEEP_ABI_MINOR the module was built with.
 * @reserved: zero.
 * @module_version: NUL-terminated release string of the module.
 */
struct snapkeep_version {
	__u16 abi_major;
	__u16 abi_minor;
	__u32 reserved;
	__u8 module_version[32];
};

#define SNAPKEEP_IOCTL_VERSION \
	_IOR(SNAPKEEP_IOCTL_MAGIC, 0x00, struct snapkeep_version)

#endif /* _UAPI_LINUX_SNAPKEEP_H */
