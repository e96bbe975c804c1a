// SPDX-License-Identifier: GPL-2.0
/*
 * Store areas: what the persistent change map and the checkpoint log share.
 *
 * User space gives a store as sector ranges in store order (a written,
 * immutable file's FIEMAP extents, or raw ranges of a device). The ranges
 * are checked here once: 4096-byte aligned, inside the device, not
 * overlapping; a file is pinned (storage_file_pin(), as snapshot storage
 * files are) so that nothing moves or frees its blocks while the module
 * writes them. Pages are then addressed by their index in store order and
 * read or written with the module's own bios (filter_io_bioset), which the
 * filter passes: never marked, copied nor held, also when the store is on
 * a device they track.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-store: " fmt

#include <linux/blkdev.h>
#include <linux/slab.h>

#include "diff_storage.h"
#include "filter.h"
#include "snapimage.h"
#include "store_area.h"

u32 store_crc(const void *buf, size_t len)
{
	return ~compat_crc32c(~0U, buf, len);
}

/* Continues a CRC32C: store_crc_more(store_crc(a), b) is the CRC of a + b. */
u32 store_crc_more(u32 crc, const void *buf, size_t len)
{
	return ~compat_crc32c(~crc, buf, len);
}

void store_io_init(struct store_io *io)
{
	atomic_set(&io->pending, 1);
	init_completion(&io->done);
	io->error = 0;
}

static void store_io_endio(struct bio *bio)
{
	struct store_io *io = bio->bi_private;

	if (bio->bi_status)
		WRITE_ONCE(io->error, blk_status_to_errno(bio->bi_status));
	bio_put(bio);
	if (atomic_dec_and_test(&io->pending))
		complete(&io->done);
}

/* Waits for the batch; its error, 0 when every bio succeeded. */
int store_io_wait(struct store_io *io)
{
	if (!atomic_dec_and_test(&io->pending))
		wait_for_completion_io(&io->done);
	return READ_ONCE(io->error);
}

/* The sector of store page @pg (inside the area: the caller checks). */
sector_t store_area_sector(const struct store_area *a, unsigned long pg)
{
	sector_t off = (sector_t)pg * STORE_PAGE_SECTORS;
	unsigned int i;

	for (i = 0; i < a->nr_ext; i++) {
		if (off < a->ext[i].count)
			return a->ext[i].start + off;
		off -= a->ext[i].count;
	}
	WARN_ON_ONCE(1);
	return 0;
}

/* Submits @bio (the module's own, from filter_io_bioset) counted in @io. */
void store_io_add(struct store_io *io, struct bio *bio)
{
	bio->bi_end_io = store_io_endio;
	bio->bi_private = io;
	atomic_inc(&io->pending);
	filter_submit_own(bio);
}

/* One page of I/O at store page @pg, counted in @io. */
void store_io_submit(const struct store_area *a, struct store_io *io,
		     unsigned long pg, struct page *page, blk_opf_t opf)
{
	struct bio *bio;

	bio = bio_alloc_bioset(a->bdev.bdev, 1, opf, GFP_NOIO,
			       &filter_io_bioset);
	bio->bi_iter.bi_sector = store_area_sector(a, pg);
	__bio_add_page(bio, page, STORE_PAGE, 0);
	store_io_add(io, bio);
}

/*
 * @n pages from store page @pg on, in as few bios as the extents allow
 * (one per run of pages that are contiguous on the device), counted in
 * @io.
 */
void store_io_submit_run(const struct store_area *a, struct store_io *io,
			 unsigned long pg, struct page **pages, unsigned int n,
			 blk_opf_t opf)
{
	while (n) {
		sector_t sector = store_area_sector(a, pg);
		unsigned int k = 1, i;
		struct bio *bio;

		while (k < n && k < BIO_MAX_VECS &&
		       store_area_sector(a, pg + k) ==
		       sector + (sector_t)k * STORE_PAGE_SECTORS)
			k++;
		bio = bio_alloc_bioset(a->bdev.bdev, k, opf, GFP_NOIO,
				       &filter_io_bioset);
		bio->bi_iter.bi_sector = sector;
		for (i = 0; i < k; i++)
			__bio_add_page(bio, pages[i], STORE_PAGE, 0);
		store_io_add(io, bio);
		pg += k;
		pages += k;
		n -= k;
	}
}

/* Checks the ranges and fills @a->ext (in the caller's order). */
static int store_area_extents(struct store_area *a,
			      const struct snapkeep_sectors *ranges,
			      unsigned int count)
{
	struct snapkeep_sectors *sorted;
	sector_t total = 0;
	unsigned int i;
	bool valid;

	sorted = kmemdup(ranges, count * sizeof(*sorted), GFP_KERNEL);
	if (!sorted)
		return -ENOMEM;
	storage_ranges_sort(sorted, count);
	valid = storage_ranges_valid(sorted, count,
				     bdev_nr_sectors(a->bdev.bdev),
				     STORE_PAGE_SECTORS);
	kfree(sorted);
	if (!valid)
		return -EINVAL;
	a->ext = kcalloc(count, sizeof(*a->ext), GFP_KERNEL);
	if (!a->ext)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		a->ext[i].start = ranges[i].start;
		a->ext[i].count = ranges[i].count;
		total += ranges[i].count;
	}
	a->nr_ext = count;
	a->pages = total / STORE_PAGE_SECTORS;
	return 0;
}

/*
 * Opens the store device @store_dev, checks the ranges and pins @file
 * (NULL for raw ranges). -EINVAL for an image device (its I/O is the
 * module's own), logical blocks above 4096 bytes, or bad ranges; the
 * pin's errors. On failure nothing is left open.
 */
int store_area_open(struct store_area *a, dev_t store_dev, struct file *file,
		    const struct snapkeep_sectors *ranges, unsigned int count)
{
	int ret;

	memset(a, 0, sizeof(*a));
	ret = compat_bdev_open(store_dev, &a->bdev);
	if (ret)
		return ret;
	ret = -EINVAL;
	if (snapimage_is_image(a->bdev.bdev) ||
	    bdev_logical_block_size(a->bdev.bdev) > STORE_PAGE)
		goto out_close;
	ret = store_area_extents(a, ranges, count);
	if (ret)
		goto out_close;
	if (file) {
		a->pin = storage_file_pin(file, store_dev);
		if (IS_ERR(a->pin)) {
			ret = PTR_ERR(a->pin);
			a->pin = NULL;
			goto out_close;
		}
	}
	return 0;

out_close:
	store_area_close(a);
	return ret;
}

/* Unpins the file and closes the device; safe on a closed area. */
void store_area_close(struct store_area *a)
{
	if (a->pin)
		storage_file_unpin(a->pin);
	a->pin = NULL;
	kfree(a->ext);
	a->ext = NULL;
	a->nr_ext = 0;
	compat_bdev_close(&a->bdev);
}
