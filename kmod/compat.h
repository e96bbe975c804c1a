/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the supported kernels, in one place.
 *
 * The .c files are written against the newest supported kernel's API.
 * Where an older kernel differs, this header provides a static inline shim
 * with the newest name and signature, keyed on LINUX_VERSION_CODE (and on
 * a distribution's backport where one matters). No .c file tests the
 * kernel version itself, so when the oldest supported kernel moves up the
 * shims are deleted here and nothing else changes.
 *
 * Differences known to come with the next objects (6.1 -> 6.12):
 *  - opening a block device: blkdev_get_by_path() until 6.4,
 *    bdev_open_by_path() in 6.7/6.8, bdev_file_open_by_path() from 6.9;
 *  - blk_mode_t replaces fmode_t for block device opens from 6.5;
 *  - freezing a device: freeze_bdev() until 6.7, bdev_freeze() after.
 */
#ifndef __SNAPKEEP_COMPAT_H
#define __SNAPKEEP_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "snapkeep supports Linux 6.1 and newer"
#endif

#endif /* __SNAPKEEP_COMPAT_H */
