// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots: create (attaching trackers where needed), append storage,
 * take, destroy, and the queries. Every function here runs under the
 * control lock (ctl.c), except the wait for events.
 *
 * Teardown order at destroy, the lesson of the blksnap review (an image
 * still mounted and written while the snapshot went away):
 *  1. the trackers stop copying (and synchronize_rcu()),
 *  2. the storage is marked dead: image I/O fails from now on, no storage
 *     I/O starts, the I/O in flight is waited for,
 *  3. the images are deleted (a mounted file system sees I/O errors),
 *  4. the diff areas are put; copies still reading hold their own
 *     references and end without touching the storage.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-snapshot: " fmt

#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "ctl.h"
#include "diff_area.h"
#include "diff_storage.h"
#include "filter.h"
#include "snapimage.h"
#include "snapshot.h"
#include "tracker.h"

static LIST_HEAD(snapshots);

static void snapshot_free(struct kref *kref)
{
	struct snapshot *s = container_of(kref, struct snapshot, kref);

	diff_storage_put(s->ds);
	kfree(s);
	module_put(THIS_MODULE);
}

void snapshot_put(struct snapshot *s)
{
	kref_put(&s->kref, snapshot_free);
}

/* The snapshot @id (a reference), or NULL. Control lock held. */
struct snapshot *snapshot_find(const uuid_t *id)
{
	struct snapshot *s;

	lockdep_assert_held(&ctl_lock);
	list_for_each_entry(s, &snapshots, link) {
		if (uuid_equal(&s->id, id)) {
			kref_get(&s->kref);
			return s;
		}
	}
	return NULL;
}

/*
 * A snapshot of @count distinct devices. Devices not tracked yet are
 * attached (and detached again if the create fails).
 */
int snapshot_create(const dev_t *devs, unsigned int count, uuid_t *id)
{
	struct snapshot *s;
	struct tracker *t;
	bool *fresh;
	unsigned int i, j;
	int ret;

	lockdep_assert_held(&ctl_lock);
	for (i = 0; i < count; i++) {
		for (j = 0; j < i; j++)
			if (devs[i] == devs[j])
				return -EINVAL;
		t = filter_find(devs[i]);
		if (t && t->snapshot)
			return -EBUSY;
	}

	s = kzalloc(struct_size(s, devs, count), GFP_KERNEL);
	fresh = kcalloc(count, sizeof(*fresh), GFP_KERNEL);
	if (!s || !fresh) {
		ret = -ENOMEM;
		goto out_free;
	}
	s->ds = diff_storage_new();
	if (IS_ERR(s->ds)) {
		ret = PTR_ERR(s->ds);
		s->ds = NULL;
		goto out_free;
	}

	for (i = 0; i < count; i++) {
		t = filter_find(devs[i]);
		if (!t) {
			t = tracker_new(devs[i]);
			if (IS_ERR(t)) {
				ret = PTR_ERR(t);
				goto out_detach;
			}
			ret = filter_add(t);
			if (ret) {
				tracker_put(t);
				goto out_detach;
			}
			fresh[i] = true;
		}
		s->devs[i].tracker = tracker_get(t);
		s->nr_devs++;
	}

	for (i = 0; i < count; i++)
		s->devs[i].tracker->snapshot = s;
	kref_init(&s->kref);
	uuid_gen(&s->id);
	*id = s->id;
	list_add_tail(&s->link, &snapshots);
	__module_get(THIS_MODULE);
	kfree(fresh);
	pr_info("snapshot %pUb created\n", &s->id);
	return 0;

out_detach:
	while (s->nr_devs--) {
		t = s->devs[s->nr_devs].tracker;
		if (fresh[s->nr_devs]) {
			filter_del(t);
			tracker_put(t);
		}
		tracker_put(t);
	}
	diff_storage_put(s->ds);
out_free:
	kfree(fresh);
	kfree(s);
	return ret;
}

/* Undoes a take from the point where copying started (or the images). */
static void snapshot_untake(struct snapshot *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_devs; i++)
		tracker_release_cow(s->devs[i].tracker);
	synchronize_rcu();
	for (i = 0; i < s->nr_devs; i++) {
		if (s->devs[i].image)
			snapimage_destroy(s->devs[i].image);
		s->devs[i].image = NULL;
		diff_area_put(s->devs[i].da);
		s->devs[i].da = NULL;
	}
}

