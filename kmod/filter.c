// SPDX-License-Identifier: GPL-2.0
/*
 * The filter: how writes to tracked devices reach the module on kernels
 * without a block filter API.
 *
 * An ftrace hook with IPMODIFY redirects calls of submit_bio_noacct() to
 * filter_submit_bio_noacct(), which looks the bio's device up in an
 * RCU-protected hash table and calls the original, or takes the bio over.
 * Calls made from inside this module are not redirected (that is how the
 * original is reached), so the replacement must really *call* it, never
 * jump to it: a tail call would leave the caller's address outside the
 * module and recurse. The SRCU read section around the call (released
 * after it returns) rules that out.
 *
 * The module's own bios (copies, image redirections) are submitted from
 * module code and pass directly; when the block layer resubmits one (the
 * rest of a split bio) from outside, it is recognised by its bio set.
 *
 * A write from inside another driver's submit path (a device mapper or md
 * device stacked on a tracked one) arrives with current->bio_list set: the
 * bios the module would submit there are only dispatched after that
 * driver returns, so the filter must not wait for them. Such a write, when
 * it needs a copy first, goes to a worker that does the copy and then
 * submits it. Writes submitted with REQ_NOWAIT are treated the same way.
 *
 * A take closes the gate for a moment (filter_gate_close()): writes to
 * tracked devices wait while the maps switch, so the snapshot of several
 * devices is one instant even for writers that no file system freeze
 * stops (raw devices), and no write marks a map while it is copied.
 *
 * The hook is registered while at least one device is tracked. Removing it
 * waits for every caller still inside the replacement (SRCU), and for
 * tasks preempted at its very beginning or end (RCU tasks), so the module
 * can be unloaded once nothing is tracked.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-filter: " fmt

#include <linux/blkdev.h>
#include <linux/ftrace.h>
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/srcu.h>
#include <linux/workqueue.h>

#include "ctl.h"
#include "diff_area.h"
#include "filter.h"
#include "main.h"
#include "tracker.h"

struct bio_set filter_io_bioset;
struct bio_set filter_clone_bioset;

/* Trackers by the address of their struct block_device; ctl_lock writes. */
static DEFINE_HASHTABLE(filter_table, 6);
static unsigned int filter_nr;
static unsigned int filter_nr_whole;

static struct srcu_struct filter_srcu;

static bool filter_gate_closed;
static DECLARE_WAIT_QUEUE_HEAD(filter_gate_wait);

static DEFINE_SPINLOCK(filter_deferred_lock);
static struct bio_list filter_deferred;
static void filter_deferred_work(struct work_struct *work);
static DECLARE_WORK(filter_deferred_worker, filter_deferred_work);

static bool filter_bio_is_own(struct bio *bio)
{
	return bio->bi_pool == &filter_io_bioset ||
	       bio->bi_pool == &filter_clone_bioset;
}

/* Under rcu_read_lock(). */
static struct tracker *filter_lookup(struct block_device *bdev)
{
	struct tracker *t;

	hash_for_each_possible_rcu(filter_table, t, hash, (unsigned long)bdev)
		if (t->orig.bdev == bdev)
			return t;
	return NULL;
}

/*
 * The tracker seeing a bio to @bdev, with the bio's sector relative to the
 * tracked device in *@sector: the device's own, or its whole disk's.
 */
static struct tracker *filter_lookup_bio(struct bio *bio, sector_t *sector)
{
	struct block_device *bdev = bio->bi_bdev;
	bool remapped = bio_flagged(bio, BIO_REMAPPED);
	struct tracker *t;

	*sector = bio->bi_iter.bi_sector;
	t = filter_lookup(bdev);
	if (t) {
		if (remapped)
			*sector -= bdev->bd_start_sect;
		return t;
	}
	if (!bdev_is_partition(bdev) || !READ_ONCE(filter_nr_whole))
		return NULL;
	t = filter_lookup(bdev_whole(bdev));
	if (t && !remapped)
		*sector += bdev->bd_start_sect;
	return t;
}

