/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The change map of a tracked device.
 */
#ifndef __SNAPKEEP_CBT_MAP_H
#define __SNAPKEEP_CBT_MAP_H

#include <linux/blk_types.h>
#include <linux/types.h>
#include <linux/uuid.h>

/**
 * struct cbt_map - one byte per tracking block, in two copies.
 * @block_shift: log2 of the tracking block size in bytes.
 * @block_count: number of blocks (bytes of each copy).
 * @capacity: device size in sectors the map was sized for.
 * @active: the copy writes mark, with @number. Read locklessly under RCU
 *	by the filter; replaced (swapped with @frozen) only by a take that
 *	resets the map, followed by synchronize_rcu().
 * @frozen: the copy frozen at the latest take, read by the READ_MAP ioctl.
 * @number: the mark writes carry now (0 until the first take).
 * @generation: changes whenever the map restarts.
 *
 * Owned by one tracker; created when it attaches (or when a take finds the
 * device resized) and freed after an RCU grace period once unpublished.
 * @number, @generation and the pointers change only inside a take, under
 * the control lock, with writers kept consistent by the protocol in
 * tracker_take_begin()/tracker_take_end().
 */
struct cbt_map {
	unsigned int block_shift;
	unsigned long block_count;
	sector_t capacity;
	u8 *active;
	u8 *frozen;
	u8 number;
	uuid_t generation;
};

struct cbt_map *cbt_map_new(sector_t capacity);
void cbt_map_free(struct cbt_map *map);

void cbt_map_mark(u8 *cells, const struct cbt_map *map, sector_t sector,
		  sector_t count, u8 number);
bool cbt_map_range_valid(const struct cbt_map *map, sector_t sector,
			 sector_t count);

#endif /* __SNAPKEEP_CBT_MAP_H */
