// SPDX-License-Identifier: GPL-2.0
/*
 * The filter: how writes to tracked devices reach the module on kernels
 * without a block filter API.
 *
 * The hook. An ftrace hook with IPMODIFY redirects calls of
 * submit_bio_noacct() to filter_submit_bio_noacct(), which calls the
 * original, or takes the bio over. Calls made from inside this module are
 * not redirected (that is how the original is reached), so the replacement
 * must really *call* it, never jump to it: a tail call would leave the
 * caller's address outside the module and recurse. The SRCU read section
 * around the call (released after it returns) rules that out.
 *
 * The hook is installed once, at module load, and removed at unload, never
 * in between: so no detach waits for the submitters inside it (one of them
 * may be stuck on a hung device anywhere in the system), the kernel's text
 * is patched while no test or backup runs I/O, and it is registered
 * FTRACE_OPS_FL_PERMANENT: `sysctl kernel.ftrace_enabled=0` is refused
 * (EBUSY) instead of silently switching copy-on-write and tracking off, and
 * the module does not load while ftrace is disabled. Unloading waits for
 * every caller still inside the replacement (SRCU), and for tasks preempted
 * at its very beginning or end (RCU tasks).
 *
 * The module's own bios (copies, image redirections, the clones below) are
 * submitted from module code and pass directly; when the block layer
 * resubmits one (the rest of a split bio) from outside, it is recognised by
 * its bio set.
 *
 * Lookup. Trackers are grouped by disk (struct filter_disk): a whole disk,
 * or any of its partitions. A write to any block device of that disk, the
 * whole disk or a partition, is mapped to disk sectors and shown to every
 * tracker it overlaps, so a write through /dev/sda to the sectors of a
 * tracked /dev/sda1 is copied and marked like one through /dev/sda1.
 *
 * Writes in flight. Every write shown to a tracker is replaced by a clone
 * that holds a reference on the disk's current epoch (struct filter_epoch,
 * a percpu_ref) until it completes. A take swaps the epochs of its disks
 * and waits for the old ones to drain: no write that was marked with the
 * old number is still on its way to the device when the maps switch.
 * Otherwise such a write (queued by blk-throttle, or slow in the device)
 * could land on a chunk after the image read it, or after the copy of that
 * chunk read it for another write: the image would change under its reader
 * and the next incremental, trusting the old number, would skip the block.
 *
 * Writes from inside another driver's submit path (a device mapper or md
 * device stacked on a tracked one) arrive with current->bio_list set: the
 * bios the module would submit there are only dispatched after that driver
 * returns, so the filter must not wait for them. Such a write, when it
 * needs a copy first or meets a closed gate, goes to a worker of its disk.
 * Writes submitted with REQ_NOWAIT are treated the same way.
 *
 * The take. filter_gate_close() makes writes to the trackers of the
 * snapshot wait (the gate), filter_drain() swaps the epochs of their disks
 * and waits for the writes in flight, the maps switch (tracker.c),
 * filter_gate_open() lets the writers go. The closing of the gate is the
 * instant of the snapshot, for all of its devices at once.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-filter: " fmt

#include <linux/blkdev.h>
#include <linux/ftrace.h>
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/percpu-refcount.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/workqueue.h>

#include "cbt_store.h"
#include "checkpoint.h"
#include "compat.h"
#include "ctl.h"
#include "diff_area.h"
#include "filter.h"
#include "main.h"
#include "tracker.h"

/* Most trackers one bio is shown to (partitions of one disk it spans). */
#define FILTER_MAX_MATCH	16

struct bio_set filter_io_bioset;
struct bio_set filter_clone_bioset;
static struct bio_set filter_write_bioset;

