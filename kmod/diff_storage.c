// SPDX-License-Identifier: GPL-2.0
/*
 * Difference storage: the sector ranges user space gave a snapshot (the
 * extents of preallocated files, typically), handed out chunk by chunk in
 * the order they were appended. Ranges are checked when they arrive, so
 * nothing on the copy path can write outside what user space allowed.
 *
 * When the free part falls below half of diff_storage_minimum_mb, one
 * low-space event asks for that much more; each append re-arms it. When a
 * copy finds no room, it waits up to diff_storage_wait_ms for an append
 * (chunk.c); then the snapshot is corrupted (overflow): its images fail
 * from then on, the original devices carry on.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-storage: " fmt

#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "snapkeep.h"
#include "diff_storage.h"
#include "params.h"
#include "snapimage.h"

struct diff_storage *diff_storage_new(void)
{
	struct diff_storage *ds;

	ds = kzalloc(sizeof(*ds), GFP_KERNEL);
	if (!ds)
		return ERR_PTR(-ENOMEM);
	kref_init(&ds->kref);
	spin_lock_init(&ds->lock);
	INIT_LIST_HEAD(&ds->ranges);
	INIT_LIST_HEAD(&ds->full);
	atomic_set(&ds->inflight, 0);
	init_waitqueue_head(&ds->idle);
	event_queue_init(&ds->events);
	return ds;
}

static void diff_storage_free_ranges(struct list_head *list)
{
	struct storage_range *r, *tmp;

	list_for_each_entry_safe(r, tmp, list, link) {
		list_del(&r->link);
		kfree(r);
	}
}

/* The last diff area or the snapshot let go; process context. */
void diff_storage_free(struct kref *kref)
{
	struct diff_storage *ds = container_of(kref, struct diff_storage, kref);
	unsigned int i;

	diff_storage_free_ranges(&ds->ranges);
	diff_storage_free_ranges(&ds->full);
	for (i = 0; i < ds->nr_devs; i++) {
		compat_bdev_close(&ds->devs[i]->bdev);
		kfree(ds->devs[i]);
	}
	kfree(ds);
}

static sector_t diff_storage_threshold(void)
{
	return ((sector_t)param_diff_storage_minimum_mb << (20 - SECTOR_SHIFT))
	       / 2;
}

static void diff_storage_event_low(struct diff_storage *ds)
{
	struct event ev = {
		.code = SNAPKEEP_EVENT_LOW_SPACE,
		.requested_sectors = (u64)param_diff_storage_minimum_mb
				     << (20 - SECTOR_SHIFT),
	};

	event_queue_push(&ds->events, &ev);
}

/* Sends the low-space event if due (at take, and after each allocation). */
void diff_storage_check_low(struct diff_storage *ds)
{
	bool send = false;

	spin_lock(&ds->lock);
	if (!ds->low_sent &&
	    ds->capacity - ds->used < diff_storage_threshold()) {
		ds->low_sent = true;
		send = true;
	}
	spin_unlock(&ds->lock);
	if (send)
		diff_storage_event_low(ds);
}

static int diff_storage_cmp_range(const void *a, const void *b)
{
	const struct snapkeep_sectors *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/* Whether [start, start + count) overlaps a range of @sd. */
static bool diff_storage_overlaps(struct storage_dev *sd, sector_t start,
				  sector_t count)
{
	struct rb_node *n = sd->ranges.rb_node;

	while (n) {
		struct storage_range *r = rb_entry(n, struct storage_range,
						   node);

		if (start + count <= r->start)
			n = n->rb_left;
		else if (start >= r->start + r->count)
			n = n->rb_right;
		else
			return true;
	}
	return false;
}

static void diff_storage_insert(struct storage_dev *sd,
				struct storage_range *nr)
{
	struct rb_node **p = &sd->ranges.rb_node, *parent = NULL;

	while (*p) {
		struct storage_range *r = rb_entry(*p, struct storage_range,
						   node);

		parent = *p;
		p = nr->start < r->start ? &(*p)->rb_left : &(*p)->rb_right;
	}
	rb_link_node(&nr->node, parent, p);
	rb_insert_color(&nr->node, &sd->ranges);
}

/* The device's slot in @ds->devs, opening it on first use (ctl_lock). */
static int diff_storage_dev(struct diff_storage *ds, dev_t dev)
{
	struct storage_dev *sd;
	unsigned int i;
	int ret;

	for (i = 0; i < ds->nr_devs; i++)
		if (ds->devs[i]->dev == dev)
			return i;
	if (ds->nr_devs == DIFF_STORAGE_MAX_DEVS)
		return -E2BIG;

	sd = kzalloc(sizeof(*sd), GFP_KERNEL);
	if (!sd)
		return -ENOMEM;
	ret = compat_bdev_open(dev, &sd->bdev);
	if (ret)
		goto out_free;
	if (snapimage_is_image(sd->bdev.bdev)) {
		/* Copies of an image into an image: a loop, refused. */
		ret = -EINVAL;
		goto out_close;
	}
	sd->dev = dev;
	sd->lbs = bdev_logical_block_size(sd->bdev.bdev) >> SECTOR_SHIFT;
	sd->ranges = RB_ROOT;
	/* Published before the ranges that use it; readers need no lock. */
	smp_store_release(&ds->devs[ds->nr_devs], sd);
	return ds->nr_devs++;

out_close:
	compat_bdev_close(&sd->bdev);
out_free:
	kfree(sd);
	return ret;
}

/*
 * Appends @count ranges (kernel copy, sorted here) of device @dev, under
 * the control lock. All or nothing: -EINVAL for an empty, unaligned,
 * out-of-device or overlapping range, leaving the storage as it was.
 */
int diff_storage_append(struct diff_storage *ds, dev_t dev,
			struct snapkeep_sectors *ranges, unsigned int count)
{
	struct storage_range **fresh;
	struct storage_dev *sd;
	sector_t size, added = 0;
	unsigned int i;
	int index, ret;

	index = diff_storage_dev(ds, dev);
	if (index < 0)
		return index;
	sd = ds->devs[index];
	size = bdev_nr_sectors(sd->bdev.bdev);

	sort(ranges, count, sizeof(*ranges), diff_storage_cmp_range, NULL);
	for (i = 0; i < count; i++) {
		struct snapkeep_sectors *r = &ranges[i];

		if (!r->count || r->start >= size || r->count > size - r->start)
			return -EINVAL;
		if (r->start % sd->lbs || r->count % sd->lbs)
			return -EINVAL;
		if (i && ranges[i - 1].start + ranges[i - 1].count > r->start)
			return -EINVAL;
		if (diff_storage_overlaps(sd, r->start, r->count))
			return -EINVAL;
	}

	fresh = kvcalloc(count, sizeof(*fresh), GFP_KERNEL);
	if (!fresh)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		fresh[i] = kzalloc(sizeof(**fresh), GFP_KERNEL);
		if (!fresh[i]) {
			ret = -ENOMEM;
			goto out_free;
		}
		fresh[i]->index = index;
		fresh[i]->start = ranges[i].start;
		fresh[i]->count = ranges[i].count;
	}

	spin_lock(&ds->lock);
	for (i = 0; i < count; i++) {
		diff_storage_insert(sd, fresh[i]);
		list_add_tail(&fresh[i]->link, &ds->ranges);
		added += fresh[i]->count;
	}
	ds->capacity += added;
	/* Answered: ask again if it is still not enough. */
	ds->low_sent = false;
	spin_unlock(&ds->lock);
	kvfree(fresh);
	return 0;

out_free:
	while (i--)
		kfree(fresh[i]);
	kvfree(fresh);
	return ret;
}

