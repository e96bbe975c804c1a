/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The difference storage of a snapshot, and the snapshot's shared state
 * (corruption, events).
 */
#ifndef __SNAPKEEP_DIFF_STORAGE_H
#define __SNAPKEEP_DIFF_STORAGE_H

#include <linux/atomic.h>
#include <linux/blk_types.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "compat.h"
#include "event_queue.h"

struct file;
struct holder_set;
struct snapkeep_sectors;

#define DIFF_STORAGE_MAX_DEVS	64
/* A location in the storage: device index in the top byte, then sector. */
#define DIFF_STORAGE_WHERE_SHIFT	56

/**
 * struct storage_dev - a device holding storage ranges.
 * @bdev: opened for reading (copies are written with bios); closed when
 *	the storage is freed.
 * @dev: its number.
 * @lbs: its logical block size in sectors; ranges are aligned to it.
 * @ranges: its ranges by start sector, to refuse overlaps.
 */
struct storage_dev {
	struct compat_bdev bdev;
	dev_t dev;
	unsigned int lbs;
	struct rb_root ranges;
};

/**
 * struct storage_range - sectors of one storage device.
 * @link: in &diff_storage.ranges while it has room, else in .full.
 * @node: in &storage_dev.ranges.
 * @index: the device in &diff_storage.devs.
 * @start: first sector.
 * @count: sectors.
 * @used: sectors handed out, from @start.
 */
struct storage_range {
	struct list_head link;
	struct rb_node node;
	u8 index;
	sector_t start;
	sector_t count;
	sector_t used;
};

/**
 * struct storage_file - a file whose blocks user space gave as storage,
 *	pinned while the snapshot lives.
 * @link: in &diff_storage.files.
 * @file: a reference to it; its inode carries S_SWAPFILE: the file cannot
 *	be deleted, truncated, written, punched, reflinked or defragmented
 *	(the checks swap files get), so its blocks stay where the ranges say.
 */
struct storage_file {
	struct list_head link;
	struct file *file;
};

/**
 * struct diff_storage - storage and shared state of one snapshot.
 * @kref: held by the snapshot and by each of its diff areas.
 * @lock: protects the ranges, the counters and @low_sent.
 * @devs: storage devices, appended under the control lock and never
 *	removed before the storage is freed (so readers need no lock).
 * @nr_devs: entries in @devs.
 * @ranges: ranges with room, in the order they were appended.
 * @full: ranges used up.
 * @capacity: sectors appended.
 * @used: sectors handed out (plus range tails too short for a chunk).
 * @low_sent: a low-space event was sent and no storage appended since.
 * @error: positive errno once the snapshot is corrupted (overflow or I/O
 *	error); its images then fail all I/O. Set once.
 * @dead: set when the snapshot is destroyed: no new storage I/O starts.
 * @inflight: storage I/O in flight (copies being stored, image I/O
 *	redirected to the storage).
 * @idle: destroy waits here for @inflight to drop to zero, so no write
 *	reaches a storage file after user space was told it can delete it.
 * @events: the snapshot's event queue.
 * @files: pinned files (struct storage_file), appended under the
 *	snapshot's lock, released when the storage is freed.
 */
struct diff_storage {
	struct kref kref;
	spinlock_t lock;		/* ranges, counters, low_sent */
	struct storage_dev *devs[DIFF_STORAGE_MAX_DEVS];
	unsigned int nr_devs;
	struct list_head ranges;
	struct list_head full;
	sector_t capacity;
	sector_t used;
	bool low_sent;
	int error;
	bool dead;
	atomic_t inflight;
	wait_queue_head_t idle;
	struct event_queue events;
	struct list_head files;
};

/**
 * struct storage_append - an append checked, not yet visible
 *	(diff_storage_append_prepare()).
 * @sd: a device new to the storage (opened), NULL when the ranges are on
 *	one it has already.
 * @index: the device's slot in &diff_storage.devs.
 * @ranges: the new ranges.
 * @count: entries in @ranges.
 * @pin: a file pinned by this append (NULL: none, or pinned before).
 */
struct storage_append {
	struct storage_dev *sd;
	unsigned int index;
	struct storage_range **ranges;
	unsigned int count;
	struct storage_file *pin;
};

struct diff_storage *diff_storage_new(void);
void diff_storage_free(struct kref *kref);

static inline struct diff_storage *diff_storage_get(struct diff_storage *ds)
{
	kref_get(&ds->kref);
	return ds;
}

static inline void diff_storage_put(struct diff_storage *ds)
{
	if (ds)
		kref_put(&ds->kref, diff_storage_free);
}

int diff_storage_append_prepare(struct diff_storage *ds,
				struct storage_append *a, dev_t dev,
				struct file *file,
				struct snapkeep_sectors *ranges,
				unsigned int count, unsigned int min_lbs);
void diff_storage_append_commit(struct diff_storage *ds,
				struct storage_append *a);
void diff_storage_append_abort(struct storage_append *a);
bool diff_storage_on(struct diff_storage *ds, struct holder_set *stack);

/* Shared with the persistent change maps' stores (cbt_store.c). */
struct storage_file *storage_file_pin(struct file *file, dev_t dev);
void storage_file_unpin(struct storage_file *sf);
void storage_ranges_sort(struct snapkeep_sectors *ranges, unsigned int count);
bool storage_ranges_valid(const struct snapkeep_sectors *ranges,
			  unsigned int count, sector_t size,
			  unsigned int align);
int diff_storage_alloc(struct diff_storage *ds, sector_t sectors, u64 *where);
struct block_device *diff_storage_locate(struct diff_storage *ds, u64 where,
					 sector_t *sector);
void diff_storage_check_low(struct diff_storage *ds);

void diff_storage_corrupt(struct diff_storage *ds, dev_t dev, int error);

static inline bool diff_storage_failed(struct diff_storage *ds)
{
	return READ_ONCE(ds->error) || READ_ONCE(ds->dead);
}

bool diff_storage_io_begin(struct diff_storage *ds);
void diff_storage_io_end(struct diff_storage *ds);
void diff_storage_kill(struct diff_storage *ds);

#endif /* __SNAPKEEP_DIFF_STORAGE_H */