/**
 * struct filter_epoch - the writes in flight to one disk's tracked sectors
 *	since the last take of any of its trackers.
 * @writes: one reference per write in flight, plus the initial one, which
 *	the take (or the last detach) drops by killing the ref.
 * @drained: completed when the last write of a killed epoch ended.
 * @kref: who may still touch this struct: the ref itself until drained,
 *	and a take waiting for it.
 * @free_work: frees it in process context.
 *
 * Each epoch holds a module reference: the module cannot go while a write
 * that will end in filter_write_endio() is in flight.
 */
struct filter_epoch {
	struct percpu_ref writes;
	struct completion drained;
	struct kref kref;
	struct work_struct free_work;
};

/**
 * struct filter_disk - the trackers of one disk.
 * @hash: in filter_table, keyed by @disk; RCU.
 * @rcu: frees it after the readers of the table are gone.
 * @kref: the table's reference, plus one per queued work.
 * @disk: the disk (kept alive by the trackers' open devices).
 * @trackers: its trackers (tracker.disk_link), RCU list written under
 *	ctl_lock; a whole disk or any number of partitions, never both.
 * @epoch: the epoch writes join now; replaced by a take (take_lock).
 * @lock: protects @fresh and @counted.
 * @fresh: writes that met a closed gate where they could not wait; not
 *	counted, not marked yet.
 * @counted: writes counted and marked that need a copy first and came
 *	from where the filter could not wait.
 * @fresh_work: handles @fresh; may wait for the gate.
 * @counted_work: handles @counted; never waits for the gate (a take waits
 *	for these writes).
 */
struct filter_disk {
	struct hlist_node hash;
	struct rcu_head rcu;
	struct kref kref;
	struct gendisk *disk;
	struct list_head trackers;
	struct filter_epoch __rcu *epoch;
	spinlock_t lock;
	struct bio_list fresh;
	struct bio_list counted;
	struct work_struct fresh_work;
	struct work_struct counted_work;
};

/**
 * struct filter_write - the clone that replaces a write shown to trackers.
 * @epoch: the epoch it is counted in.
 * @parent: the original write, completed with the clone.
 * @bio: the clone (front-padded bio of filter_write_bioset).
 */
struct filter_write {
	struct filter_epoch *epoch;
	struct bio *parent;
	struct bio bio;
};

/**
 * struct filter_match - the part of a bio one tracker sees.
 * @t: the tracker (valid inside the RCU section of the lookup).
 * @da: its diff area when a taken snapshot holds it (a reference), else NULL.
 * @store: the store of its map when the write must wait for it (a
 *	reference, counted as entering: cbt_store_enter()), else NULL.
 * @ck: the checkpoint of the device when the write must wait for old data
 *	to be saved (a reference: ckpt_enter()), else NULL.
 * @sector: first sector, relative to the tracked device.
 * @count: sectors.
 */
struct filter_match {
	struct tracker *t;
	struct diff_area *da;
	struct cbt_store *store;
	struct checkpoint *ck;
	sector_t sector;
	sector_t count;
};

/* Disks with trackers, by gendisk address; written under ctl_lock. */
static DEFINE_HASHTABLE(filter_table, 6);
static unsigned int filter_nr_disks;

/* Serialises the gate and drain of takes (snapshot.c). */
static DEFINE_MUTEX(filter_take_lock);
/* Takes whose gate is closed; writers to gated trackers wait for 0. */
static atomic_t filter_gates = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(filter_gate_wait);

static struct srcu_struct filter_srcu;

static bool filter_bio_is_own(struct bio *bio)
{
	return bio->bi_pool == &filter_io_bioset ||
	       bio->bi_pool == &filter_clone_bioset ||
	       bio->bi_pool == &filter_write_bioset;
}

/* ---- epochs ---- */

static void filter_epoch_free_work(struct work_struct *work)
{
	struct filter_epoch *e = container_of(work, struct filter_epoch,
					      free_work);

	percpu_ref_exit(&e->writes);
	kfree(e);
	module_put(THIS_MODULE);
}

static void filter_epoch_free(struct kref *kref)
{
	struct filter_epoch *e = container_of(kref, struct filter_epoch, kref);

	/* The last put may come from a bio completion (interrupt). */
	INIT_WORK(&e->free_work, filter_epoch_free_work);
	queue_work(snapkeep_io_wq, &e->free_work);
}

