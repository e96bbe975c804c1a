/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The events of one snapshot, on their way to user space.
 */
#ifndef __SNAPKEEP_EVENT_QUEUE_H
#define __SNAPKEEP_EVENT_QUEUE_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#define EVENT_QUEUE_SIZE	16

/**
 * struct event - one event (the fields of struct snapkeep_snapshot_event).
 * @code: SNAPKEEP_EVENT_*.
 * @time_ns: CLOCK_MONOTONIC when it was queued.
 * @requested_sectors: LOW_SPACE: storage to append.
 * @dev: OVERFLOW: the device whose copy failed.
 * @error: OVERFLOW: positive errno.
 */
struct event {
	u32 code;
	u64 time_ns;
	u64 requested_sectors;
	dev_t dev;
	int error;
};

/**
 * struct event_queue - a bounded FIFO of events with a waitqueue.
 * @lock: protects everything below; taken with interrupts off, as events
 *	are queued from I/O completion paths.
 * @wait: ioctl callers sleeping in event_queue_wait().
 * @head: index of the oldest event in @ring.
 * @count: events queued.
 * @closed: set when the snapshot is destroyed; waiters return -ENOENT.
 * @ring: the events. When full, the oldest is dropped: a user space that
 *	does not read events for that long only needs the newest.
 *
 * Embedded in struct diff_storage and lives as long as it.
 */
struct event_queue {
	spinlock_t lock;		/* everything below */
	wait_queue_head_t wait;
	unsigned int head;
	unsigned int count;
	bool closed;
	struct event ring[EVENT_QUEUE_SIZE];
};

void event_queue_init(struct event_queue *eq);
void event_queue_push(struct event_queue *eq, const struct event *ev);
int event_queue_wait(struct event_queue *eq, unsigned int timeout_ms,
		     struct event *out);
void event_queue_close(struct event_queue *eq);

#endif /* __SNAPKEEP_EVENT_QUEUE_H */