static void snapshot_teardown(struct snapshot *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_devs; i++)
		tracker_release_cow(s->devs[i].tracker);
	synchronize_rcu();
	diff_storage_kill(s->ds);
	for (i = 0; i < s->nr_devs; i++) {
		struct snapshot_dev *d = &s->devs[i];

		if (d->image)
			snapimage_destroy(d->image);
		diff_area_put(d->da);
		d->tracker->snapshot = NULL;
		tracker_put(d->tracker);
	}
}

int snapshot_destroy(const uuid_t *id)
{
	struct snapshot *s = snapshot_find(id);

	if (!s)
		return -ENOENT;
	list_del(&s->link);
	snapshot_teardown(s);
	pr_info("snapshot %pUb destroyed\n", &s->id);
	snapshot_put(s);	/* the find's */
	snapshot_put(s);	/* the list's */
	return 0;
}

int snapshot_append_storage(const uuid_t *id, dev_t dev,
			    struct snapkeep_sectors *ranges,
			    unsigned int count)
{
	struct snapshot *s = snapshot_find(id);
	int ret;

	if (!s)
		return -ENOENT;
	ret = diff_storage_append(s->ds, dev, ranges, count);
	snapshot_put(s);
	return ret;
}

/*
 * Freezes the file systems of all devices, closes the filter's gate (writes
 * to tracked devices wait), switches the maps and starts copying, opens
 * the gate, thaws. The instant of the snapshot is the closing of the gate,
 * for all devices at once. A device whose file system cannot be frozen
 * (none mounted, frozen already) is taken as it is: crash-consistent.
 */
static int snapshot_take_devices(struct snapshot *s)
{
	bool *frozen;
	unsigned int i;
	int ret;

	frozen = kcalloc(s->nr_devs, sizeof(*frozen), GFP_KERNEL);
	if (!frozen)
		return -ENOMEM;
	for (i = 0; i < s->nr_devs; i++) {
		ret = tracker_take_prepare(s->devs[i].tracker);
		if (ret)
			goto out;
	}
	for (i = 0; i < s->nr_devs; i++) {
		struct tracker *t = s->devs[i].tracker;

		ret = compat_bdev_freeze(t->orig.bdev);
		frozen[i] = !ret;
		if (ret)
			pr_info("%u:%u: file system not frozen (%d), taken as is\n",
				MAJOR(t->dev), MINOR(t->dev), ret);
	}
	filter_gate_close();
	for (i = 0; i < s->nr_devs; i++)
		tracker_take_begin(s->devs[i].tracker, s->devs[i].da);
	for (i = 0; i < s->nr_devs; i++)
		tracker_take_end(s->devs[i].tracker);
	filter_gate_open();
	for (i = 0; i < s->nr_devs; i++)
		if (frozen[i])
			compat_bdev_thaw(s->devs[i].tracker->orig.bdev);
	ret = 0;
out:
	kfree(frozen);
	return ret;
}

int snapshot_take(const uuid_t *id)
{
	struct snapshot *s = snapshot_find(id);
	unsigned int i;
	int ret;

	if (!s)
		return -ENOENT;
	if (s->taken) {
		ret = -EALREADY;
		goto out_put;
	}
	for (i = 0; i < s->nr_devs; i++) {
		struct diff_area *da = diff_area_new(s->devs[i].tracker, s->ds);

		if (IS_ERR(da)) {
			ret = PTR_ERR(da);
			goto out_untake;
		}
		s->devs[i].da = da;
	}
	ret = snapshot_take_devices(s);
	if (ret)
		goto out_untake;
	for (i = 0; i < s->nr_devs; i++) {
		struct snapimage *si = snapimage_create(s->devs[i].da);

		if (IS_ERR(si)) {
			ret = PTR_ERR(si);
			goto out_untake;
		}
		s->devs[i].image = si;
	}
	s->taken = true;
	diff_storage_check_low(s->ds);
	pr_info("snapshot %pUb taken\n", &s->id);
	snapshot_put(s);
	return 0;

out_untake:
	snapshot_untake(s);
out_put:
	snapshot_put(s);
	return ret;
}

