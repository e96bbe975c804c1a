// SPDX-License-Identifier: GPL-2.0
/*
 * Events of a snapshot: low free space in the difference storage, and the
 * overflow that corrupts the snapshot. Queued from the copy path, read by
 * SNAPKEEP_IOCTL_WAIT_EVENT.
 */
#include <linux/jiffies.h>
#include <linux/sched/signal.h>
#include <linux/timekeeping.h>

#include "event_queue.h"

void event_queue_init(struct event_queue *eq)
{
	spin_lock_init(&eq->lock);
	init_waitqueue_head(&eq->wait);
	eq->head = 0;
	eq->count = 0;
	eq->closed = false;
}

void event_queue_push(struct event_queue *eq, const struct event *ev)
{
	unsigned long flags;
	unsigned int slot;

	spin_lock_irqsave(&eq->lock, flags);
	if (eq->count == EVENT_QUEUE_SIZE) {
		eq->head = (eq->head + 1) % EVENT_QUEUE_SIZE;
		eq->count--;
	}
	slot = (eq->head + eq->count) % EVENT_QUEUE_SIZE;
	eq->ring[slot] = *ev;
	eq->ring[slot].time_ns = ktime_get_ns();
	eq->count++;
	spin_unlock_irqrestore(&eq->lock, flags);
	wake_up_interruptible(&eq->wait);
}

/* Takes the oldest event; false when there is none. */
static bool event_queue_pop(struct event_queue *eq, struct event *out,
			    bool *closed)
{
	unsigned long flags;
	bool found = false;

	spin_lock_irqsave(&eq->lock, flags);
	*closed = eq->closed;
	if (eq->count) {
		*out = eq->ring[eq->head];
		eq->head = (eq->head + 1) % EVENT_QUEUE_SIZE;
		eq->count--;
		found = true;
	}
	spin_unlock_irqrestore(&eq->lock, flags);
	return found;
}

static bool event_queue_ready(struct event_queue *eq)
{
	return READ_ONCE(eq->count) || READ_ONCE(eq->closed);
}

/*
 * Waits up to @timeout_ms for an event: 0 with *@out filled, -ETIMEDOUT,
 * -EINTR on a signal, -ENOENT once the queue is closed.
 */
int event_queue_wait(struct event_queue *eq, unsigned int timeout_ms,
		     struct event *out)
{
	long left;
	bool closed;

	left = wait_event_interruptible_timeout(eq->wait, event_queue_ready(eq),
						msecs_to_jiffies(timeout_ms));
	if (left < 0)
		return -EINTR;
	if (event_queue_pop(eq, out, &closed))
		return 0;
	return closed ? -ENOENT : -ETIMEDOUT;
}

void event_queue_close(struct event_queue *eq)
{
	unsigned long flags;

	spin_lock_irqsave(&eq->lock, flags);
	eq->closed = true;
	eq->count = 0;
	spin_unlock_irqrestore(&eq->lock, flags);
	wake_up_interruptible_all(&eq->wait);
}