static void filter_epoch_put(struct filter_epoch *e)
{
	kref_put(&e->kref, filter_epoch_free);
}

/* The last write of a killed epoch ended; any context. */
static void filter_epoch_release(struct percpu_ref *ref)
{
	struct filter_epoch *e = container_of(ref, struct filter_epoch, writes);

	complete(&e->drained);
	filter_epoch_put(e);
}

static struct filter_epoch *filter_epoch_new(void)
{
	struct filter_epoch *e = kzalloc(sizeof(*e), GFP_KERNEL);

	if (!e)
		return NULL;
	if (percpu_ref_init(&e->writes, filter_epoch_release, 0, GFP_KERNEL)) {
		kfree(e);
		return NULL;
	}
	init_completion(&e->drained);
	kref_init(&e->kref);
	__module_get(THIS_MODULE);
	return e;
}

/* Ends an epoch nobody waits for (detach, or one never published). */
static void filter_epoch_kill(struct filter_epoch *e)
{
	if (e)
		percpu_ref_kill(&e->writes);
}

/* ---- the table ---- */

static void filter_disk_free_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct filter_disk, rcu));
	module_put(THIS_MODULE);
}

static void filter_disk_free(struct kref *kref)
{
	struct filter_disk *fd = container_of(kref, struct filter_disk, kref);

	call_rcu(&fd->rcu, filter_disk_free_rcu);
}

static void filter_disk_put(struct filter_disk *fd)
{
	kref_put(&fd->kref, filter_disk_free);
}

/* Under rcu_read_lock(). */
static struct filter_disk *filter_disk_lookup(struct gendisk *disk)
{
	struct filter_disk *fd;

	hash_for_each_possible_rcu(filter_table, fd, hash, (unsigned long)disk)
		if (fd->disk == disk)
			return fd;
	return NULL;
}

/*
 * The trackers of @fd that @bio overlaps, with the part each sees, into
 * @m; their number. Under rcu_read_lock().
 */
static unsigned int filter_match(struct filter_disk *fd, struct bio *bio,
				 struct filter_match *m)
{
	struct block_device *bdev = bio->bi_bdev;
	sector_t from = bio->bi_iter.bi_sector;
	sector_t to;
	struct tracker *t;
	unsigned int n = 0;

	/* Disk sectors: a remapped bio (a resubmitted rest) has them already. */
	if (!bio_flagged(bio, BIO_REMAPPED))
		from += bdev->bd_start_sect;
	to = from + bio_sectors(bio);
	list_for_each_entry_rcu(t, &fd->trackers, disk_link) {
		sector_t start = t->start;
		sector_t end = start + bdev_nr_sectors(t->orig.bdev);

		if (to <= start || from >= end)
			continue;
		if (n == FILTER_MAX_MATCH) {
			pr_warn_ratelimited("a write spans more than %u tracked partitions; the rest is not seen\n",
					    FILTER_MAX_MATCH);
			break;
		}
		m[n].t = t;
		m[n].da = NULL;
		m[n].store = NULL;
		m[n].ck = NULL;
		m[n].sector = max(from, start) - start;
		m[n].count = min(to, end) - max(from, start);
		n++;
	}
	return n;
}

static bool filter_gated(struct filter_match *m, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (READ_ONCE(m[i].t->gated))
			return true;
	return false;
}

static void filter_put_matches(struct filter_match *m, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		diff_area_put(m[i].da);
		ckpt_put(m[i].ck);
		if (m[i].store)
			cbt_store_leave(m[i].store);
	}
}

/*
 * Checkpoints first, then write intent: a counted write (@clone) whose
 * chunks a checkpoint must save first, or whose cells a store must make
 * durable first, is held by that checkpoint or store, which releases it
 * to the counted writes (filter_release_held()), where the others are
 * asked again. True when held.
 */
