// SPDX-License-Identifier: GPL-2.0
/*
 * Trackers: the per-device part of the write path, and the switch of the
 * change map at take.
 *
 * The take protocol (file systems frozen, the filter's gate closed, which
 * waited for writers already marking; see filter.c):
 *
 *   tracker_take_begin()  raise the number (or restart the map), then
 *                         publish the diff area: writes from now on mark
 *                         the new number and copy chunks first;
 *   tracker_take_end()    copy the active map into the frozen one.
 *
 * Every write that the image may show (it did not copy) marked the map
 * before the frozen copy was made. Writes after the gate opens see the new
 * diff area and number together: the diff area is read with acquire
 * semantics before the number. Cells only grow (cbt_map_mark()), and image
 * writes or MARK_DIRTY may mark at any time: they mark both copies.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-tracker: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "cbt_map.h"
#include "cbt_store.h"
#include "checkpoint.h"
#include "diff_area.h"
#include "filter.h"
#include "snapimage.h"
#include "tracker.h"

struct tracker *tracker_new(dev_t dev)
{
	struct tracker *t;
	struct cbt_map *map;
	int ret;

	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return ERR_PTR(-ENOMEM);
	ret = compat_bdev_open(dev, &t->orig);
	if (ret)
		goto out_free;
	if (snapimage_is_image(t->orig.bdev)) {
		/* Its I/O is the module's own: it cannot be followed. */
		ret = -EINVAL;
		goto out_close;
	}
	/*
	 * Zone appends land where the device puts them and zone resets carry
	 * no sectors; DAX writes bypass bios. None can be copied first.
	 */
	if (bdev_is_zoned(t->orig.bdev) ||
	    blk_queue_dax(bdev_get_queue(t->orig.bdev))) {
		ret = -EOPNOTSUPP;
		goto out_close;
	}
	map = cbt_map_new(bdev_nr_sectors(t->orig.bdev));
	if (IS_ERR(map)) {
		ret = PTR_ERR(map);
		goto out_close;
	}
	RCU_INIT_POINTER(t->map, map);
	kref_init(&t->kref);
	INIT_LIST_HEAD(&t->disk_link);
	t->dev = dev;
	t->whole = !bdev_is_partition(t->orig.bdev);
	t->start = t->whole ? 0 : t->orig.bdev->bd_start_sect;
	__module_get(THIS_MODULE);
	return t;

out_close:
	compat_bdev_close(&t->orig);
out_free:
	kfree(t);
	return ERR_PTR(ret);
}

static void tracker_free_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct tracker, rcu));
}

/*
 * The last reference is dropped by detach (after synchronize_rcu()) or by
 * the release work of the last diff area: process context either way.
 */
void tracker_free(struct kref *kref)
{
	struct tracker *t = container_of(kref, struct tracker, kref);

	cbt_store_put(t->store);
	cbt_map_free(rcu_dereference_protected(t->map, 1));
	cbt_map_free(t->retired);
	compat_bdev_close(&t->orig);
	call_rcu(&t->rcu, tracker_free_rcu);
	module_put(THIS_MODULE);
}

/*
 * The write path of a tracked device, under rcu_read_lock() (filter.c
 * calls it for every write with data): marks the map, and returns the diff
 * area (a reference) when a taken snapshot holds the device, else NULL.
 * @sector is relative to the tracked device. When the map's store must
 * make the cells durable before the write may go, *@hold is the store
 * (cbt_store_enter()), else NULL.
 */
struct diff_area *tracker_track_write(struct tracker *t, sector_t sector,
				      sector_t count, struct cbt_store **hold)
{
	struct cbt_map *map = rcu_dereference(t->map);
	struct diff_area *da;
	u8 *cells;
	u8 number;

	/*
	 * The diff area before the number (pairs with the releases in
	 * tracker_take_begin()): see the top of the file.
	 */
	da = smp_load_acquire(&t->cow);
	/* A restarted map comes with number 1 (tracker_take_begin()). */
	cells = smp_load_acquire(&map->active);
	number = READ_ONCE(map->number);
	cbt_map_mark(cells, map, sector, count, number);
	*hold = NULL;
	if (t->store && cbt_store_enter(t->store, sector, count, number))
		*hold = t->store;
	if (da && !diff_area_tryget(da))
		da = NULL;
	return da;
}

/*
 * For a write marked before and held or deferred since, under
 * rcu_read_lock(): the store that must still make its cells durable (as
 * cbt_store_enter()), or NULL. The number cannot have moved meanwhile: a
 * take waits for the write (it is counted).
 */
struct cbt_store *tracker_intent(struct tracker *t, sector_t sector,
				 sector_t count)
{
	struct cbt_map *map = rcu_dereference(t->map);

	if (t->store && cbt_store_enter(t->store, sector, count,
					READ_ONCE(map->number)))
		return t->store;
	return NULL;
}

/*
 * Under rcu_read_lock(), for a write marked (now or before): the
 * checkpoint (a reference) when the write must wait until the old data of
 * its chunks is saved, else NULL (ckpt_enter()).
 */
struct checkpoint *tracker_ckpt_enter(struct tracker *t, sector_t sector,
				      sector_t count)
{
	struct ckpt_dev *cd = rcu_dereference(t->ckpt);

	return cd ? ckpt_enter(cd, sector, count) : NULL;
}

/*
 * DETACH (control lock held): out of the filter, then the store sealed,
 * then the table's reference dropped.
 */
