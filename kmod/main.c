// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters, and init and exit of the objects in order.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "snapkeep.h"
#include "compat.h"
#include "ctl.h"
#include "version.h"

/*
 * Tunables. The objects that will use them (tracker, cbt_map, diff_area)
 * read them once when they create a tracker or a snapshot, so a change
 * through sysfs affects only what is created afterwards. Read-only until
 * then.
 */

/* log2 of the smallest change-tracking block: 64 KiB, as in blksnap. */
static unsigned int tracking_block_shift = 16;
module_param(tracking_block_shift, uint, 0444);
MODULE_PARM_DESC(tracking_block_shift,
		 "log2 of the minimum tracking block size, 12..26 (reserved)");

static int __init snapkeep_init(void)
{
	int ret;

	if (tracking_block_shift < 12 || tracking_block_shift > 26) {
		pr_err("tracking_block_shift=%u is outside 12..26\n",
		       tracking_block_shift);
		return -EINVAL;
	}

	ret = ctl_init();
	if (ret)
		return ret;

	pr_info("version %s, ABI %u.%u\n", SNAPKEEP_VERSION,
		SNAPKEEP_ABI_MAJOR, SNAPKEEP_ABI_MINOR);
	return 0;
}

static void __exit snapkeep_exit(void)
{
	ctl_done();
	pr_info("unloaded\n");
}

module_init(snapkeep_init);
module_exit(snapkeep_exit);

MODULE_DESCRIPTION("Live block device snapshots and changed block tracking");
MODULE_VERSION(SNAPKEEP_VERSION);
MODULE_LICENSE("GPL");