static bool filter_hold(struct bio *clone, struct filter_match *m,
			unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (m[i].ck) {
			ckpt_hold(m[i].ck, clone);
			return true;
		}
	}
	for (i = 0; i < n; i++) {
		if (m[i].store) {
			cbt_store_hold(m[i].store, clone);
			return true;
		}
	}
	return false;
}

/* Writes queued for the disks' workers now: fresh, counted. */
static atomic_t filter_deferred[2] = { ATOMIC_INIT(0), ATOMIC_INIT(0) };

/* Appends the writes queued to @buf (@len used of @size); the new length. */
int filter_show_deferred(char *buf, int len, int size)
{
	return len + scnprintf(buf + len, size - len,
			       "writes deferred fresh=%d counted=%d\n",
			       atomic_read(&filter_deferred[0]),
			       atomic_read(&filter_deferred[1]));
}

/* Queues @bio for a worker of @fd (any context); takes an @fd reference. */
static void filter_defer(struct filter_disk *fd, struct bio *bio,
			 bool counted)
{
	struct work_struct *work = counted ? &fd->counted_work :
					     &fd->fresh_work;
	unsigned long flags;

	/* The worker waits where the submitter could not. */
	bio->bi_opf &= ~REQ_NOWAIT;
	spin_lock_irqsave(&fd->lock, flags);
	bio_list_add(counted ? &fd->counted : &fd->fresh, bio);
	atomic_inc(&filter_deferred[counted]);
	spin_unlock_irqrestore(&fd->lock, flags);
	kref_get(&fd->kref);
	if (!queue_work(snapkeep_wq, work))
		filter_disk_put(fd);
}

/*
 * Like filter_defer(), outside the lookup's RCU section: a disk no longer
 * tracked has nothing to wait for, the bio is submitted.
 */
static void filter_defer_bio(struct bio *bio, bool counted)
{
	struct filter_disk *fd;

	rcu_read_lock();
	fd = filter_disk_lookup(bio->bi_bdev->bd_disk);
	if (fd)
		filter_defer(fd, bio, counted);
	rcu_read_unlock();
	if (!fd)
		filter_submit_own(bio);
}

/* ---- the write path ---- */

static void filter_write_endio(struct bio *clone)
{
	struct filter_write *fw = container_of(clone, struct filter_write, bio);
	struct filter_epoch *epoch = fw->epoch;
	struct bio *parent = fw->parent;

	if (clone->bi_status)
		parent->bi_status = clone->bi_status;
	bio_put(clone);
	bio_endio(parent);
	/* Last: the write is complete when the take sees it gone. */
	percpu_ref_put(&epoch->writes);
}

static struct bio *filter_clone(struct bio *bio, struct filter_epoch *epoch,
				gfp_t gfp)
{
	struct filter_write *fw;
	struct bio *clone;

	clone = bio_alloc_clone(bio->bi_bdev, bio, gfp, &filter_write_bioset);
	if (!clone)
		return NULL;
	/* Completions of the clone come by interrupt, not by polling it. */
	bio_clear_polled(clone);
	clone->bi_end_io = filter_write_endio;
	fw = container_of(clone, struct filter_write, bio);
	fw->epoch = epoch;
	fw->parent = bio;
	return clone;
}

/*
 * Copy-on-write for a counted write (@clone) and submission. @m holds the
 * trackers' parts and diff areas. A single part in a taken snapshot (the
 * usual case) may be held and submitted later by the diff area; several
 * parts (a write through the whole disk spanning tracked partitions, rare)
 * are copied one after the other, waiting here.
 */
