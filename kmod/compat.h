/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the supported kernels, in one place.
 *
 * The .c files call the compat_*() shims below wherever the kernels
 * disagree; each shim picks the API of the running kernel by
 * LINUX_VERSION_CODE. No .c file tests the kernel version itself, so when
 * the oldest supported kernel moves up, the branches are deleted here and
 * nothing else changes. Tested: Debian's 6.1 and 6.12; the branches in
 * between follow the mainline changes named in each comment.
 */
#ifndef __SNAPKEEP_COMPAT_H
#define __SNAPKEEP_COMPAT_H

#include <linux/version.h>
#include <linux/blkdev.h>
#include <linux/crc32.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/sched.h>

/* The one place the kernel version is read. */
#define COMPAT_KERNEL_AT_LEAST(a, b, c) \
	(KERNEL_VERSION(a, b, c) <= LINUX_VERSION_CODE)

#if !COMPAT_KERNEL_AT_LEAST(6, 1, 0)
#error "snapkeep supports Linux 6.1 and newer"
#endif

/**
 * struct compat_bdev - a block device opened for shared reading.
 * @bdev: the device; valid until compat_bdev_close().
 * @file: what closes it (6.9+: bdev_file_open_by_dev()).
 * @handle: what closes it (6.7, 6.8: bdev_open_by_dev()).
 *
 * Holding it keeps the struct block_device alive, so its address can be
 * compared with bio->bi_bdev. The module never opens devices for writing:
 * copies are written with bios, which need no write open, and a write open
 * of a mounted device may be refused (BLK_DEV_WRITE_MOUNTED=n).
 */
struct compat_bdev {
	struct block_device *bdev;
#if COMPAT_KERNEL_AT_LEAST(6, 9, 0)
	struct file *file;
#elif COMPAT_KERNEL_AT_LEAST(6, 7, 0)
	struct bdev_handle *handle;
#endif
};

static inline int compat_bdev_open(dev_t dev, struct compat_bdev *out)
{
#if COMPAT_KERNEL_AT_LEAST(6, 9, 0)
	struct file *file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL,
						  NULL);

	if (IS_ERR(file))
		return PTR_ERR(file);
	out->file = file;
	out->bdev = file_bdev(file);
#elif COMPAT_KERNEL_AT_LEAST(6, 7, 0)
	struct bdev_handle *handle = bdev_open_by_dev(dev, BLK_OPEN_READ, NULL,
						      NULL);

	if (IS_ERR(handle))
		return PTR_ERR(handle);
	out->handle = handle;
	out->bdev = handle->bdev;
#elif COMPAT_KERNEL_AT_LEAST(6, 5, 0)
	struct block_device *bdev = blkdev_get_by_dev(dev, BLK_OPEN_READ, NULL,
						      NULL);

	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	out->bdev = bdev;
#else
	struct block_device *bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);

	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	out->bdev = bdev;
#endif
	return 0;
}

static inline void compat_bdev_close(struct compat_bdev *b)
{
	if (!b->bdev)
		return;
#if COMPAT_KERNEL_AT_LEAST(6, 9, 0)
	fput(b->file);
#elif COMPAT_KERNEL_AT_LEAST(6, 7, 0)
	bdev_release(b->handle);
#elif COMPAT_KERNEL_AT_LEAST(6, 5, 0)
	blkdev_put(b->bdev, NULL);
#else
	blkdev_put(b->bdev, FMODE_READ);
#endif
	b->bdev = NULL;
}

/*
 * Whether the submitter of @bio asked not to wait: 6.1's
 * submit_bio_noacct() adds REQ_NOWAIT itself for a plug started with
 * nowait (io_uring), after the filter looked; the field went away later.
 */
static inline bool compat_bio_nowait(struct bio *bio)
{
#if !COMPAT_KERNEL_AT_LEAST(6, 6, 0)
	struct blk_plug *plug = current->plug;

	if (plug && plug->nowait)
		return true;
#endif
	return bio->bi_opf & REQ_NOWAIT;
}

/* Freezing the file system on a device: renamed in 6.8. */
static inline int compat_bdev_freeze(struct block_device *bdev)
{
#if COMPAT_KERNEL_AT_LEAST(6, 8, 0)
	return bdev_freeze(bdev);
#else
	return freeze_bdev(bdev);
#endif
}

static inline int compat_bdev_thaw(struct block_device *bdev)
{
#if COMPAT_KERNEL_AT_LEAST(6, 8, 0)
	return bdev_thaw(bdev);
#else
	return thaw_bdev(bdev);
#endif
}

/*
 * A bio-based disk with the given block sizes: limits are passed to
 * blk_alloc_disk() from 6.9 (which returns ERR_PTR), set on the queue
 * before.
 */
static inline struct gendisk *compat_alloc_disk(unsigned int logical,
						unsigned int physical)
{
#if COMPAT_KERNEL_AT_LEAST(6, 9, 0)
	struct queue_limits lim = {
		.logical_block_size	= logical,
		.physical_block_size	= physical,
	};

	return blk_alloc_disk(&lim, NUMA_NO_NODE);
#else
	struct gendisk *disk = blk_alloc_disk(NUMA_NO_NODE);

	if (!disk)
		return ERR_PTR(-ENOMEM);
	blk_queue_logical_block_size(disk->queue, logical);
	blk_queue_physical_block_size(disk->queue, physical);
	return disk;
#endif
}

/*
 * CRC32C without a module dependency: lib/crc32.c is built in (CRC32=y);
 * its CRC32C entry was renamed crc32c() in 6.14.
 */
static inline u32 compat_crc32c(u32 seed, const void *p, size_t len)
{
#if COMPAT_KERNEL_AT_LEAST(6, 14, 0)
	return crc32c(seed, p, len);
#else
	return __crc32c_le(seed, p, len);
#endif
}

#endif /* __SNAPKEEP_COMPAT_H */
