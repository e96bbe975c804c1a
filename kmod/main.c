// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters, workqueues, and init and exit of the objects in
 * order. The module cannot be unloaded while a device is tracked or a
 * snapshot exists (both hold a module reference) or an image is open.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/workqueue.h>

#include "snapkeep.h"
#include "cbt_store.h"
#include "ckpt_log.h"
#include "chunk.h"
#include "compat.h"
#include "ctl.h"
#include "diff_area.h"
#include "diff_buffer.h"
#include "filter.h"
#include "main.h"
#include "params.h"
#include "sysfs.h"
#include "version.h"

/*
 * Tunables, read when a tracker or a snapshot is created (read-only after
 * load). Sizes are chosen per device: the smallest power of two from the
 * minimum shift that keeps the count under the maximum, up to the maximum
 * shift.
 */
unsigned int param_tracking_block_minimum_shift = 16;	/* 64 KiB */
module_param_named(tracking_block_minimum_shift,
		   param_tracking_block_minimum_shift, uint, 0444);
MODULE_PARM_DESC(tracking_block_minimum_shift,
		 "log2 of the smallest change-tracking block, 12..26 (16)");

unsigned int param_tracking_block_maximum_shift = 26;	/* 64 MiB */
module_param_named(tracking_block_maximum_shift,
		   param_tracking_block_maximum_shift, uint, 0444);
MODULE_PARM_DESC(tracking_block_maximum_shift,
		 "log2 of the largest change-tracking block, up to 30 (26)");

unsigned int param_tracking_block_maximum_count = 2097152;
module_param_named(tracking_block_maximum_count,
		   param_tracking_block_maximum_count, uint, 0444);
MODULE_PARM_DESC(tracking_block_maximum_count,
		 "most tracking blocks (bytes of each map copy) per device (2097152)");

unsigned int param_chunk_minimum_shift = 16;		/* 64 KiB */
module_param_named(chunk_minimum_shift, param_chunk_minimum_shift, uint,
		   0444);
MODULE_PARM_DESC(chunk_minimum_shift,
		 "log2 of the smallest copy-on-write chunk, 12..24 (16)");

unsigned int param_chunk_maximum_shift = 24;		/* 16 MiB */
module_param_named(chunk_maximum_shift, param_chunk_maximum_shift, uint,
		   0444);
MODULE_PARM_DESC(chunk_maximum_shift,
		 "log2 of the largest copy-on-write chunk, up to 26 (24)");

unsigned int param_chunk_maximum_count = 1048576;
module_param_named(chunk_maximum_count, param_chunk_maximum_count, uint,
		   0444);
MODULE_PARM_DESC(chunk_maximum_count,
		 "most chunks per device; the chunk table takes 16 bytes each (1048576)");

unsigned int param_cow_buffer_mb = 32;
module_param_named(cow_buffer_mb, param_cow_buffer_mb, uint, 0444);
MODULE_PARM_DESC(cow_buffer_mb,
		 "memory for copies in flight, all snapshots (MiB); writers wait beyond (32)");

unsigned int param_cow_max_io_kb = 1024;
module_param_named(cow_max_io_kb, param_cow_max_io_kb, uint, 0444);
MODULE_PARM_DESC(cow_max_io_kb,
		 "largest read or write of one copy (KiB), 64..16384 (1024)");

unsigned int param_cow_readahead_kb = 4096;
module_param_named(cow_readahead_kb, param_cow_readahead_kb, uint, 0444);
MODULE_PARM_DESC(cow_readahead_kb,
		 "copy this far ahead of a sequential writer (KiB), within the memory budget; 0 disables (4096)");

unsigned int param_diff_storage_minimum_mb = 256;
module_param_named(diff_storage_minimum_mb, param_diff_storage_minimum_mb,
		   uint, 0444);
MODULE_PARM_DESC(diff_storage_minimum_mb,
		 "low-space event when free storage < half of this; it asks for this much (MiB) (256)");

unsigned int param_diff_storage_wait_ms = 5000;
module_param_named(diff_storage_wait_ms, param_diff_storage_wait_ms, uint,
		   0444);
MODULE_PARM_DESC(diff_storage_wait_ms,
		 "how long copies wait for storage to be appended before the snapshot overflows (ms) (5000)");

unsigned int param_test_image_read_delay_ms;
module_param_named(test_image_read_delay_ms, param_test_image_read_delay_ms,
		   uint, 0444);
MODULE_PARM_DESC(test_image_read_delay_ms,
		 "for tests only: an image read waits this long after each part it sends to the original, where it may wait (ms) (0)");

struct workqueue_struct *snapkeep_wq;
struct workqueue_struct *snapkeep_io_wq;