static void filter_cow(struct bio *clone, struct filter_match *m,
		       unsigned int n, bool can_sleep)
{
	unsigned int i, nda = 0, last = 0;
	enum cow_result res;

	for (i = 0; i < n; i++) {
		if (m[i].da) {
			nda++;
			last = i;
		}
	}
	if (!nda) {
		filter_submit_own(clone);
		return;
	}
	if (nda == 1) {
		res = diff_area_cow(m[last].da, clone, m[last].sector,
				    m[last].count, diff_area_cow_mode(can_sleep));
	} else if (!can_sleep) {
		res = COW_DEFER;
	} else {
		for (i = 0; i < n; i++)
			if (m[i].da)
				diff_area_cow(m[i].da, clone, m[i].sector,
					      m[i].count, COW_WAIT);
		res = COW_PASS;
	}
	if (res == COW_PASS)
		filter_submit_own(clone);
	else if (res == COW_DEFER)
		filter_defer_bio(clone, true);
}

/*
 * Discards to chunks a snapshot has not copied yet, or a checkpoint has
 * not saved yet, are dropped (completed without reaching the device): a
 * discard leaves the data undefined, and unchanged is one way of
 * undefined, while passing it would change what the image reads there (or
 * what a rollback restores), and copying it would copy free space.
 */
static bool filter_discard_dropped(struct bio *bio, struct filter_match *m,
				   unsigned int n)
{
	unsigned int i;

	if (bio_op(bio) != REQ_OP_DISCARD)
		return false;
	for (i = 0; i < n; i++)
		if (m[i].ck || (m[i].da &&
				!diff_area_range_copied(m[i].da, m[i].sector,
							m[i].count)))
			return true;
	return false;
}

/*
 * Shows a write to the trackers it overlaps. Returns true when the module
 * took the bio over (it is submitted or completed by the module); false
 * when the caller submits it now.
 */
static bool filter_handle(struct bio *bio)
{
	struct filter_match m[FILTER_MAX_MATCH];
	bool nowait = compat_bio_nowait(bio);
	bool can_sleep = !current->bio_list && !nowait;
	struct filter_epoch *epoch;
	struct filter_disk *fd;
	unsigned int n, i;
	struct bio *clone;

	if (!op_is_write(bio_op(bio)) || !bio_sectors(bio) ||
	    filter_bio_is_own(bio) || !READ_ONCE(filter_nr_disks))
		return false;

retry:
	rcu_read_lock();
	fd = filter_disk_lookup(bio->bi_bdev->bd_disk);
	n = fd ? filter_match(fd, bio, m) : 0;
	if (!n) {
		rcu_read_unlock();
		return false;
	}
	if (unlikely(filter_gated(m, n))) {
		if (!can_sleep) {
			filter_defer(fd, bio, false);
			rcu_read_unlock();
			return true;
		}
		rcu_read_unlock();
		wait_event(filter_gate_wait, !atomic_read(&filter_gates));
		goto retry;
	}
	for (i = 0; i < n; i++) {
		m[i].da = tracker_track_write(m[i].t, m[i].sector, m[i].count,
					      &m[i].store);
		m[i].ck = tracker_ckpt_enter(m[i].t, m[i].sector, m[i].count);
	}
	/* Counted inside the section the gate waits for (filter_drain()). */
	epoch = rcu_dereference(fd->epoch);
	percpu_ref_get(&epoch->writes);
	rcu_read_unlock();

	if (filter_discard_dropped(bio, m, n)) {
		bio_endio(bio);
		percpu_ref_put(&epoch->writes);
		goto out;
	}
	clone = filter_clone(bio, epoch, nowait ? GFP_NOWAIT : GFP_NOIO);
	if (!clone) {
		/* Only a REQ_NOWAIT write gets here: start over in a worker. */
		percpu_ref_put(&epoch->writes);
		filter_defer_bio(bio, false);
		goto out;
	}
	if (!filter_hold(clone, m, n))
		filter_cow(clone, m, n, can_sleep);
out:
	filter_put_matches(m, n);
	return true;
}

