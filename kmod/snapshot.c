// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots: create (attaching trackers where needed), append storage,
 * take, destroy, and the queries.
 *
 * Locking. The control lock (ctl.c) guards the object graph: the list of
 * snapshots and which tracker belongs to which; it is held for moments
 * only. Each snapshot's own lock serialises the commands that change it
 * and may be held for long: a take holds it while file systems are frozen
 * (a sync of all their dirty data), a destroy while the storage I/O in
 * flight ends. So one snapshot's slow take never delays another
 * snapshot's appends or events (which answer a running snapshot's need
 * for storage within diff_storage_wait_ms). A snapshot's lock is taken
 * before the control lock, never after.
 *
 * The take: diff areas and new maps are prepared; the file systems of
 * every device's stack (its partitions, LVM, LUKS, md above it) are
 * frozen top-down; the filter's gate closes for the snapshot's devices and
 * the writes in flight to them are waited for; the maps switch and
 * copy-on-write starts; the gate opens, the file systems thaw bottom-up,
 * the images appear.
 *
 * Teardown order at destroy, the lesson of the blksnap review (an image
 * still mounted and written while the snapshot went away):
 *  1. the snapshot leaves the list, the trackers stop copying (and
 *     synchronize_rcu()),
 *  2. the storage is marked dead: image I/O fails from now on, no storage
 *     I/O starts, the I/O in flight is waited for,
 *  3. the images are deleted (a mounted file system sees I/O errors),
 *  4. the diff areas are put; copies still reading hold their own
 *     references and end without touching the storage,
 *  5. the trackers are released (a create undone detaches the ones it
 *     attached).
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-snapshot: " fmt

#include <linux/blkdev.h>
#include <linux/major.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "cbt_map.h"
#include "cbt_store.h"
#include "ctl.h"
#include "diff_area.h"
#include "diff_storage.h"
#include "filter.h"
#include "holders.h"
#include "snapimage.h"
#include "snapshot.h"
#include "tracker.h"

/*
 * How long a take waits for the writes in flight at its instant: longer
 * means a device that stopped answering (its writers wait that long).
 */
#define SNAPSHOT_DRAIN_MS	30000

static LIST_HEAD(snapshots);

static void snapshot_free(struct kref *kref)
{
	struct snapshot *s = container_of(kref, struct snapshot, kref);

	diff_storage_put(s->ds);
	mutex_destroy(&s->lock);
	kfree(s);
	module_put(THIS_MODULE);
}

static void snapshot_put(struct snapshot *s)
{
	kref_put(&s->kref, snapshot_free);
}

/* The snapshot @id (a reference), or NULL. Control lock held. */
static struct snapshot *snapshot_find(const uuid_t *id)
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
 * The live snapshot @id with its lock held, or NULL (unknown, or destroyed
 * while we waited for its lock). Release with snapshot_unlock().
 */
static struct snapshot *snapshot_lock(const uuid_t *id)
{
	struct snapshot *s;

	mutex_lock(&ctl_lock);
	s = snapshot_find(id);
	mutex_unlock(&ctl_lock);
	if (!s)
		return NULL;
	mutex_lock(&s->lock);
	if (s->state == SNAPSHOT_DEAD) {
		mutex_unlock(&s->lock);
		snapshot_put(s);
		return NULL;
	}
	return s;
}

static void snapshot_unlock(struct snapshot *s)
{
	mutex_unlock(&s->lock);
	snapshot_put(s);
}

/*
 * Whether some snapshot's storage is on a device of @stack above its base
 * (control lock held): a tracker attached at the base would see the
 * storage writes come back as foreign writes.
 */
static int snapshot_store_on(struct tracker *t, void *arg)
{
	struct holder_set *stack = arg;

	return t->store && t->store->area.bdev.bdev &&
	       holders_above(stack, t->store->area.bdev.bdev->bd_dev);
}

bool snapshot_storage_above(struct holder_set *stack)
{
	struct snapshot *s;

	lockdep_assert_held(&ctl_lock);
	list_for_each_entry(s, &snapshots, link)
		if (diff_storage_on(s->ds, stack))
			return true;
	/* The stores of persistent maps, likewise. */
	return filter_for_each(snapshot_store_on, stack);
}

static int snapshot_storage_check(struct block_device *bdev);

/*
 * A new tracker for @dev, refused below some snapshot's storage or store;
 * with @args, its map kept in a store (refused when the store would come
 * back to a tracked device, this one included, as foreign writes).
 */