/*
 * Shows a bio to its tracker. Returns true when the module took the bio
 * over; false when the caller submits it now.
 */
static void filter_defer(struct bio *bio)
{
	spin_lock(&filter_deferred_lock);
	bio_list_add(&filter_deferred, bio);
	spin_unlock(&filter_deferred_lock);
	queue_work(snapkeep_wq, &filter_deferred_worker);
}

static bool filter_handle(struct bio *bio, bool can_sleep)
{
	sector_t count = bio_sectors(bio);
	struct diff_area *da = NULL;
	enum cow_result res;
	struct tracker *t;
	sector_t sector;

	if (!op_is_write(bio_op(bio)) || !count || filter_bio_is_own(bio))
		return false;

retry:
	rcu_read_lock();
	t = filter_lookup_bio(bio, &sector);
	if (t && unlikely(READ_ONCE(filter_gate_closed))) {
		rcu_read_unlock();
		if (!can_sleep) {
			filter_defer(bio);
			return true;
		}
		wait_event(filter_gate_wait, !READ_ONCE(filter_gate_closed));
		goto retry;
	}
	if (t)
		da = tracker_track_write(t, sector, count);
	rcu_read_unlock();
	if (!da)
		return false;

	res = diff_area_cow(da, bio, sector, count, can_sleep);
	diff_area_put(da);
	if (res != COW_DEFER)
		return res == COW_HELD;
	filter_defer(bio);
	return true;
}

/*
 * Holds writes to tracked devices back (ctl_lock held, for a take): on
 * return, no write is between its look at the gate and the end of its
 * marking, and new ones wait in filter_handle().
 */
void filter_gate_close(void)
{
	lockdep_assert_held(&ctl_lock);
	WRITE_ONCE(filter_gate_closed, true);
	synchronize_rcu();
}

void filter_gate_open(void)
{
	WRITE_ONCE(filter_gate_closed, false);
	wake_up_all(&filter_gate_wait);
}

/* Writes that arrived where the filter could not wait. */
static void filter_deferred_work(struct work_struct *work)
{
	struct bio_list list;
	struct bio *bio;

	for (;;) {
		spin_lock(&filter_deferred_lock);
		list = filter_deferred;
		bio_list_init(&filter_deferred);
		spin_unlock(&filter_deferred_lock);
		if (bio_list_empty(&list))
			return;
		while ((bio = bio_list_pop(&list)))
			if (!filter_handle(bio, true))
				filter_submit_own(bio);
	}
}

/* Where submit_bio_noacct() calls from outside the module end up. */
static void filter_submit_bio_noacct(struct bio *bio)
{
	bool can_sleep = !current->bio_list && !(bio->bi_opf & REQ_NOWAIT);
	int idx = srcu_read_lock(&filter_srcu);

	if (!filter_handle(bio, can_sleep))
		submit_bio_noacct(bio);
	srcu_read_unlock(&filter_srcu, idx);
}

/* Submits a bio from the module: the hook lets calls from here pass. */
void filter_submit_own(struct bio *bio)
{
	submit_bio_noacct(bio);
	/* Not a tail call: the caller's address must stay in the module. */
	barrier();
}

static void notrace filter_ftrace_handler(unsigned long ip,
					  unsigned long parent_ip,
					  struct ftrace_ops *ops,
					  struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);

	if (regs && !within_module(parent_ip, THIS_MODULE))
		instruction_pointer_set(regs,
					(unsigned long)filter_submit_bio_noacct);
}

static struct ftrace_ops filter_ops = {
	.func	= filter_ftrace_handler,
	.flags	= FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY |
		  FTRACE_OPS_FL_RECURSION,
};