/* Writes that met a closed gate where they could not wait for it. */
static void filter_fresh_work(struct work_struct *work)
{
	struct filter_disk *fd = container_of(work, struct filter_disk,
					      fresh_work);
	struct bio_list list;
	struct bio *bio;

	spin_lock_irq(&fd->lock);
	list = fd->fresh;
	bio_list_init(&fd->fresh);
	spin_unlock_irq(&fd->lock);
	while ((bio = bio_list_pop(&list))) {
		atomic_dec(&filter_deferred[0]);
		if (!filter_handle(bio))
			filter_submit_own(bio);
	}
	filter_disk_put(fd);
}

/*
 * Counted writes that need copies and came from where the filter could not
 * wait, and writes a store held until their cells were durable: the
 * copies are made here. The diff areas and stores are looked up again (the
 * write was marked already); the gate is not looked at, since a take may
 * be waiting for exactly these writes.
 */
static void filter_counted_work(struct work_struct *work)
{
	struct filter_disk *fd = container_of(work, struct filter_disk,
					      counted_work);
	struct filter_match m[FILTER_MAX_MATCH];
	struct bio_list list;
	struct bio *clone;
	unsigned int n, i;

	spin_lock_irq(&fd->lock);
	list = fd->counted;
	bio_list_init(&fd->counted);
	spin_unlock_irq(&fd->lock);
	while ((clone = bio_list_pop(&list))) {
		atomic_dec(&filter_deferred[1]);
		rcu_read_lock();
		n = filter_match(fd, clone, m);
		for (i = 0; i < n; i++) {
			m[i].da = tracker_cow(m[i].t);
			m[i].store = tracker_intent(m[i].t, m[i].sector,
						    m[i].count);
			m[i].ck = tracker_ckpt_enter(m[i].t, m[i].sector,
						     m[i].count);
		}
		rcu_read_unlock();
		if (!filter_hold(clone, m, n))
			filter_cow(clone, m, n, true);
		filter_put_matches(m, n);
	}
	filter_disk_put(fd);
}

/*
 * A write a store held (cbt_store_hold()) goes on: its copies are made
 * and it is submitted by the counted writes' worker, in the order
 * released. Any context.
 */
void filter_release_held(struct bio *clone)
{
	filter_defer_bio(clone, true);
}

/*
 * Shows every part of a counted write (@clone), one per tracker it
 * overlaps, to a checkpoint's worker collecting the chunks its held
 * writes need (ckpt_collect(), under rcu_read_lock()).
 */
void filter_ckpt_parts(struct bio *clone, struct ckpt_batch *b)
{
	struct filter_match m[FILTER_MAX_MATCH];
	struct filter_disk *fd;
	unsigned int n, i;

	rcu_read_lock();
	fd = filter_disk_lookup(clone->bi_bdev->bd_disk);
	n = fd ? filter_match(fd, clone, m) : 0;
	for (i = 0; i < n; i++)
		ckpt_collect(m[i].t, m[i].sector, m[i].count, b);
	rcu_read_unlock();
}

/* Where submit_bio_noacct() calls from outside the module end up. */
static void filter_submit_bio_noacct(struct bio *bio)
{
	int idx = srcu_read_lock(&filter_srcu);

	if (!filter_handle(bio))
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
		  FTRACE_OPS_FL_RECURSION | FTRACE_OPS_FL_PERMANENT,
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
	if (ret) {
		if (ret == -EBUSY)
			pr_err("cannot hook %s: ftrace is disabled (sysctl kernel.ftrace_enabled=0) or another module modifies it\n",
			       name);
		else
			pr_err("cannot hook %s: register_ftrace_function: %d\n",
			       name, ret);
		ftrace_free_filter(&filter_ops);
	}
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
	ftrace_free_filter(&filter_ops);
}

/* ---- trackers in and out (ctl_lock held) ---- */

/*
 * Starts filtering for @t. A whole disk and its partitions are never
 * tracked together: a write would belong to two trackers.
 */
