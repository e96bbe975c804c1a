/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tracked block device: its change map and, while a snapshot of it is
 * taken, the diff area that copies chunks before they are overwritten.
 */
#ifndef __SNAPKEEP_TRACKER_H
#define __SNAPKEEP_TRACKER_H

#include <linux/blk_types.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

#include "compat.h"

struct cbt_map;
struct cbt_store;
struct checkpoint;
struct ckpt_dev;
struct diff_area;
struct filter_disk;
struct snapshot;

/**
 * struct tracker - one tracked device.
 * @disk_link: in its filter_disk's list of trackers, RCU (filter.c).
 * @fd: that filter_disk, while attached.
 * @kref: references: the filter table holds one while attached; every
 *	diff area of the device holds one.
 * @rcu: frees the tracker after the filter stopped seeing it.
 * @dev: device number.
 * @orig: the device, opened for reading while the tracker lives; its disk
 *	is what the filter groups trackers by.
 * @start: first sector of the device on its disk (0 for a whole disk).
 * @whole: true for a whole disk (bios to its partitions reach it too).
 * @gated: writes to it wait: a take is switching its map (filter.c).
 * @map: the change map, RCU-published; replaced only by a take that finds
 *	the device resized.
 * @cow: the diff area of the taken snapshot holding the device, NULL
 *	otherwise. Published with release semantics after @map's number is
 *	raised (tracker_take_begin()), cleared at destroy, each followed by
 *	synchronize_rcu().
 * @retired: a map replaced by tracker_take_prepare(), freed by
 *	tracker_take_end() or by the next prepare once readers are gone.
 * @snapshot: the snapshot the device is in (taken or not), NULL when none.
 *	Written under the control lock, like attach and detach themselves.
 * @store: the persistent store of the map (a reference), NULL for a map
 *	kept in memory only; set before the tracker is in the filter, sealed
 *	by tracker_detach(), put with the tracker.
 * @ckpt: the checkpoint's part for this device (RCU), NULL when in none;
 *	written under the control lock by checkpoint.c (claimed at create,
 *	cleared at the end); DETACH is refused while it is set.
 *
 * Lifetime: created by attach (or snapshot create), added to the filter;
 * detach removes it, waits for RCU readers and drops the table's
 * reference. It holds a reference on the module, so the module cannot be
 * unloaded while anything is attached. @map, @retired and the take
 * protocol are used by the one snapshot holding the tracker, under that
 * snapshot's lock.
 */
struct tracker {
	struct list_head disk_link;
	struct filter_disk *fd;
	struct kref kref;
	struct rcu_head rcu;
	dev_t dev;
	struct compat_bdev orig;
	sector_t start;
	bool whole;
	bool gated;
	struct cbt_map __rcu *map;
	struct diff_area *cow;
	struct cbt_map *retired;
	struct snapshot *snapshot;
	struct cbt_store *store;
	struct ckpt_dev __rcu *ckpt;
};

struct tracker *tracker_new(dev_t dev);
void tracker_free(struct kref *kref);

static inline struct tracker *tracker_get(struct tracker *t)
{
	kref_get(&t->kref);
	return t;
}

static inline void tracker_put(struct tracker *t)
{
	if (t)
		kref_put(&t->kref, tracker_free);
}

struct diff_area *tracker_track_write(struct tracker *t, sector_t sector,
				      sector_t count, struct cbt_store **hold);
struct diff_area *tracker_cow(struct tracker *t);
struct cbt_store *tracker_intent(struct tracker *t, sector_t sector,
				 sector_t count);
struct checkpoint *tracker_ckpt_enter(struct tracker *t, sector_t sector,
				      sector_t count);
void tracker_detach(struct tracker *t);
void tracker_take_done(struct tracker *t);
void tracker_mark_both(struct tracker *t, sector_t sector, sector_t count);
int tracker_mark_dirty(struct tracker *t, sector_t sector, sector_t count);

int tracker_take_prepare(struct tracker *t);
void tracker_take_begin(struct tracker *t, struct diff_area *da);
void tracker_take_end(struct tracker *t);
void tracker_release_cow(struct tracker *t);

#endif /* __SNAPKEEP_TRACKER_H */
