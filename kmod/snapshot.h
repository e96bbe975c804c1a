/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Snapshots: a set of devices taken at one instant.
 */
#ifndef __SNAPKEEP_SNAPSHOT_H
#define __SNAPKEEP_SNAPSHOT_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/uuid.h>

#include "snapkeep.h"

struct cbt_store_args;
struct diff_area;
struct diff_storage;
struct event;
struct file;
struct holder_set;
struct snapimage;
struct tracker;

/**
 * struct snapshot_dev - one device of a snapshot.
 * @tracker: its tracker (a reference; tracker->snapshot points back).
 * @attached: the tracker was attached by this snapshot's create; a create
 *	undone (rollback) detaches it again.
 * @da: its diff area, from the take on.
 * @image: its image, from the take on.
 */
struct snapshot_dev {
	struct tracker *tracker;
	bool attached;
	struct diff_area *da;
	struct snapimage *image;
};

/**
 * enum snapshot_state - the life of a snapshot; only moves forward.
 * @SNAPSHOT_CREATED: devices attached, storage may be appended.
 * @SNAPSHOT_TAKEN: copy-on-write runs, images exist.
 * @SNAPSHOT_DEAD: destroyed: every command on it answers -ENOENT.
 */
enum snapshot_state {
	SNAPSHOT_CREATED,
	SNAPSHOT_TAKEN,
	SNAPSHOT_DEAD,
};

/**
 * struct snapshot - a snapshot of one or more devices.
 * @link: in the list of snapshots (control lock); unlinked when it dies.
 * @kref: held by the list and by every command using it.
 * @lock: serialises the commands changing it (append, take, destroy) and
 *	the queries of its devices; held while file systems are frozen, never
 *	taken on the I/O path. Nests outside the control lock.
 * @id: its UUID.
 * @state: enum snapshot_state, under @lock; read without it (acquire) by
 *	the status lines, which show the images only once TAKEN.
 * @ds: difference storage, corruption state and events.
 * @nr_devs: devices.
 * @devs: the devices; @da and @image set by the take (@lock).
 *
 * Created by SNAPKEEP_IOCTL_CREATE, destroyed by SNAPKEEP_IOCTL_DESTROY; it
 * holds a reference on the module, so unloading waits for the destroy.
 * The copy path never takes any of these locks.
 */
struct snapshot {
	struct list_head link;
	struct kref kref;
	struct mutex lock;
	uuid_t id;
	enum snapshot_state state;
	struct diff_storage *ds;
	unsigned int nr_devs;
	struct snapshot_dev devs[];
};

int snapshot_attach_tracker(dev_t dev);
struct tracker *snapshot_tracker_get(dev_t dev, bool *attached);
int snapshot_attach_persistent(dev_t dev, const struct cbt_store_args *args);
int snapshot_create(const dev_t *devs, unsigned int count, uuid_t *id);
int snapshot_destroy(const uuid_t *id, bool rollback);
int snapshot_append_storage(const uuid_t *id, dev_t dev, struct file *file,
			    struct snapkeep_sectors *ranges,
			    unsigned int count);
int snapshot_take(const uuid_t *id);
int snapshot_wait_event(const uuid_t *id, unsigned int timeout_ms,
			struct event *ev);
int snapshot_list(uuid_t *ids, unsigned int capacity, unsigned int *count);
int snapshot_info(const uuid_t *id, struct snapkeep_snapshot_info *info,
		  struct snapkeep_snapshot_dev *devs, unsigned int capacity);
bool snapshot_storage_above(struct holder_set *stack);

/* For sysfs: one line per snapshot (control lock held). */
int snapshot_show_all(char *buf, size_t size);

#endif /* __SNAPKEEP_SNAPSHOT_H */
