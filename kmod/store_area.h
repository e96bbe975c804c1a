/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A store area: the sectors of a preallocated, pinned file (or raw ranges
 * of a device) that the module reads and writes in 4096-byte pages with its
 * own bios. Shared by the persistent change map (cbt_store.c) and the
 * checkpoint log (ckpt_log.c).
 */
#ifndef __SNAPKEEP_STORE_AREA_H
#define __SNAPKEEP_STORE_AREA_H

#include <linux/bio.h>
#include <linux/completion.h>
#include <linux/types.h>

#include "snapkeep.h"
#include "compat.h"

struct file;
struct storage_file;

#define STORE_PAGE		4096U
#define STORE_PAGE_SECTORS	(STORE_PAGE >> SECTOR_SHIFT)

/**
 * struct store_extent - a piece of a store area.
 * @start: first sector on the store device.
 * @count: sectors, a multiple of STORE_PAGE_SECTORS.
 */
struct store_extent {
	sector_t start;
	sector_t count;
};

/**
 * struct store_area - where a store lives.
 * @bdev: the store device, opened (written with bios).
 * @pin: the pinned store file, NULL for raw ranges.
 * @ext: the extents, in store order.
 * @nr_ext: entries in @ext.
 * @pages: 4096-byte pages in all of @ext.
 *
 * Owned by one store object; opened by store_area_open(), closed by
 * store_area_close(), nothing else refers to it.
 */
struct store_area {
	struct compat_bdev bdev;
	struct storage_file *pin;
	struct store_extent *ext;
	unsigned int nr_ext;
	unsigned long pages;
};

/**
 * struct store_io - the bios of one batch of store I/O.
 * @pending: bios in flight plus one for the submitter.
 * @done: completed when the last one ended.
 * @error: the last error seen, 0 when none.
 */
struct store_io {
	atomic_t pending;
	struct completion done;
	int error;
};

int store_area_open(struct store_area *a, dev_t store_dev, struct file *file,
		    const struct snapkeep_sectors *ranges, unsigned int count);
void store_area_close(struct store_area *a);
sector_t store_area_sector(const struct store_area *a, unsigned long pg);

void store_io_init(struct store_io *io);
void store_io_submit(const struct store_area *a, struct store_io *io,
		     unsigned long pg, struct page *page, blk_opf_t opf);
void store_io_submit_run(const struct store_area *a, struct store_io *io,
			 unsigned long pg, struct page **pages, unsigned int n,
			 blk_opf_t opf);
void store_io_add(struct store_io *io, struct bio *bio);
int store_io_wait(struct store_io *io);

u32 store_crc(const void *buf, size_t len);
u32 store_crc_more(u32 crc, const void *buf, size_t len);

#endif /* __SNAPKEEP_STORE_AREA_H */
