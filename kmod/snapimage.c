// SPDX-License-Identifier: GPL-2.0
/*
 * Image devices: bio-based disks that show a device as it was at the take.
 * Reads are served in the submitter's context when no part has to wait
 * (diff_area_image_io()); writes, and reads meeting a chunk being copied,
 * are served by a worker. A corrupted or destroyed snapshot fails them all.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-image: " fmt

#include <linux/blkdev.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "compat.h"
#include "diff_area.h"
#include "diff_storage.h"
#include "main.h"
#include "snapimage.h"
#include "tracker.h"

static DEFINE_IDA(snapimage_ida);

static void snapimage_defer(struct snapimage *si, struct bio *bio)
{
	spin_lock(&si->lock);
	bio_list_add(&si->deferred, bio);
	spin_unlock(&si->lock);
	queue_work(snapkeep_wq, &si->work);
}

static void snapimage_work(struct work_struct *work)
{
	struct snapimage *si = container_of(work, struct snapimage, work);
	struct bio *bio;

	for (;;) {
		spin_lock(&si->lock);
		bio = bio_list_pop(&si->deferred);
		spin_unlock(&si->lock);
		if (!bio)
			return;
		diff_area_image_io(si->da, bio, true);
	}
}

static void snapimage_submit_bio(struct bio *bio)
{
	struct snapimage *si = bio->bi_bdev->bd_disk->private_data;
	struct diff_area *da = si->da;

	if (diff_storage_failed(da->ds)) {
		bio_io_error(bio);
		return;
	}
	if (op_is_write(bio_op(bio))) {
		/* Both backups must read what the image now says. */
		tracker_mark_both(da->tracker, bio->bi_iter.bi_sector,
				  bio_sectors(bio));
		snapimage_defer(si, bio);
		return;
	}
	if (!diff_area_image_io(da, bio, false))
		snapimage_defer(si, bio);
}

static const struct block_device_operations snapimage_fops = {
	.owner		= THIS_MODULE,
	.submit_bio	= snapimage_submit_bio,
};

bool snapimage_is_image(struct block_device *bdev)
{
	return bdev->bd_disk->fops == &snapimage_fops;
}

struct snapimage *snapimage_create(struct diff_area *da)
{
	struct snapimage *si;
	struct gendisk *disk;
	int ret;

	si = kzalloc(sizeof(*si), GFP_KERNEL);
	if (!si)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&si->lock);
	bio_list_init(&si->deferred);
	INIT_WORK(&si->work, snapimage_work);

	ret = ida_alloc(&snapimage_ida, GFP_KERNEL);
	if (ret < 0)
		goto out_free;
	si->index = ret;
	snprintf(si->name, sizeof(si->name), SNAPKEEP_IMAGE_PREFIX "%d",
		 si->index);

	disk = compat_alloc_disk(da->logical_block_size,
				 da->physical_block_size);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto out_ida;
	}
	disk->fops = &snapimage_fops;
	disk->private_data = si;
	disk->flags |= GENHD_FL_NO_PART;
	strscpy(disk->disk_name, si->name, DISK_NAME_LEN);
	set_capacity(disk, da->capacity);
	si->disk = disk;
	si->da = diff_area_get(da);

	ret = add_disk(disk);
	if (ret)
		goto out_put_disk;
	return si;

out_put_disk:
	diff_area_put(si->da);
	put_disk(disk);
out_ida:
	ida_free(&snapimage_ida, si->index);
out_free:
	kfree(si);
	return ERR_PTR(ret);
}

/* The snapshot is corrupted or dead already: all I/O fails fast. */
void snapimage_destroy(struct snapimage *si)
{
	del_gendisk(si->disk);
	flush_work(&si->work);
	put_disk(si->disk);
	ida_free(&snapimage_ida, si->index);
	diff_area_put(si->da);
	kfree(si);
}
