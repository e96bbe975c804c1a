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
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "snapkeep.h"
#include "diff_storage.h"
#include "holders.h"
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
	INIT_LIST_HEAD(&ds->files);
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

/* Ends the pin of storage_file_pin(): the file is an ordinary file again. */
void storage_file_unpin(struct storage_file *sf)
{
	struct inode *inode = file_inode(sf->file);

	inode_lock(inode);
	inode->i_flags &= ~S_SWAPFILE;
	inode_unlock(inode);
	fput(sf->file);
	kfree(sf);
}

/* The last diff area or the snapshot let go; process context. */
void diff_storage_free(struct kref *kref)
{
	struct diff_storage *ds = container_of(kref, struct diff_storage, kref);
	struct storage_file *sf, *tmp;
	unsigned int i;

	/* No copy writes to the storage any more (kill, or never taken). */
	list_for_each_entry_safe(sf, tmp, &ds->files, link)
		storage_file_unpin(sf);
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

/*
 * Pins @file, whose blocks on @dev are being given to the module (a
 * snapshot's storage, a persistent change map's store): a file reference
 * keeps its blocks allocated, S_SWAPFILE refuses what would move or free
 * them (unlink, truncate, write, fallocate, reflink, dedupe,
 * defragmentation), as for an active swap file. Returns the pin or an
 * ERR_PTR: -EINVAL (not a regular file, or not on @dev), -ETXTBSY (a swap
 * file, or pinned already).
 */
struct storage_file *storage_file_pin(struct file *file, dev_t dev)
{
	struct inode *inode = file_inode(file);
	struct storage_file *sf;
	int ret;

	if (!S_ISREG(inode->i_mode) || !inode->i_sb->s_bdev ||
	    inode->i_sb->s_bdev->bd_dev != dev)
		return ERR_PTR(-EINVAL);
	sf = kzalloc(sizeof(*sf), GFP_KERNEL);
	if (!sf)
		return ERR_PTR(-ENOMEM);
	inode_lock(inode);
	if (IS_SWAPFILE(inode)) {
		ret = -ETXTBSY;
		goto out_unlock;
	}
	inode->i_flags |= S_SWAPFILE;
	/* Writes begun before the flag finish before the ranges are used. */
	ret = inode_drain_writes(inode);
	if (ret) {
		inode->i_flags &= ~S_SWAPFILE;
		goto out_unlock;
	}
	inode_unlock(inode);
	sf->file = get_file(file);
	return sf;

out_unlock:
	inode_unlock(inode);
	kfree(sf);
	return ERR_PTR(ret);
}

/* Pins @file for @ds; NULL when @ds pins it already. */
static struct storage_file *diff_storage_pin(struct diff_storage *ds,
					     struct file *file, dev_t dev)
{
	struct storage_file *sf;

	list_for_each_entry(sf, &ds->files, link)
		if (file_inode(sf->file) == file_inode(file))
			return NULL;
	return storage_file_pin(file, dev);
}

/*
 * Checks ranges sorted by start: each non-empty, inside a device of @size
 * sectors, @align-sector aligned, not overlapping the one before.
 */
bool storage_ranges_valid(const struct snapkeep_sectors *ranges,
			  unsigned int count, sector_t size, unsigned int align)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		const struct snapkeep_sectors *r = &ranges[i];

		if (!r->count || r->start >= size || r->count > size - r->start)
			return false;
		if (r->start % align || r->count % align)
			return false;
		if (i && ranges[i - 1].start + ranges[i - 1].count > r->start)
			return false;
	}
	return true;
}

/* Sorts ranges by start sector (for storage_ranges_valid()). */
void storage_ranges_sort(struct snapkeep_sectors *ranges, unsigned int count)
{
	sort(ranges, count, sizeof(*ranges), diff_storage_cmp_range, NULL);
}

/*
 * The device of an append: its slot when the storage has it, else a new
 * storage_dev opened for it in @a->sd (published by the commit). A device
 * whose logical blocks are larger than the smallest of the snapshot's
 * devices (@min_lbs bytes) is refused: image I/O at the original's
 * granularity, and the short last chunk of an original whose size is no
 * multiple of the storage's block, would reach it misaligned.
 */
static int diff_storage_dev(struct diff_storage *ds, struct storage_append *a,
			    dev_t dev, unsigned int min_lbs)
{
	struct storage_dev *sd;
	unsigned int i;
	int ret;

	for (i = 0; i < ds->nr_devs; i++) {
		if (ds->devs[i]->dev == dev) {
			a->index = i;
			return 0;
		}
	}
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
	if (bdev_logical_block_size(sd->bdev.bdev) > min_lbs) {
		ret = -EINVAL;
		goto out_close;
	}
	sd->dev = dev;
	sd->lbs = bdev_logical_block_size(sd->bdev.bdev) >> SECTOR_SHIFT;
	sd->ranges = RB_ROOT;
	a->sd = sd;
	a->index = ds->nr_devs;
	return 0;

out_close:
	compat_bdev_close(&sd->bdev);
out_free:
	kfree(sd);
	return ret;
}