int filter_add(struct tracker *t)
{
	struct gendisk *disk = t->orig.bdev->bd_disk;
	struct filter_disk *fd;
	struct tracker *other;

	lockdep_assert_held(&ctl_lock);
	if (filter_find(t->dev))
		return -EEXIST;
	fd = filter_disk_lookup(disk);
	if (fd) {
		list_for_each_entry(other, &fd->trackers, disk_link)
			if (other->whole || t->whole)
				return -EBUSY;
	} else {
		fd = kzalloc(sizeof(*fd), GFP_KERNEL);
		if (!fd)
			return -ENOMEM;
		RCU_INIT_POINTER(fd->epoch, filter_epoch_new());
		if (!rcu_access_pointer(fd->epoch)) {
			kfree(fd);
			return -ENOMEM;
		}
		kref_init(&fd->kref);
		fd->disk = disk;
		INIT_LIST_HEAD(&fd->trackers);
		spin_lock_init(&fd->lock);
		bio_list_init(&fd->fresh);
		bio_list_init(&fd->counted);
		INIT_WORK(&fd->fresh_work, filter_fresh_work);
		INIT_WORK(&fd->counted_work, filter_counted_work);
		__module_get(THIS_MODULE);
		hash_add_rcu(filter_table, &fd->hash, (unsigned long)disk);
		WRITE_ONCE(filter_nr_disks, filter_nr_disks + 1);
	}
	t->fd = fd;
	list_add_tail_rcu(&t->disk_link, &fd->trackers);
	return 0;
}

/*
 * Stops filtering for @t. On return no filter path sees it any more; the
 * caller drops the table's reference. Writes of its disk still in flight
 * finish on their own: nothing here waits for them.
 */
void filter_del(struct tracker *t)
{
	struct filter_disk *fd = t->fd;
	bool last;

	lockdep_assert_held(&ctl_lock);
	list_del_rcu(&t->disk_link);
	last = list_empty(&fd->trackers);
	if (last) {
		hash_del_rcu(&fd->hash);
		WRITE_ONCE(filter_nr_disks, filter_nr_disks - 1);
	}
	synchronize_rcu();
	if (last) {
		/* No reader has the disk now; its writes end on their own. */
		filter_epoch_kill(rcu_replace_pointer(fd->epoch, NULL,
						      lockdep_is_held(&ctl_lock)));
		filter_disk_put(fd);
	}
	t->fd = NULL;
}

/* The tracker of device @dev (ctl_lock held), or NULL. */
struct tracker *filter_find(dev_t dev)
{
	struct filter_disk *fd;
	struct tracker *t;
	unsigned int bkt;

	lockdep_assert_held(&ctl_lock);
	hash_for_each(filter_table, bkt, fd, hash)
		list_for_each_entry(t, &fd->trackers, disk_link)
			if (t->dev == dev)
				return t;
	return NULL;
}

