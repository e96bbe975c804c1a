/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stack of block devices built on a device: its partitions and the
 * device-mapper and md devices above it (LVM, LUKS, RAID), recursively.
 */
#ifndef __SNAPKEEP_HOLDERS_H
#define __SNAPKEEP_HOLDERS_H

#include <linux/blkdev.h>
#include <linux/types.h>

#include "compat.h"

/**
 * struct holder - one device of a stack.
 * @dev: its number.
 * @level: 0 for the base device and, for a whole disk, its partitions;
 *	one more than the highest device of the stack it is built on, for a
 *	device above (and for that device's partitions).
 * @whole: a whole disk (its partitions belong to the stack too).
 * @name: its kernel name (vda1, dm-0): the name of the holder links.
 * @open: opened while it is frozen (holders_freeze()).
 * @frozen: holders_freeze() froze it; holders_thaw() thaws it.
 */
struct holder {
	dev_t dev;
	unsigned int level;
	bool whole;
	char name[32];
	struct compat_bdev open;
	bool frozen;
};

/**
 * struct holder_set - devices stacked on one or more base devices.
 * @h: the devices, in the order found.
 * @nr: entries in @h.
 * @cap: room in @h.
 *
 * Built by the caller, freed with holders_free(); nothing else refers to
 * it. The devices are identified by number only, except while frozen.
 */
struct holder_set {
	struct holder *h;
	unsigned int nr;
	unsigned int cap;
};

int holders_collect(struct holder_set *set, struct block_device *base);
bool holders_above(struct holder_set *set, dev_t dev);
void holders_freeze(struct holder_set *set);
void holders_thaw(struct holder_set *set);
void holders_free(struct holder_set *set);

#endif /* __SNAPKEEP_HOLDERS_H */