static struct tracker *snapshot_attach(dev_t dev,
				       const struct cbt_store_args *args)
{
	struct holder_set stack = {};
	struct cbt_store *store = NULL;
	struct tracker *t;
	int ret;

	t = tracker_new(dev);
	if (IS_ERR(t))
		return t;
	if (args) {
		store = cbt_store_new(args, t->orig.bdev,
				      rcu_dereference_protected(t->map, 1));
		if (IS_ERR(store)) {
			ret = PTR_ERR(store);
			store = NULL;
			goto out_put;
		}
	}
	ret = holders_collect(&stack, t->orig.bdev);
	if (!ret && snapshot_storage_above(&stack))
		ret = -ELOOP;
	if (!ret && store && holders_above(&stack, args->store_dev))
		ret = -ELOOP;
	holders_free(&stack);
	if (!ret && store)
		ret = snapshot_storage_check(store->area.bdev.bdev);
	if (ret)
		goto out_discard;
	if (store) {
		ret = cbt_store_attach(store,
				       rcu_dereference_protected(t->map, 1));
		if (ret)
			goto out_put_store;
		t->store = store;
	}
	ret = filter_add(t);
	if (ret)
		goto out_close;
	return t;

out_close:
	/* Written "in use": sealed again, nothing was tracked. */
	if (t->store)
		cbt_store_close(t->store);
	goto out_put;
out_discard:
	if (store)
		cbt_store_discard(store);
	goto out_put;
out_put_store:
	cbt_store_put(store);
out_put:
	tracker_put(t);
	return ERR_PTR(ret);
}

/*
 * Attaches a tracker to @dev (SNAPKEEP_IOCTL_ATTACH), control lock held:
 * -EEXIST, -EBUSY (its disk or a partition is tracked), -ELOOP (some
 * snapshot's storage is stacked on it).
 */
int snapshot_attach_tracker(dev_t dev)
{
	struct tracker *t;

	lockdep_assert_held(&ctl_lock);
	if (filter_find(dev))
		return -EEXIST;
	t = snapshot_attach(dev, NULL);
	return PTR_ERR_OR_ZERO(t);
}

/*
 * The tracker of @dev, attached now if it was not (*@attached then), with
 * a reference for the caller; control lock held. For a checkpoint's
 * devices. Errors as snapshot_attach_tracker().
 */
struct tracker *snapshot_tracker_get(dev_t dev, bool *attached)
{
	struct tracker *t;

	lockdep_assert_held(&ctl_lock);
	*attached = false;
	t = filter_find(dev);
	if (!t) {
		t = snapshot_attach(dev, NULL);
		if (IS_ERR(t))
			return t;
		*attached = true;
	}
	return tracker_get(t);
}

/*
 * Attaches a tracker to @dev with its map kept in a store
 * (SNAPKEEP_IOCTL_ATTACH_PERSISTENT), control lock held: errors as
 * snapshot_attach_tracker(), and the store's (cbt_store_new(),
 * cbt_store_attach()). The store is read and written meanwhile.
 */
int snapshot_attach_persistent(dev_t dev, const struct cbt_store_args *args)
{
	struct tracker *t;

	lockdep_assert_held(&ctl_lock);
	if (filter_find(dev))
		return -EEXIST;
	t = snapshot_attach(dev, args);
	return PTR_ERR_OR_ZERO(t);
}

/*
 * A snapshot of @count distinct devices (control lock held). Devices not
 * tracked yet are attached (and detached again if the create fails).
 */
int snapshot_create(const dev_t *devs, unsigned int count, uuid_t *id)
{
	struct snapshot *s;
	struct tracker *t;
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
	if (!s)
		return -ENOMEM;
	s->ds = diff_storage_new();
	if (IS_ERR(s->ds)) {
		ret = PTR_ERR(s->ds);
		kfree(s);
		return ret;
	}
	for (i = 0; i < count; i++) {
		t = filter_find(devs[i]);
		if (t) {
			tracker_get(t);
		} else {
			t = snapshot_attach(devs[i], NULL);
			if (IS_ERR(t)) {
				ret = PTR_ERR(t);
				goto out_detach;
			}
			/* The table's reference is the snapshot's for now. */
			tracker_get(t);
			s->devs[i].attached = true;
		}
		s->devs[i].tracker = t;
		s->nr_devs++;
	}

	for (i = 0; i < count; i++)
		s->devs[i].tracker->snapshot = s;
	kref_init(&s->kref);
	mutex_init(&s->lock);
	s->state = SNAPSHOT_CREATED;
	uuid_gen(&s->id);
	*id = s->id;
	list_add_tail(&s->link, &snapshots);
	__module_get(THIS_MODULE);
	pr_info("snapshot %pUb created\n", &s->id);
	return 0;

out_detach:
	while (s->nr_devs--) {
		struct snapshot_dev *d = &s->devs[s->nr_devs];

		if (d->attached) {
			filter_del(d->tracker);
			tracker_put(d->tracker);
		}
		tracker_put(d->tracker);
	}
	diff_storage_put(s->ds);
	kfree(s);
	return ret;
}