/* Outside the control lock: waits with a reference on the snapshot. */
int snapshot_wait_event(const uuid_t *id, unsigned int timeout_ms,
			struct event *ev)
{
	struct snapshot *s;
	int ret;

	mutex_lock(&ctl_lock);
	s = snapshot_find(id);
	mutex_unlock(&ctl_lock);
	if (!s)
		return -ENOENT;
	ret = event_queue_wait(&s->ds->events, timeout_ms, ev);
	snapshot_put(s);
	return ret;
}

/* Up to @capacity ids; *@count is how many exist. */
int snapshot_list(uuid_t *ids, unsigned int capacity, unsigned int *count)
{
	struct snapshot *s;
	unsigned int n = 0;

	lockdep_assert_held(&ctl_lock);
	list_for_each_entry(s, &snapshots, link) {
		if (n < capacity)
			ids[n] = s->id;
		n++;
	}
	*count = n;
	return 0;
}

static void snapshot_dev_info(struct snapshot_dev *d,
			      struct snapkeep_snapshot_dev *out)
{
	memset(out, 0, sizeof(*out));
	out->dev.major = MAJOR(d->tracker->dev);
	out->dev.minor = MINOR(d->tracker->dev);
	if (d->da) {
		out->chunk_size = 1U << d->da->chunk_shift;
		out->chunks_copied = atomic64_read(&d->da->copied);
	}
	if (d->image) {
		out->image.major = d->image->disk->major;
		out->image.minor = d->image->disk->first_minor;
		strscpy(out->image_name, d->image->name,
			sizeof(out->image_name));
	}
}

/* Fills @info (id given) and up to @capacity entries of @devs. */
int snapshot_info(const uuid_t *id, struct snapkeep_snapshot_info *info,
		  struct snapkeep_snapshot_dev *devs, unsigned int capacity)
{
	struct snapshot *s = snapshot_find(id);
	struct diff_storage *ds;
	unsigned int i;

	if (!s)
		return -ENOENT;
	ds = s->ds;
	info->flags = (s->taken ? SNAPKEEP_SNAPSHOT_TAKEN : 0) |
		      (READ_ONCE(ds->error) ? SNAPKEEP_SNAPSHOT_CORRUPTED : 0);
	info->error = READ_ONCE(ds->error);
	spin_lock(&ds->lock);
	info->storage_sectors = ds->capacity;
	info->storage_used = ds->used;
	spin_unlock(&ds->lock);
	info->count = s->nr_devs;
	for (i = 0; i < s->nr_devs && i < capacity; i++)
		snapshot_dev_info(&s->devs[i], &devs[i]);
	snapshot_put(s);
	return 0;
}

/* sysfs "snapshots": one line per snapshot. */
int snapshot_show_all(char *buf, size_t size)
{
	struct snapshot *s;
	int len = 0;

	lockdep_assert_held(&ctl_lock);
	list_for_each_entry(s, &snapshots, link) {
		struct diff_storage *ds = s->ds;
		sector_t cap, used;
		unsigned int i;

		spin_lock(&ds->lock);
		cap = ds->capacity;
		used = ds->used;
		spin_unlock(&ds->lock);
		len += scnprintf(buf + len, size - len,
				 "%pUb %s error=%d storage_bytes=%llu used_bytes=%llu free_bytes=%llu devices=",
				 &s->id,
				 READ_ONCE(ds->error) ? "corrupted" :
				 s->taken ? "taken" : "created",
				 READ_ONCE(ds->error),
				 (u64)cap << SECTOR_SHIFT,
				 (u64)used << SECTOR_SHIFT,
				 (u64)(cap - used) << SECTOR_SHIFT);
		for (i = 0; i < s->nr_devs; i++) {
			struct snapshot_dev *d = &s->devs[i];

			len += scnprintf(buf + len, size - len, "%s%u:%u",
					 i ? "," : "",
					 MAJOR(d->tracker->dev),
					 MINOR(d->tracker->dev));
			if (d->image)
				len += scnprintf(buf + len, size - len, "=%s",
						 d->image->name);
		}
		len += scnprintf(buf + len, size - len, "\n");
	}
	return len;
}