void tracker_detach(struct tracker *t)
{
	filter_del(t);
	if (t->store)
		cbt_store_close(t->store);
	tracker_put(t);
}

/*
 * After a successful take, before it returns: the store records the new
 * number, so user space never keeps a number the store could forget.
 */
void tracker_take_done(struct tracker *t)
{
	if (t->store && cbt_store_sync(t->store))
		pr_warn("%u:%u: the store did not record number %u\n",
			MAJOR(t->dev), MINOR(t->dev),
			READ_ONCE(rcu_dereference_protected(t->map, 1)->number));
}

/*
 * The diff area of a taken snapshot holding @t (a reference), or NULL;
 * under rcu_read_lock(). For a write counted and marked before, whose copy
 * is made by a worker.
 */
struct diff_area *tracker_cow(struct tracker *t)
{
	/* Acquire: pairs with the release in tracker_take_begin(). */
	struct diff_area *da = smp_load_acquire(&t->cow);

	if (da && !diff_area_tryget(da))
		da = NULL;
	return da;
}

/*
 * Marks a range in both copies with the current number: the backup of the
 * current take and the next one both read it. For writes to an image (a
 * bio, so a bounded range).
 */
void tracker_mark_both(struct tracker *t, sector_t sector, sector_t count)
{
	struct cbt_map *map;
	u8 number;

	rcu_read_lock();
	map = rcu_dereference(t->map);
	number = READ_ONCE(map->number);
	/* Pairs with the release in tracker_take_begin(). */
	cbt_map_mark(smp_load_acquire(&map->active), map, sector, count,
		     number);
	cbt_map_mark(READ_ONCE(map->frozen), map, sector, count, number);
	if (t->store)
		cbt_store_note(t->store, sector, count, number);
	rcu_read_unlock();
}

/*
 * The MARK_DIRTY ioctl: like tracker_mark_both() for a range of any size,
 * in pieces, each in its own RCU section, rescheduling in between: a
 * whole-device range of a big disk must not stall RCU. The caller keeps
 * the tracker alive (control lock). -EINTR on a fatal signal.
 */
int tracker_mark_dirty(struct tracker *t, sector_t sector, sector_t count)
{
	/* 64 Ki cells at a time at most. */
	while (count) {
		struct cbt_map *map;
		sector_t piece;

		rcu_read_lock();
		map = rcu_dereference(t->map);
		piece = min_t(sector_t, count,
			      (sector_t)65536 << (map->block_shift -
						  SECTOR_SHIFT));
		rcu_read_unlock();
		tracker_mark_both(t, sector, piece);
		sector += piece;
		count -= piece;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	/* Durable before the caller is told. */
	if (t->store)
		return cbt_store_sync(t->store);
	return 0;
}

/*
 * Before freezing: a device resized since its map was made gets a new map
 * (and generation), allocated here where sleeping is fine. A map retired
 * by an earlier prepare whose take failed is freed now (its readers left
 * long ago: synchronize_rcu() below).
 */
int tracker_take_prepare(struct tracker *t)
{
	struct cbt_map *map = rcu_dereference_protected(t->map, 1);
	sector_t capacity = bdev_nr_sectors(t->orig.bdev);
	struct cbt_map *fresh;

	if (map->capacity == capacity)
		return 0;
	fresh = cbt_map_new(capacity);
	if (IS_ERR(fresh))
		return PTR_ERR(fresh);
	pr_info("%u:%u was resized: change map restarts\n", MAJOR(t->dev),
		MINOR(t->dev));
	/* Its store was made for the old geometry. */
	if (t->store)
		cbt_store_disable(t->store);
	rcu_assign_pointer(t->map, fresh);
	synchronize_rcu();
	cbt_map_free(t->retired);
	t->retired = map;
	return 0;
}

/* Under the control lock, file systems frozen. See the top of the file. */
void tracker_take_begin(struct tracker *t, struct diff_area *da)
{
	struct cbt_map *map = rcu_dereference_protected(t->map, 1);

	if (map->number == 255) {
		u8 *cleared = map->frozen;

		/* Restart: writers move to a zeroed copy with number 1. */
		memset(cleared, 0, map->block_count);
		uuid_gen(&map->generation);
		WRITE_ONCE(map->number, 1);
		if (t->store)
			cbt_store_restart(t->store);
		map->frozen = map->active;
		/* Writers that see the new copy see number 1. */
		smp_store_release(&map->active, cleared);
		pr_info("%u:%u change map restarts (number passed 255)\n",
			MAJOR(t->dev), MINOR(t->dev));
	} else {
		WRITE_ONCE(map->number, map->number + 1);
	}
	/* Writers that copy mark the new number. */
	smp_store_release(&t->cow, da);
}

/* Gate still closed: freeze the map of this take. */
void tracker_take_end(struct tracker *t)
{
	struct cbt_map *map = rcu_dereference_protected(t->map, 1);

	if (map->number == 1)
		memset(map->frozen, 0, map->block_count);
	else
		memcpy(map->frozen, map->active, map->block_count);
	/* Writers switched to the new map before the gate closed. */
	cbt_map_free(t->retired);
	t->retired = NULL;
}

/* Stops copying (destroy or failed take); the caller synchronizes RCU. */
void tracker_release_cow(struct tracker *t)
{
	WRITE_ONCE(t->cow, NULL);
}
