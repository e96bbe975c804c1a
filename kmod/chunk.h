/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Chunks of a device under a snapshot, and the copy of a run of them.
 */
#ifndef __SNAPKEEP_CHUNK_H
#define __SNAPKEEP_CHUNK_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/gfp.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct diff_area;
struct diff_buffer;

/**
 * enum chunk_state - where the snapshot's data of a chunk is.
 * @CHUNK_NEW: on the original device, untouched since the take.
 * @CHUNK_COPYING: being read into memory by a chunk_op (@op); writes to
 *	the original wait.
 * @CHUNK_IN_MEMORY: in @op's buffer, being stored; writes to the original
 *	pass.
 * @CHUNK_STORED: in the difference storage at @where.
 * @CHUNK_FAILED: lost (the snapshot is corrupted).
 *
 * States only move forward: NEW -> COPYING -> IN_MEMORY -> STORED, or to
 * FAILED from COPYING or IN_MEMORY.
 */
enum chunk_state {
	CHUNK_NEW = 0,
	CHUNK_COPYING,
	CHUNK_IN_MEMORY,
	CHUNK_STORED,
	CHUNK_FAILED,
};

/* chunk.flags: a copy waits for image reads of the original to finish. */
#define CHUNK_WAIT_READERS	0x1

/**
 * struct chunk - the state of one chunk, 16 bytes per chunk of a device.
 * @state: enum chunk_state; read without the lock by the write fast path
 *	(smp_load_acquire()), changed under the chunk's lock.
 * @flags: CHUNK_*.
 * @reserved: padding.
 * @readers: image reads redirected to the original device in flight;
 *	only counted while NEW, and a copy's release waits for them.
 * @op: COPYING, IN_MEMORY: the copy in progress.
 * @where: STORED: location in the difference storage.
 *
 * Lives in the diff area's table; everything but the lockless read of
 * @state is under diff_area_chunk_lock(), taken with interrupts off (image
 * reads finish in interrupt context).
 */
struct chunk {
	u8 state;
	u8 flags;
	u16 reserved;
	u32 readers;
	union {
		struct chunk_op *op;
		u64 where;
	};
};

enum chunk_op_event {
	CHUNK_OP_RELEASED,	/* data in memory: the original may change */
	CHUNK_OP_DONE,		/* stored (or failed): final state */
};

/**
 * struct chunk_waiter - something waiting for a chunk_op event.
 * @link: in the op's list for the event.
 * @fn: called once, in process context, with 0 or a negative errno.
 */
struct chunk_waiter {
	struct list_head link;
	void (*fn)(struct chunk_waiter *w, int error);
};

#define CHUNK_OP_MAX_CHUNKS	64

enum chunk_op_phase {
	CHUNK_OP_READING,
	CHUNK_OP_DRAINING,
	CHUNK_OP_ALLOCATING,
	CHUNK_OP_STORING,
};

/**
 * struct chunk_op - the copy of a run of consecutive chunks of one device:
 *	one read from the original, one write (per storage range) to the
 *	difference storage.
 * @kref: one reference for the chunks in the table (dropped when they
 *	reach their final state), plus one per image I/O using the buffer.
 * @link: in the list of copies a writer waits for and stores itself.
 * @da: the diff area (a reference).
 * @first: first chunk.
 * @count: chunks.
 * @phase: enum chunk_op_phase; only the op's work reads and changes it.
 * @error: negative errno of the copy, set before DONE (or RELEASED) is
 *	announced.
 * @pending: bios in flight.
 * @blocked: chunks still waiting for image readers, plus one while the
 *	work counts them.
 * @sync: the end of the read completes @read_done instead of going on;
 *	its creator then calls chunk_op_read_done().
 * @read_done: see @sync.
 * @lock: protects the waiter lists and the two flags.
 * @released: CHUNK_OP_RELEASED happened.
 * @done: CHUNK_OP_DONE happened.
 * @on_released: waiters for CHUNK_OP_RELEASED.
 * @on_done: waiters for CHUNK_OP_DONE.
 * @buf: the chunks' old data.
 * @work: runs each phase's completion on snapkeep_io_wq; delayed while it
 *	waits for storage to be appended.
 * @deadline: when waiting for storage ends in an overflow (jiffies).
 * @allocated: chunks with a storage location so far.
 * @live: in the list of copies in progress (chunk_show_live()).
 * @born: when the copy was set up (jiffies).
 * @where: the storage location of each chunk.
 */
struct chunk_op {
	struct kref kref;
	struct list_head link;
	struct diff_area *da;
	unsigned long first;
	unsigned int count;
	enum chunk_op_phase phase;
	int error;
	atomic_t pending;
	atomic_t blocked;
	bool sync;
	struct completion read_done;
	spinlock_t lock;		/* the waiter lists, the flags */
	bool released;
	bool done;
	struct list_head on_released;
	struct list_head on_done;
	struct diff_buffer *buf;
	struct delayed_work work;
	unsigned long deadline;
	unsigned int allocated;
	struct list_head live;
	unsigned long born;
	u64 where[CHUNK_OP_MAX_CHUNKS];
};

int chunk_init(void);
void chunk_done(void);

struct chunk_op *chunk_op_alloc(gfp_t gfp);
void chunk_op_discard(struct chunk_op *op);
void chunk_op_setup(struct chunk_op *op, struct diff_area *da,
		    unsigned long first);
void chunk_op_start(struct chunk_op *op, bool sync);
bool chunk_op_read_done(struct chunk_op *op);
void chunk_op_store(struct chunk_op *op);
void chunk_op_free(struct kref *kref);

static inline struct chunk_op *chunk_op_get(struct chunk_op *op)
{
	kref_get(&op->kref);
	return op;
}

static inline void chunk_op_put(struct chunk_op *op)
{
	kref_put(&op->kref, chunk_op_free);
}

bool chunk_op_add_waiter(struct chunk_op *op, struct chunk_waiter *w,
			 enum chunk_op_event event);
void chunk_op_readers_gone(struct chunk_op *op);
int chunk_show_live(char *buf, int len, int size);

#endif /* __SNAPKEEP_CHUNK_H */