/*
 * Hands out @sectors contiguous sectors: 0 and the location in *@where, or
 * -ENOSPC (the caller corrupts the snapshot). Process context.
 */
int diff_storage_alloc(struct diff_storage *ds, sector_t sectors, u64 *where)
{
	struct storage_range *r, *tmp;
	int ret = -ENOSPC;

	spin_lock(&ds->lock);
	list_for_each_entry_safe(r, tmp, &ds->ranges, link) {
		if (r->count - r->used >= sectors) {
			*where = ((u64)r->index << DIFF_STORAGE_WHERE_SHIFT) |
				 (r->start + r->used);
			r->used += sectors;
			ds->used += sectors;
			ret = 0;
			if (r->used == r->count)
				list_move_tail(&r->link, &ds->full);
			break;
		}
		/* A tail too short for a chunk is given up. */
		ds->used += r->count - r->used;
		r->used = r->count;
		list_move_tail(&r->link, &ds->full);
	}
	spin_unlock(&ds->lock);
	diff_storage_check_low(ds);
	return ret;
}

/* The device and sector of a location handed out by diff_storage_alloc(). */
struct block_device *diff_storage_locate(struct diff_storage *ds, u64 where,
					 sector_t *sector)
{
	struct storage_dev *sd;

	/* Pairs with the release in diff_storage_dev(). */
	sd = smp_load_acquire(&ds->devs[where >> DIFF_STORAGE_WHERE_SHIFT]);
	*sector = where & ((1ULL << DIFF_STORAGE_WHERE_SHIFT) - 1);
	return sd->bdev.bdev;
}

/*
 * Corrupts the snapshot with positive errno @error (the first one counts):
 * images fail from now on, an overflow event names device @dev.
 */
void diff_storage_corrupt(struct diff_storage *ds, dev_t dev, int error)
{
	struct event ev = {
		.code = SNAPKEEP_EVENT_OVERFLOW,
		.dev = dev,
		.error = error,
	};

	if (cmpxchg(&ds->error, 0, error) != 0)
		return;
	pr_warn("snapshot corrupted by %u:%u: error %d%s\n", MAJOR(dev),
		MINOR(dev), error,
		error == ENOSPC ? " (difference storage full)" : "");
	event_queue_push(&ds->events, &ev);
}

/*
 * Brackets storage I/O: false when the snapshot is being destroyed (then
 * no I/O may start). Any context.
 */
bool diff_storage_io_begin(struct diff_storage *ds)
{
	atomic_inc(&ds->inflight);
	/* Count first, then look: diff_storage_kill() does the reverse. */
	smp_mb__after_atomic();
	if (!READ_ONCE(ds->dead))
		return true;
	diff_storage_io_end(ds);
	return false;
}

void diff_storage_io_end(struct diff_storage *ds)
{
	if (atomic_dec_and_test(&ds->inflight))
		wake_up_all(&ds->idle);
}

/*
 * Destroy: stop new storage I/O, wake event waiters, wait for the I/O in
 * flight. On return nothing writes to the storage ranges any more.
 */
void diff_storage_kill(struct diff_storage *ds)
{
	WRITE_ONCE(ds->dead, true);
	/* Flag first, then look: diff_storage_io_begin() does the reverse. */
	smp_mb();
	event_queue_close(&ds->events);
	wait_event(ds->idle, !atomic_read(&ds->inflight));
}