static int __init snapkeep_check_params(void)
{
	u64 budget = (u64)param_cow_buffer_mb << 20;

	if (param_tracking_block_minimum_shift < 12 ||
	    param_tracking_block_minimum_shift > 26 ||
	    param_tracking_block_maximum_shift <
	    param_tracking_block_minimum_shift ||
	    param_tracking_block_maximum_shift > 30 ||
	    !param_tracking_block_maximum_count) {
		pr_err("tracking_block_* parameters out of range\n");
		return -EINVAL;
	}
	if (param_chunk_minimum_shift < 12 || param_chunk_minimum_shift > 24 ||
	    param_chunk_maximum_shift < param_chunk_minimum_shift ||
	    param_chunk_maximum_shift > 26 || !param_chunk_maximum_count) {
		pr_err("chunk_* parameters out of range\n");
		return -EINVAL;
	}
	if (param_cow_max_io_kb < 64 || param_cow_max_io_kb > 16384) {
		pr_err("cow_max_io_kb=%u is outside 64..16384\n",
		       param_cow_max_io_kb);
		return -EINVAL;
	}
	/*
	 * Four copies of the smallest chunk and of cow_max_io_kb must fit:
	 * writers needing copies would otherwise queue behind one or two.
	 * Chunks never grow past a quarter of the budget (diff_area.c).
	 */
	if (budget < (4ULL << param_chunk_minimum_shift) ||
	    budget < (u64)param_cow_max_io_kb << 12 || budget > (1ULL << 40)) {
		pr_err("cow_buffer_mb=%u must hold four of the smallest chunks and four cow_max_io_kb\n",
		       param_cow_buffer_mb);
		return -EINVAL;
	}
	if (param_cow_readahead_kb > (1U << 20)) {
		pr_err("cow_readahead_kb is above 1048576\n");
		return -EINVAL;
	}
	if (param_diff_storage_wait_ms > 600000) {
		pr_err("diff_storage_wait_ms is above 600000\n");
		return -EINVAL;
	}
	if (!param_diff_storage_minimum_mb ||
	    param_diff_storage_minimum_mb > (1U << 30)) {
		pr_err("diff_storage_minimum_mb out of range\n");
		return -EINVAL;
	}
	return 0;
}

static int __init snapkeep_init(void)
{
	int ret;

	ret = snapkeep_check_params();
	if (ret)
		return ret;
	ret = cbt_store_format_check();
	if (!ret)
		ret = ckpt_log_format_check();
	if (ret)
		return ret;
	ret = diff_buffer_init();
	if (ret)
		return ret;
	ret = chunk_init();
	if (ret)
		goto out_buffer;
	ret = diff_area_init();
	if (ret)
		goto out_chunk;
	ret = filter_init();
	if (ret)
		goto out_diff_area;
	ret = -ENOMEM;
	/*
	 * Unbound: a copy's next step runs on whichever CPU is free, not on
	 * the one that took the interrupt (often the writer's).
	 */
	snapkeep_wq = alloc_workqueue("snapkeep", WQ_MEM_RECLAIM | WQ_UNBOUND,
				      0);
	if (!snapkeep_wq)
		goto out_filter;
	snapkeep_io_wq = alloc_workqueue("snapkeep_io",
					 WQ_MEM_RECLAIM | WQ_UNBOUND |
					 WQ_HIGHPRI, 0);
	if (!snapkeep_io_wq)
		goto out_wq;
	ret = sysfs_status_init();
	if (ret)
		goto out_io_wq;
	/* Patched in now, while no snapshot work runs I/O (filter.c). */
	ret = filter_start();
	if (ret)
		goto out_sysfs;
	ret = ctl_init();
	if (ret)
		goto out_hook;

	pr_info("version %s, ABI %u.%u\n", SNAPKEEP_VERSION,
		SNAPKEEP_ABI_MAJOR, SNAPKEEP_ABI_MINOR);
	return 0;

out_hook:
	filter_stop();
out_sysfs:
	sysfs_status_done();
out_io_wq:
	destroy_workqueue(snapkeep_io_wq);
out_wq:
	destroy_workqueue(snapkeep_wq);
out_filter:
	filter_done();
out_diff_area:
	diff_area_done();
out_chunk:
	chunk_done();
out_buffer:
	diff_buffer_done();
	return ret;
}

static void __exit snapkeep_exit(void)
{
	ctl_done();
	sysfs_status_done();
	/* Waits for the submitters still inside the hook. */
	filter_stop();
	/* Nothing is tracked: only releases can still be queued. */
	destroy_workqueue(snapkeep_wq);
	destroy_workqueue(snapkeep_io_wq);
	rcu_barrier();
	filter_done();
	diff_area_done();
	chunk_done();
	diff_buffer_done();
	pr_info("unloaded\n");
}

module_init(snapkeep_init);
module_exit(snapkeep_exit);

MODULE_DESCRIPTION("Live block device snapshots and changed block tracking");
MODULE_VERSION(SNAPKEEP_VERSION);
MODULE_LICENSE("GPL");
