/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Snapshot image block devices, /dev/snapkeep-img<N>.
 */
#ifndef __SNAPKEEP_SNAPIMAGE_H
#define __SNAPKEEP_SNAPIMAGE_H

#include <linux/bio.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include "snapkeep.h"

struct diff_area;
struct gendisk;

/**
 * struct snapimage - the image of one device of a taken snapshot.
 * @disk: the block device; private_data points here.
 * @da: the device's diff area (a reference).
 * @index: N in the name, from an IDA.
 * @name: the disk's name.
 * @lock: protects @deferred.
 * @deferred: bios waiting for @work (writes, reads of chunks being copied).
 * @work: serves @deferred on snapkeep_wq.
 *
 * Created at take, destroyed with the snapshot: snapimage_destroy() makes
 * the disk go away (an opener, e.g. a mounted file system, keeps the dead
 * gendisk alive but never calls into this module again: the queue is
 * dying, so submit_bio fails before the driver, and there are no other
 * block_device_operations than submit_bio), waits for the deferred bios,
 * then frees this. Every bio on its way holds its own reference on @da.
 */
struct snapimage {
	struct gendisk *disk;
	struct diff_area *da;
	int index;
	char name[SNAPKEEP_IMAGE_NAME_LEN];
	spinlock_t lock;		/* @deferred */
	struct bio_list deferred;
	struct work_struct work;
};

struct snapimage *snapimage_create(struct diff_area *da);
void snapimage_destroy(struct snapimage *si);
bool snapimage_is_image(struct block_device *bdev);

#endif /* __SNAPKEEP_SNAPIMAGE_H */
