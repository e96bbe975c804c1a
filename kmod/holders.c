// SPDX-License-Identifier: GPL-2.0
/*
 * Stacks of block devices, found the way lsblk finds them: device mapper
 * and md link every device they build on into the new disk's "slaves"
 * directory (bd_link_disk_holder()), so a disk D is built on device X
 * exactly when D's slaves directory has an entry named after X. Starting
 * from a base device (and, for a whole disk, its partitions), every block
 * device of the system is looked at, repeatedly, until no new device is
 * found above the ones collected: LUKS on a partition, LVM on LUKS, the
 * logical volumes, md arrays, their partitions.
 *
 * Two users:
 *  - a take freezes the file systems of the stack of each device of the
 *    snapshot top-down (a file system before the ones it is built on, so
 *    that freezing one never writes through one already frozen), and
 *    thaws them bottom-up;
 *  - difference storage on a device of the stack above a tracked device
 *    is refused: its writes would come back to the tracked device as
 *    someone else's writes, to be copied (into the same storage) and
 *    marked.
 *
 * Not found: loop devices (their backing file's file system is nowhere in
 * sysfs links) and network or user-space devices; the storage checks
 * refuse loop devices outright (diff_storage.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-holders: " fmt

#include <linux/device.h>
#include <linux/kernfs.h>
#include <linux/kobject.h>
#include <linux/slab.h>

#include "holders.h"

/* Deeper stacks than this are not followed (a loop in the links). */
#define HOLDERS_MAX_PASSES	16

static struct holder *holders_find(struct holder_set *set, dev_t dev)
{
	unsigned int i;

	for (i = 0; i < set->nr; i++)
		if (set->h[i].dev == dev)
			return &set->h[i];
	return NULL;
}

static int holders_add(struct holder_set *set, struct block_device *bdev,
		       unsigned int level)
{
	struct holder *h;

	if (set->nr == set->cap) {
		unsigned int cap = set->cap ? set->cap * 2 : 8;
		struct holder *bigger = krealloc_array(set->h, cap, sizeof(*h),
						       GFP_KERNEL);

		if (!bigger)
			return -ENOMEM;
		set->h = bigger;
		set->cap = cap;
	}
	h = &set->h[set->nr++];
	memset(h, 0, sizeof(*h));
	h->dev = bdev->bd_dev;
	h->level = level;
	h->whole = !bdev_is_partition(bdev);
	strscpy(h->name, dev_name(&bdev->bd_device), sizeof(h->name));
	return 0;
}

/* Whether @disk's slaves directory links to @name. */
static bool holders_links(struct gendisk *disk, const char *name)
{
	struct kernfs_node *kn;

	if (!disk->slave_dir || !disk->slave_dir->sd)
		return false;
	kn = kernfs_find_and_get(disk->slave_dir->sd, name);
	if (!kn)
		return false;
	kernfs_put(kn);
	return true;
}

/*
 * One look at every block device: adds the partitions of whole disks in
 * the set, and the disks built on devices of the set, at one level above
 * the highest of those (raising the level of devices met again). Returns
 * how many entries were added or raised, or a negative errno.
 */
static int holders_pass(struct holder_set *set, struct block_device *base)
{
	struct class_dev_iter iter;
	struct device *dev;
	int changed = 0, ret = 0;

	/* Every block device: the class of any of them is block_class. */
	class_dev_iter_init(&iter, base->bd_device.class, NULL, NULL);
	while ((dev = class_dev_iter_next(&iter))) {
		struct block_device *bdev = dev_to_bdev(dev);
		struct holder *self = holders_find(set, bdev->bd_dev);
		unsigned int level = 0, i;
		bool found = false;

		if (bdev_is_partition(bdev)) {
			struct holder *whole = holders_find(set,
						bdev->bd_disk->part0->bd_dev);

			if (!whole || !whole->whole || self)
				continue;
			found = true;
			level = whole->level;
		} else {
			for (i = 0; i < set->nr; i++) {
				if (set->h[i].dev == bdev->bd_dev ||
				    !holders_links(bdev->bd_disk,
						   set->h[i].name))
					continue;
				found = true;
				level = max(level, set->h[i].level + 1);
			}
		}
		if (!found)
			continue;
		if (self) {
			if (self->level < level) {
				self->level = level;
				changed++;
			}
			continue;
		}
		ret = holders_add(set, bdev, level);
		if (ret)
			break;
		changed++;
	}
	class_dev_iter_exit(&iter);
	return ret ? ret : changed;
}

/*
 * Adds @base (level 0) and every device stacked on it to @set (which may
 * hold the stacks of other bases already). May sleep; no I/O.
 */
int holders_collect(struct holder_set *set, struct block_device *base)
{
	unsigned int pass;
	int ret;

	if (!holders_find(set, base->bd_dev)) {
		ret = holders_add(set, base, 0);
		if (ret)
			return ret;
	}
	for (pass = 0; pass < HOLDERS_MAX_PASSES; pass++) {
		ret = holders_pass(set, base);
		if (ret <= 0)
			return ret;
	}
	pr_warn_ratelimited("the devices stacked on %s go deeper than %u levels\n",
			    dev_name(&base->bd_device), HOLDERS_MAX_PASSES);
	return 0;
}

/* Whether @dev is in the set above its base devices (level 1 or more). */
bool holders_above(struct holder_set *set, dev_t dev)
{
	struct holder *h = holders_find(set, dev);

	return h && h->level > 0;
}

/*
 * Freezes the file system on every device of the set, the highest level
 * first. A device without a file system is only synced; one that cannot
 * be opened (going away) or frozen (frozen by user space already, which is
 * just as good) is logged and left as it is.
 */
void holders_freeze(struct holder_set *set)
{
	unsigned int top = 0, level, i;
	int ret;

	for (i = 0; i < set->nr; i++)
		top = max(top, set->h[i].level);
	for (level = top + 1; level-- > 0;) {
		for (i = 0; i < set->nr; i++) {
			struct holder *h = &set->h[i];

			if (h->level != level)
				continue;
			ret = compat_bdev_open(h->dev, &h->open);
			if (ret) {
				pr_info("%s: not frozen, cannot open it (%d)\n",
					h->name, ret);
				continue;
			}
			ret = compat_bdev_freeze(h->open.bdev);
			if (ret) {
				pr_info("%s: file system not frozen (%d), taken as is\n",
					h->name, ret);
				compat_bdev_close(&h->open);
				continue;
			}
			h->frozen = true;
		}
	}
}

/* Thaws what holders_freeze() froze, the lowest level first. */
void holders_thaw(struct holder_set *set)
{
	unsigned int top = 0, level, i;

	for (i = 0; i < set->nr; i++)
		top = max(top, set->h[i].level);
	for (level = 0; level <= top; level++) {
		for (i = 0; i < set->nr; i++) {
			struct holder *h = &set->h[i];

			if (h->level != level || !h->frozen)
				continue;
			compat_bdev_thaw(h->open.bdev);
			compat_bdev_close(&h->open);
			h->frozen = false;
		}
	}
}

void holders_free(struct holder_set *set)
{
	kfree(set->h);
	set->h = NULL;
	set->nr = 0;
	set->cap = 0;
}
