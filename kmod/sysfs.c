// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/snapkeep/trackers and /sys/kernel/snapkeep/snapshots: one
 * line per tracked device and per snapshot, for people and bug reports.
 * Programs use the ioctls, which are versioned; these lines are not.
 *
 *   trackers:  8:16 whole size=536870912 block=65536 number=3
 *              generation=<uuid> snapshot=<uuid>|-
 *   snapshots: <uuid> taken|created|corrupted error=0 storage_bytes=...
 *              used_bytes=... free_bytes=... devices=8:16=snapkeep-img0
 *   inflight:  copies in progress (the oldest first), the copy memory,
 *              writes held for copies or queued for the workers: where a
 *              write that never completes is held.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-sysfs: " fmt

#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/sysfs.h>

#include "cbt_map.h"
#include "checkpoint.h"
#include "chunk.h"
#include "ctl.h"
#include "diff_area.h"
#include "diff_buffer.h"
#include "filter.h"
#include "snapshot.h"
#include "sysfs.h"
#include "tracker.h"

static struct kobject *sysfs_kobj;

struct sysfs_buf {
	char *buf;
	int len;
};

static int sysfs_tracker_line(struct tracker *t, void *arg)
{
	struct sysfs_buf *b = arg;
	struct cbt_map *map;

	/* A take of its snapshot may switch the map meanwhile. */
	rcu_read_lock();
	map = rcu_dereference(t->map);
	b->len += scnprintf(b->buf + b->len, PAGE_SIZE - b->len,
			    "%u:%u %s size=%llu block=%u number=%u generation=%pUb snapshot=",
			    MAJOR(t->dev), MINOR(t->dev),
			    t->whole ? "whole" : "part",
			    (u64)map->capacity << SECTOR_SHIFT,
			    1U << map->block_shift, READ_ONCE(map->number),
			    &map->generation);
	rcu_read_unlock();
	if (t->snapshot)
		b->len += scnprintf(b->buf + b->len, PAGE_SIZE - b->len,
				    "%pUb\n", &t->snapshot->id);
	else
		b->len += scnprintf(b->buf + b->len, PAGE_SIZE - b->len,
				    "-\n");
	return 0;
}

static ssize_t trackers_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	struct sysfs_buf b = { .buf = buf };

	mutex_lock(&ctl_lock);
	filter_for_each(sysfs_tracker_line, &b);
	mutex_unlock(&ctl_lock);
	return b.len;
}

static ssize_t snapshots_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	int len;

	mutex_lock(&ctl_lock);
	len = snapshot_show_all(buf, PAGE_SIZE);
	mutex_unlock(&ctl_lock);
	return len;
}

static ssize_t checkpoints_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return ckpt_show_all(buf, PAGE_SIZE);
}

static ssize_t inflight_show(struct kobject *kobj,
			     struct kobj_attribute *attr, char *buf)
{
	int len = 0;

	/* No ctl_lock: it must answer while a take or destroy hangs. */
	len = chunk_show_live(buf, len, PAGE_SIZE);
	len = diff_buffer_show(buf, len, PAGE_SIZE);
	len = diff_area_show_held(buf, len, PAGE_SIZE);
	return filter_show_deferred(buf, len, PAGE_SIZE);
}

static struct kobj_attribute trackers_attr = __ATTR_RO(trackers);
static struct kobj_attribute inflight_attr = __ATTR_RO(inflight);
static struct kobj_attribute checkpoints_attr = __ATTR_RO(checkpoints);
static struct kobj_attribute snapshots_attr = __ATTR_RO(snapshots);

static struct attribute *sysfs_attrs[] = {
	&trackers_attr.attr,
	&snapshots_attr.attr,
	&checkpoints_attr.attr,
	&inflight_attr.attr,
	NULL,
};

static const struct attribute_group sysfs_group = {
	.attrs = sysfs_attrs,
};

int sysfs_status_init(void)
{
	int ret;

	sysfs_kobj = kobject_create_and_add(KBUILD_MODNAME, kernel_kobj);
	if (!sysfs_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(sysfs_kobj, &sysfs_group);
	if (ret)
		kobject_put(sysfs_kobj);
	return ret;
}

void sysfs_status_done(void)
{
	sysfs_remove_group(sysfs_kobj, &sysfs_group);
	kobject_put(sysfs_kobj);
}