static int filter_hook(void)
{
	static unsigned char name[] = "submit_bio_noacct";
	int ret;

	ret = ftrace_set_filter(&filter_ops, name, sizeof(name) - 1, 1);
	if (ret) {
		pr_err("cannot hook %s: ftrace_set_filter: %d\n", name, ret);
		return ret;
	}
	ret = register_ftrace_function(&filter_ops);
	if (ret)
		pr_err("cannot hook %s: register_ftrace_function: %d\n", name,
		       ret);
	return ret;
}

static void filter_unhook(void)
{
	int ret = unregister_ftrace_function(&filter_ops);

	if (ret)
		pr_err("unregister_ftrace_function: %d\n", ret);
	/* Callers inside the replacement, then those at its edges. */
	synchronize_srcu(&filter_srcu);
	synchronize_rcu_tasks();
}

static bool filter_same_disk(struct tracker *a, struct tracker *b)
{
	return a->orig.bdev->bd_disk == b->orig.bdev->bd_disk;
}

/*
 * Starts filtering for @t (ctl_lock held). A whole disk and its partitions
 * are never tracked together: a write would belong to two trackers.
 */
int filter_add(struct tracker *t)
{
	struct tracker *other;
	unsigned int bkt;
	int ret;

	lockdep_assert_held(&ctl_lock);
	hash_for_each(filter_table, bkt, other, hash) {
		if (other->dev == t->dev)
			return -EEXIST;
		if (filter_same_disk(other, t) && (other->whole || t->whole))
			return -EBUSY;
	}
	if (!filter_nr) {
		ret = filter_hook();
		if (ret)
			return ret;
	}
	hash_add_rcu(filter_table, &t->hash, (unsigned long)t->orig.bdev);
	filter_nr++;
	if (t->whole)
		WRITE_ONCE(filter_nr_whole, filter_nr_whole + 1);
	return 0;
}

/*
 * Stops filtering for @t (ctl_lock held). On return no filter path sees it
 * any more; the caller drops the table's reference.
 */
void filter_del(struct tracker *t)
{
	lockdep_assert_held(&ctl_lock);
	hash_del_rcu(&t->hash);
	filter_nr--;
	if (t->whole)
		WRITE_ONCE(filter_nr_whole, filter_nr_whole - 1);
	synchronize_rcu();
	if (!filter_nr)
		filter_unhook();
}

/* The tracker of device @dev (ctl_lock held), or NULL. */
struct tracker *filter_find(dev_t dev)
{
	struct tracker *t;
	unsigned int bkt;

	lockdep_assert_held(&ctl_lock);
	hash_for_each(filter_table, bkt, t, hash)
		if (t->dev == dev)
			return t;
	return NULL;
}

/* Calls @fn for every tracker (ctl_lock held) until it returns non-zero. */
int filter_for_each(int (*fn)(struct tracker *t, void *arg), void *arg)
{
	struct tracker *t;
	unsigned int bkt;
	int ret;

	lockdep_assert_held(&ctl_lock);
	hash_for_each(filter_table, bkt, t, hash) {
		ret = fn(t, arg);
		if (ret)
			return ret;
	}
	return 0;
}

int filter_init(void)
{
	int ret;

	ret = init_srcu_struct(&filter_srcu);
	if (ret)
		return ret;
	ret = bioset_init(&filter_io_bioset, 64, 0, BIOSET_NEED_BVECS);
	if (ret)
		goto out_srcu;
	ret = bioset_init(&filter_clone_bioset, 64,
			  offsetof(struct image_clone, bio),
			  BIOSET_NEED_RESCUER);
	if (ret)
		goto out_io;
	return 0;

out_io:
	bioset_exit(&filter_io_bioset);
out_srcu:
	cleanup_srcu_struct(&filter_srcu);
	return ret;
}

/*
 * At module exit: nothing is tracked (trackers pin the module) and the
 * deferred work has run (its workqueue is destroyed first).
 */
void filter_done(void)
{
	bioset_exit(&filter_clone_bioset);
	bioset_exit(&filter_io_bioset);
	cleanup_srcu_struct(&filter_srcu);
}