/* Stops copying for every device (the caller synchronizes RCU). */
static void snapshot_stop_cow(struct snapshot *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_devs; i++)
		tracker_release_cow(s->devs[i].tracker);
	synchronize_rcu();
}

/* Deletes the images and puts the diff areas (after snapshot_stop_cow()). */
static void snapshot_put_areas(struct snapshot *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_devs; i++) {
		struct snapshot_dev *d = &s->devs[i];

		if (d->image)
			snapimage_destroy(d->image);
		d->image = NULL;
		diff_area_put(d->da);
		d->da = NULL;
	}
}

/*
 * Destroys snapshot @id; with @rollback (a create whose answer could not
 * be delivered), the trackers it attached are detached again.
 */
int snapshot_destroy(const uuid_t *id, bool rollback)
{
	struct snapshot *s = snapshot_lock(id);
	unsigned int i;

	if (!s)
		return -ENOENT;
	mutex_lock(&ctl_lock);
	list_del(&s->link);
	mutex_unlock(&ctl_lock);
	/* Release: pairs with the status lines' acquire (unlinked already). */
	smp_store_release(&s->state, SNAPSHOT_DEAD);

	snapshot_stop_cow(s);
	diff_storage_kill(s->ds);
	snapshot_put_areas(s);

	mutex_lock(&ctl_lock);
	for (i = 0; i < s->nr_devs; i++) {
		struct snapshot_dev *d = &s->devs[i];

		d->tracker->snapshot = NULL;
		if (rollback && d->attached) {
			filter_del(d->tracker);
			tracker_put(d->tracker);
		}
		tracker_put(d->tracker);
	}
	mutex_unlock(&ctl_lock);
	pr_info("snapshot %pUb destroyed\n", &s->id);
	snapshot_unlock(s);
	snapshot_put(s);	/* the list's */
	return 0;
}

/* The smallest logical block size of the snapshot's devices, in bytes. */
static unsigned int snapshot_min_lbs(struct snapshot *s)
{
	unsigned int i, lbs = UINT_MAX;

	for (i = 0; i < s->nr_devs; i++)
		lbs = min(lbs,
			  bdev_logical_block_size(s->devs[i].tracker->orig.bdev));
	return lbs;
}

/* filter_for_each(): -ELOOP when the storage @arg is stacked on @t. */
static int snapshot_tracker_below(struct tracker *t, void *arg)
{
	struct block_device *storage = arg;
	struct holder_set stack = {};
	int ret;

	ret = holders_collect(&stack, t->orig.bdev);
	if (!ret && holders_above(&stack, storage->bd_dev))
		ret = -ELOOP;
	holders_free(&stack);
	return ret;
}

/*
 * Whether storage on @bdev would come back to a tracked device as a
 * foreign write, to be copied (into this storage again) and marked
 * (control lock held): -ELOOP when it is stacked above one (LVM, LUKS,
 * md), or a loop device, whose backing file may be anywhere.
 */
static int snapshot_storage_check(struct block_device *bdev)
{
	lockdep_assert_held(&ctl_lock);
	if (bdev->bd_disk->major == LOOP_MAJOR)
		return -ELOOP;
	return filter_for_each(snapshot_tracker_below, bdev);
}

/*
 * Appends storage ranges on device @dev (of file @file, pinned while the
 * snapshot lives, when given). See diff_storage_append().
 */
int snapshot_append_storage(const uuid_t *id, dev_t dev, struct file *file,
			    struct snapkeep_sectors *ranges,
			    unsigned int count)
{
	struct storage_append a = {};
	struct snapshot *s;
	int ret;

	s = snapshot_lock(id);
	if (!s)
		return -ENOENT;
	ret = diff_storage_append_prepare(s->ds, &a, dev, file, ranges, count,
					  snapshot_min_lbs(s));
	if (ret)
		goto out;
	/* A device new to the storage is checked and published together. */
	mutex_lock(&ctl_lock);
	if (a.sd)
		ret = snapshot_storage_check(a.sd->bdev.bdev);
	if (!ret)
		diff_storage_append_commit(s->ds, &a);
	mutex_unlock(&ctl_lock);
	if (ret)
		diff_storage_append_abort(&a);
out:
	snapshot_unlock(s);
	return ret;
}

/*
 * The take proper (the snapshot's lock held, diff areas allocated): see
 * the top of the file. On failure nothing was published: the trackers
 * carry on as before.
 */