/*
 * Checks an append of @count ranges (kernel copy, sorted here) of device
 * @dev, of @file when given (pinned), and prepares it in @a; nothing is
 * visible before diff_storage_append_commit(), and
 * diff_storage_append_abort() undoes all of it: all or nothing. -EINVAL
 * for an empty, unaligned, out-of-device or overlapping range, a device
 * with larger blocks than @min_lbs, or a file not on @dev; -ETXTBSY for a
 * file pinned elsewhere; -E2BIG for too many devices. The snapshot's lock
 * serialises appends.
 */
int diff_storage_append_prepare(struct diff_storage *ds,
				struct storage_append *a, dev_t dev,
				struct file *file,
				struct snapkeep_sectors *ranges,
				unsigned int count, unsigned int min_lbs)
{
	struct storage_dev *sd;
	sector_t size;
	unsigned int i;
	int ret;

	ret = diff_storage_dev(ds, a, dev, min_lbs);
	if (ret)
		return ret;
	sd = a->sd ? a->sd : ds->devs[a->index];
	size = bdev_nr_sectors(sd->bdev.bdev);

	storage_ranges_sort(ranges, count);
	ret = -EINVAL;
	if (!storage_ranges_valid(ranges, count, size, sd->lbs))
		goto out_abort;
	for (i = 0; i < count; i++)
		if (diff_storage_overlaps(sd, ranges[i].start, ranges[i].count))
			goto out_abort;
	if (file) {
		a->pin = diff_storage_pin(ds, file, dev);
		if (IS_ERR(a->pin)) {
			ret = PTR_ERR(a->pin);
			a->pin = NULL;
			goto out_abort;
		}
	}

	ret = -ENOMEM;
	a->ranges = kvcalloc(count, sizeof(*a->ranges), GFP_KERNEL);
	if (!a->ranges)
		goto out_abort;
	for (i = 0; i < count; i++) {
		a->ranges[i] = kzalloc(sizeof(**a->ranges), GFP_KERNEL);
		if (!a->ranges[i])
			goto out_abort;
		a->count++;
		a->ranges[i]->index = a->index;
		a->ranges[i]->start = ranges[i].start;
		a->ranges[i]->count = ranges[i].count;
	}
	return 0;

out_abort:
	diff_storage_append_abort(a);
	return ret;
}

/* Makes a prepared append visible to the copies. */
void diff_storage_append_commit(struct diff_storage *ds,
				struct storage_append *a)
{
	struct storage_dev *sd;
	sector_t added = 0;
	unsigned int i;

	if (a->sd) {
		/* Published before the ranges that use it; readers need no lock. */
		smp_store_release(&ds->devs[a->index], a->sd);
		ds->nr_devs++;
	}
	sd = ds->devs[a->index];
	if (a->pin)
		list_add_tail(&a->pin->link, &ds->files);

	spin_lock(&ds->lock);
	for (i = 0; i < a->count; i++) {
		diff_storage_insert(sd, a->ranges[i]);
		list_add_tail(&a->ranges[i]->link, &ds->ranges);
		added += a->ranges[i]->count;
	}
	ds->capacity += added;
	/* Answered: ask again if it is still not enough. */
	ds->low_sent = false;
	spin_unlock(&ds->lock);
	kvfree(a->ranges);
	memset(a, 0, sizeof(*a));
}

/* Undoes a prepared append. */
void diff_storage_append_abort(struct storage_append *a)
{
	unsigned int i;

	for (i = 0; i < a->count; i++)
		kfree(a->ranges[i]);
	kvfree(a->ranges);
	if (a->pin)
		storage_file_unpin(a->pin);
	if (a->sd) {
		compat_bdev_close(&a->sd->bdev);
		kfree(a->sd);
	}
	memset(a, 0, sizeof(*a));
}

/*
 * Whether a device of the storage is in @stack above its base (the
 * snapshot's lock or the control lock held: devices are added under both).
 */
bool diff_storage_on(struct diff_storage *ds, struct holder_set *stack)
{
	unsigned int i;

	for (i = 0; i < ds->nr_devs; i++)
		if (holders_above(stack, ds->devs[i]->dev))
			return true;
	return false;
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
		/* Whole blocks of the range's device (a no-op: see diff_storage_dev()). */
		sectors = round_up(sectors, ds->devs[r->index]->lbs);
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
