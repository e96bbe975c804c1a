// SPDX-License-Identifier: GPL-2.0
/*
 * Change maps: sizing, allocation, marking.
 *
 * A cell holds the number of the latest snapshot period in which its block
 * was written. Marks only ever raise a cell: a writer that read the number
 * just before a take may mark after a writer that read the new one, and
 * lowering the cell would hide the newer write from the next backup.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-cbt: " fmt

#include <linux/atomic.h>
#include <linux/math64.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "cbt_map.h"
#include "params.h"

static unsigned long cbt_map_count(sector_t capacity, unsigned int shift)
{
	return DIV_ROUND_UP_ULL((u64)capacity << SECTOR_SHIFT, 1ULL << shift);
}

struct cbt_map *cbt_map_new(sector_t capacity)
{
	unsigned int shift = param_tracking_block_minimum_shift;
	struct cbt_map *map;
	unsigned long count;
	int ret = -ENOMEM;

	count = cbt_map_count(capacity, shift);
	while (count > param_tracking_block_maximum_count &&
	       shift < param_tracking_block_maximum_shift) {
		shift++;
		count = cbt_map_count(capacity, shift);
	}
	if (!count)
		count = 1;

	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return ERR_PTR(-ENOMEM);
	map->block_shift = shift;
	map->block_count = count;
	map->capacity = capacity;
	map->active = vzalloc(count);
	if (!map->active)
		goto out_free_map;
	map->frozen = vzalloc(count);
	if (!map->frozen)
		goto out_free_active;
	map->number = 0;
	uuid_gen(&map->generation);
	return map;

out_free_active:
	vfree(map->active);
out_free_map:
	kfree(map);
	return ERR_PTR(ret);
}

void cbt_map_free(struct cbt_map *map)
{
	if (!map)
		return;
	vfree(map->frozen);
	vfree(map->active);
	kfree(map);
}

/* A non-empty sector range inside the device. */
bool cbt_map_range_valid(const struct cbt_map *map, sector_t sector,
			 sector_t count)
{
	return count && sector < map->capacity &&
	       count <= map->capacity - sector;
}

/*
 * Raises the cells of @cells (one of @map's copies) covering the sectors to
 * @number. The part of the range past the end of the device is ignored
 * (the block layer fails such bios anyway). Lock-free: cells only grow.
 */
void cbt_map_mark(u8 *cells, const struct cbt_map *map, sector_t sector,
		  sector_t count, u8 number)
{
	unsigned int shift = map->block_shift - SECTOR_SHIFT;
	unsigned long first, last, i;

	if (!count || sector >= map->capacity)
		return;
	if (count > map->capacity - sector)
		count = map->capacity - sector;
	first = sector >> shift;
	last = (sector + count - 1) >> shift;
	if (last >= map->block_count)
		last = map->block_count - 1;

	for (i = first; i <= last; i++) {
		u8 old = READ_ONCE(cells[i]);

		while (old < number) {
			u8 seen = cmpxchg(&cells[i], old, number);

			if (seen == old)
				break;
			old = seen;
		}
	}
}