static int snapshot_switch(struct snapshot *s, struct tracker **trackers)
{
	struct holder_set stack = {};
	struct filter_take ft = {};
	unsigned int i;
	int ret;

	for (i = 0; i < s->nr_devs; i++) {
		ret = tracker_take_prepare(trackers[i]);
		if (ret)
			return ret;
	}
	ret = filter_take_prepare(&ft, trackers, s->nr_devs);
	if (ret)
		return ret;
	for (i = 0; i < s->nr_devs && !ret; i++)
		ret = holders_collect(&stack, trackers[i]->orig.bdev);
	if (ret)
		goto out;

	holders_freeze(&stack);
	filter_gate_close(&ft);
	ret = filter_drain(&ft, SNAPSHOT_DRAIN_MS);
	if (!ret) {
		for (i = 0; i < s->nr_devs; i++)
			tracker_take_begin(trackers[i], s->devs[i].da);
		for (i = 0; i < s->nr_devs; i++)
			tracker_take_end(trackers[i]);
	}
	filter_gate_open(&ft);
	holders_thaw(&stack);
	if (ret == -ETIMEDOUT)
		pr_warn("snapshot %pUb not taken: writes in flight did not end within %u ms\n",
			&s->id, SNAPSHOT_DRAIN_MS);
out:
	holders_free(&stack);
	filter_take_release(&ft);
	return ret;
}

int snapshot_take(const uuid_t *id)
{
	struct tracker **trackers;
	struct snapshot *s;
	unsigned int i;
	int ret;

	s = snapshot_lock(id);
	if (!s)
		return -ENOENT;
	if (s->state != SNAPSHOT_CREATED) {
		ret = -EALREADY;
		goto out_unlock;
	}
	trackers = kcalloc(s->nr_devs, sizeof(*trackers), GFP_KERNEL);
	if (!trackers) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	for (i = 0; i < s->nr_devs; i++) {
		struct diff_area *da = diff_area_new(s->devs[i].tracker, s->ds);

		if (IS_ERR(da)) {
			ret = PTR_ERR(da);
			goto out_untake;
		}
		s->devs[i].da = da;
		trackers[i] = s->devs[i].tracker;
	}
	ret = snapshot_switch(s, trackers);
	if (ret)
		goto out_untake;
	for (i = 0; i < s->nr_devs; i++)
		tracker_take_done(trackers[i]);
	for (i = 0; i < s->nr_devs; i++) {
		struct snapimage *si = snapimage_create(s->devs[i].da);

		if (IS_ERR(si)) {
			ret = PTR_ERR(si);
			snapshot_stop_cow(s);
			goto out_untake;
		}
		s->devs[i].image = si;
	}
	/* The status lines show the images from now on. */
	smp_store_release(&s->state, SNAPSHOT_TAKEN);
	diff_storage_check_low(s->ds);
	pr_info("snapshot %pUb taken\n", &s->id);
	kfree(trackers);
	snapshot_unlock(s);
	return 0;

out_untake:
	snapshot_put_areas(s);
	kfree(trackers);
out_unlock:
	snapshot_unlock(s);
	return ret;
}

/* Outside every lock: waits with a reference on the snapshot. */
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
	struct snapshot *s = snapshot_lock(id);
	struct diff_storage *ds;
	unsigned int i;

	if (!s)
		return -ENOENT;
	ds = s->ds;
	info->flags = (s->state == SNAPSHOT_TAKEN ?
		       SNAPKEEP_SNAPSHOT_TAKEN : 0) |
		      (READ_ONCE(ds->error) ? SNAPKEEP_SNAPSHOT_CORRUPTED : 0);
	info->error = READ_ONCE(ds->error);
	spin_lock(&ds->lock);
	info->storage_sectors = ds->capacity;
	info->storage_used = ds->used;
	spin_unlock(&ds->lock);
	info->count = s->nr_devs;
	for (i = 0; i < s->nr_devs && i < capacity; i++)
		snapshot_dev_info(&s->devs[i], &devs[i]);
	snapshot_unlock(s);
	return 0;
}

/* sysfs "snapshots": one line per snapshot (control lock held). */
int snapshot_show_all(char *buf, size_t size)
{
	struct snapshot *s;
	int len = 0;

	lockdep_assert_held(&ctl_lock);
	list_for_each_entry(s, &snapshots, link) {
		/* Pairs with the releases in take and destroy. */
		bool taken = smp_load_acquire(&s->state) == SNAPSHOT_TAKEN;
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
				 taken ? "taken" : "created",
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
			if (taken && d->image)
				len += scnprintf(buf + len, size - len, "=%s",
						 d->image->name);
		}
		len += scnprintf(buf + len, size - len, "\n");
	}
	return len;
}
