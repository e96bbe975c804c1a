/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Snapshots: a set of devices taken at one instant.
 */
#ifndef __SNAPKEEP_SNAPSHOT_H
#define __SNAPKEEP_SNAPSHOT_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/types.h>
#include <linux/uuid.h>

#include "snapkeep.h"

struct diff_area;
struct diff_storage;
struct event;
struct snapimage;
struct tracker;

/**
 * struct snapshot_dev - one device of a snapshot.
 * @tracker: its tracker (a reference; tracker->snapshot points back).
 * @da: its diff area, from the take on.
 * @image: its image, from the take on.
 */
struct snapshot_dev {
	struct tracker *tracker;
	struct diff_area *da;
	struct snapimage *image;
};

/**
 * struct snapshot - a snapshot of one or more devices.
 * @link: in the list of snapshots (control lock).
 * @kref: held by the list and by ioctls in progress (wait-event).
 * @id: its UUID.
 * @taken: the take succeeded (control lock).
 * @ds: difference storage, corruption state and events.
 * @nr_devs: devices.
 * @devs: the devices.
 *
 * Created by SNAPKEEP_IOCTL_CREATE, destroyed by SNAPKEEP_IOCTL_DESTROY or
 * at module unload... which cannot happen while one exists: it holds a
 * reference on the module. All state changes happen under the control
 * lock; the copy path never takes it.
 */
struct snapshot {
	struct list_head link;
	struct kref kref;
	uuid_t id;
	bool taken;
	struct diff_storage *ds;
	unsigned int nr_devs;
	struct snapshot_dev devs[];
};

int snapshot_create(const dev_t *devs, unsigned int count, uuid_t *id);
int snapshot_destroy(const uuid_t *id);
int snapshot_append_storage(const uuid_t *id, dev_t dev,
			    struct snapkeep_sectors *ranges,
			    unsigned int count);
int snapshot_take(const uuid_t *id);
int snapshot_wait_event(const uuid_t *id, unsigned int timeout_ms,
			struct event *ev);
int snapshot_list(uuid_t *ids, unsigned int capacity, unsigned int *count);
int snapshot_info(const uuid_t *id, struct snapkeep_snapshot_info *info,
		  struct snapkeep_snapshot_dev *devs, unsigned int capacity);
struct snapshot *snapshot_find(const uuid_t *id);
void snapshot_put(struct snapshot *s);

/* For sysfs: one line per snapshot (control lock held). */
int snapshot_show_all(char *buf, size_t size);

#endif /* __SNAPKEEP_SNAPSHOT_H */