/* Calls @fn for every tracker (ctl_lock held) until it returns non-zero. */
int filter_for_each(int (*fn)(struct tracker *t, void *arg), void *arg)
{
	struct filter_disk *fd;
	struct tracker *t;
	unsigned int bkt;
	int ret;

	lockdep_assert_held(&ctl_lock);
	hash_for_each(filter_table, bkt, fd, hash) {
		list_for_each_entry(t, &fd->trackers, disk_link) {
			ret = fn(t, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* ---- takes ---- */

/*
 * Allocates what a take of @trackers needs (a fresh epoch per tracker,
 * more than enough for their disks), before anything is frozen.
 */
int filter_take_prepare(struct filter_take *ft, struct tracker **trackers,
			unsigned int count)
{
	unsigned int i;

	ft->trackers = trackers;
	ft->count = count;
	ft->fresh = kcalloc(count, sizeof(*ft->fresh), GFP_KERNEL);
	if (!ft->fresh)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		ft->fresh[i] = filter_epoch_new();
		if (!ft->fresh[i]) {
			filter_take_release(ft);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Frees the fresh epochs the take did not use. */
void filter_take_release(struct filter_take *ft)
{
	unsigned int i;

	if (!ft->fresh)
		return;
	for (i = 0; i < ft->count; i++)
		filter_epoch_kill(ft->fresh[i]);
	kfree(ft->fresh);
	ft->fresh = NULL;
}

/*
 * Holds writes to the take's trackers back: on return, no write to them is
 * between its look at the gate and its counting in an epoch, and new ones
 * wait in filter_handle() (or go to a worker that waits). Takes the take
 * lock, which filter_gate_open() releases.
 */
void filter_gate_close(struct filter_take *ft)
{
	unsigned int i;

	mutex_lock(&filter_take_lock);
	for (i = 0; i < ft->count; i++)
		WRITE_ONCE(ft->trackers[i]->gated, true);
	atomic_inc(&filter_gates);
	synchronize_rcu();
}

/*
 * Gate closed: waits until every write counted before it (to any tracked
 * sector of the take's disks) has completed. -ETIMEDOUT when they did not
 * within @timeout_ms (a hung device): the take must fail.
 */
int filter_drain(struct filter_take *ft, unsigned int timeout_ms)
{
	unsigned long left = msecs_to_jiffies(timeout_ms);
	struct filter_disk **seen;
	struct filter_epoch **old;
	unsigned int i, j, n = 0;
	int ret = 0;

	lockdep_assert_held(&filter_take_lock);
	seen = kcalloc(ft->count, sizeof(*seen), GFP_KERNEL | __GFP_NOFAIL);
	old = kcalloc(ft->count, sizeof(*old), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < ft->count; i++) {
		struct filter_disk *fd = ft->trackers[i]->fd;

		for (j = 0; j < n; j++)
			if (seen[j] == fd)
				break;
		if (j < n)
			continue;	/* a disk seen already */
		seen[n] = fd;
		old[n++] = rcu_replace_pointer(fd->epoch, ft->fresh[i],
					lockdep_is_held(&filter_take_lock));
		ft->fresh[i] = NULL;
	}
	/* Writers that read an old epoch have counted themselves in it. */
	synchronize_rcu();
	for (i = 0; i < n; i++) {
		kref_get(&old[i]->kref);
		percpu_ref_kill(&old[i]->writes);
	}
	for (i = 0; i < n; i++) {
		if (!ret) {
			left = wait_for_completion_timeout(&old[i]->drained,
							   left);
			if (!left)
				ret = -ETIMEDOUT;
		}
		filter_epoch_put(old[i]);
	}
	kfree(old);
	kfree(seen);
	return ret;
}

void filter_gate_open(struct filter_take *ft)
{
	unsigned int i;

	for (i = 0; i < ft->count; i++)
		WRITE_ONCE(ft->trackers[i]->gated, false);
	atomic_dec(&filter_gates);
	wake_up_all(&filter_gate_wait);
	mutex_unlock(&filter_take_lock);
}

/* ---- module load and unload ---- */

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
	/* Clones are made inside stacked drivers' submit paths too. */
	ret = bioset_init(&filter_write_bioset, 256,
			  offsetof(struct filter_write, bio),
			  BIOSET_NEED_RESCUER);
	if (ret)
		goto out_clone;
	return 0;

out_clone:
	bioset_exit(&filter_clone_bioset);
out_io:
	bioset_exit(&filter_io_bioset);
out_srcu:
	cleanup_srcu_struct(&filter_srcu);
	return ret;
}

/* Hooks the filter: last thing before the control device appears. */
int filter_start(void)
{
	return filter_hook();
}

/* Unhooks the filter: first thing at module exit, after the device. */
void filter_stop(void)
{
	filter_unhook();
}

/*
 * At module exit, after filter_stop(): nothing is tracked (trackers pin
 * the module), no write is in flight (epochs pin it), the workers have
 * run (their workqueues are destroyed first).
 */
void filter_done(void)
{
	bioset_exit(&filter_write_bioset);
	bioset_exit(&filter_clone_bioset);
	bioset_exit(&filter_io_bioset);
	cleanup_srcu_struct(&filter_srcu);
}
