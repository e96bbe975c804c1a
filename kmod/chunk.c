// SPDX-License-Identifier: GPL-2.0
/*
 * Copies of chunks (struct chunk_op).
 *
 * A copy reads a run of chunks from the original device into a buffer,
 * waits for image reads of those chunks that went to the original before
 * it started, then releases the writes waiting for it (the old data is
 * safe in memory) and writes the buffer to the difference storage. Each
 * step ends in a bio completion that queues the op's work on
 * snapkeep_io_wq, which never waits for memory: copies always finish, and
 * finishing copies is what frees memory for new ones. The one exception:
 * the end of the read of a copy started with @sync wakes its writer, who
 * waits for it anyway, and that writer releases the copy and starts its
 * store (chunk_op_read_done(), chunk_op_store()).
 *
 * Until the store is done the chunks stay IN_MEMORY: image reads copy
 * them from the buffer, so the image never reads storage not yet written.
 *
 * A failure (read or write error, no room in the storage) corrupts the
 * snapshot; the chunks become FAILED, the writes waiting are released all
 * the same: the original device never waits for, nor loses anything to, a
 * broken snapshot.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-chunk: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/mempool.h>
#include <linux/slab.h>

#include "chunk.h"
#include "diff_area.h"
#include "diff_buffer.h"
#include "diff_storage.h"
#include "filter.h"
#include "main.h"
#include "params.h"

static mempool_t *chunk_op_pool;

/*
 * Copies in progress, for /sys/kernel/snapkeep/inflight: a write the
 * module holds for good shows as a copy that does not move on.
 */
static LIST_HEAD(chunk_live);
static DEFINE_SPINLOCK(chunk_live_lock);	/* chunk_live; irqs off */
static unsigned int chunk_live_count;

int chunk_init(void)
{
	chunk_op_pool = mempool_create_kmalloc_pool(16,
						    sizeof(struct chunk_op));
	return chunk_op_pool ? 0 : -ENOMEM;
}

void chunk_done(void)
{
	mempool_destroy(chunk_op_pool);
}

/*
 * An op to fill in under a chunk lock later. With GFP_NOIO it may wait
 * for an op of the pool to be freed and never fails: only for a caller
 * that holds no op whose end depends on it. GFP_NOWAIT gives NULL instead.
 */
struct chunk_op *chunk_op_alloc(gfp_t gfp)
{
	return mempool_alloc(chunk_op_pool, gfp);
}

/* Returns an op from chunk_op_alloc() that was not used. */
void chunk_op_discard(struct chunk_op *op)
{
	if (op)
		mempool_free(op, chunk_op_pool);
}

static void chunk_op_work(struct work_struct *work);

/* Under the lock of chunk @first, which the caller moves to COPYING. */
void chunk_op_setup(struct chunk_op *op, struct diff_area *da,
		    unsigned long first)
{
	unsigned long flags;

	kref_init(&op->kref);
	INIT_LIST_HEAD(&op->link);
	op->da = diff_area_get(da);
	op->first = first;
	op->count = 0;
	op->phase = CHUNK_OP_READING;
	op->error = 0;
	atomic_set(&op->pending, 0);
	atomic_set(&op->blocked, 0);
	spin_lock_init(&op->lock);
	op->sync = false;
	op->released = false;
	op->done = false;
	INIT_LIST_HEAD(&op->on_released);
	INIT_LIST_HEAD(&op->on_done);
	op->buf = NULL;
	op->allocated = 0;
	INIT_DELAYED_WORK(&op->work, chunk_op_work);
	op->born = jiffies;
	spin_lock_irqsave(&chunk_live_lock, flags);
	list_add_tail(&op->live, &chunk_live);
	chunk_live_count++;
	spin_unlock_irqrestore(&chunk_live_lock, flags);
}

void chunk_op_free(struct kref *kref)
{
	struct chunk_op *op = container_of(kref, struct chunk_op, kref);
	unsigned long flags;

	spin_lock_irqsave(&chunk_live_lock, flags);
	list_del(&op->live);
	chunk_live_count--;
	spin_unlock_irqrestore(&chunk_live_lock, flags);
	diff_buffer_put(op->buf);
	diff_area_put(op->da);
	mempool_free(op, chunk_op_pool);
}

/*
 * Queues @w for @event: true when queued (@w->fn will be called), false
 * when the event happened already (op->error tells how it went).
 */
bool chunk_op_add_waiter(struct chunk_op *op, struct chunk_waiter *w,
			 enum chunk_op_event event)
{
	unsigned long flags;
	bool queued = false;

	spin_lock_irqsave(&op->lock, flags);
	if (event == CHUNK_OP_RELEASED && !op->released) {
		list_add_tail(&w->link, &op->on_released);
		queued = true;
	} else if (event == CHUNK_OP_DONE && !op->done) {
		list_add_tail(&w->link, &op->on_done);
		queued = true;
	}
	spin_unlock_irqrestore(&op->lock, flags);
	return queued;
}

static void chunk_op_notify(struct chunk_op *op, enum chunk_op_event event)
{
	struct chunk_waiter *w, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	spin_lock_irqsave(&op->lock, flags);
	if (event == CHUNK_OP_RELEASED) {
		op->released = true;
		list_splice_init(&op->on_released, &list);
	} else {
		/* DONE implies RELEASED for anyone still waiting for it. */
		op->released = true;
		op->done = true;
		list_splice_init(&op->on_released, &list);
		list_splice_tail_init(&op->on_done, &list);
	}
	spin_unlock_irqrestore(&op->lock, flags);

	list_for_each_entry_safe(w, tmp, &list, link) {
		list_del(&w->link);
		w->fn(w, op->error);
	}
}

/* Sets the op's chunks to @state (@where for STORED). */
static void chunk_op_set_state(struct chunk_op *op, enum chunk_state state)
{
	struct diff_area *da = op->da;
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < op->count; i++) {
		unsigned long nr = op->first + i;
		spinlock_t *lock = diff_area_chunk_lock(da, nr);
		struct chunk *c = &da->chunks[nr];

		spin_lock_irqsave(lock, flags);
		if (state == CHUNK_STORED)
			c->where = op->where[i];
		/* Pairs with the write fast path's lockless read. */
		smp_store_release(&c->state, state);
		spin_unlock_irqrestore(lock, flags);
	}
}

/*
 * The copy failed: @error (positive errno) corrupts the snapshot unless it
 * is 0 (already corrupted or destroyed). Releases everybody.
 */
static void chunk_op_fail(struct chunk_op *op, int error)
{
	if (error)
		diff_storage_corrupt(op->da->ds, op->da->dev, error);
	op->error = -EIO;
	chunk_op_set_state(op, CHUNK_FAILED);
	chunk_op_notify(op, CHUNK_OP_DONE);
	chunk_op_put(op);
}

/* The op's bios of a phase ended: on to the next. */
static void chunk_op_next(struct chunk_op *op)
{
	if (op->phase == CHUNK_OP_READING && op->sync)
		complete(&op->read_done);
	else
		queue_delayed_work(snapkeep_io_wq, &op->work, 0);
}

static void chunk_op_endio(struct bio *bio)
{
	struct chunk_op *op = bio->bi_private;

	if (bio->bi_status)
		WRITE_ONCE(op->error, blk_status_to_errno(bio->bi_status));
	bio_put(bio);
	if (atomic_dec_and_test(&op->pending))
		chunk_op_next(op);
}

/*
 * Bios for @bytes of the buffer from byte @offset, at @sector of @bdev;
 * counted in op->pending and submitted.
 */
static void chunk_op_submit(struct chunk_op *op, struct block_device *bdev,
			    sector_t sector, unsigned int offset,
			    unsigned int bytes, blk_opf_t opf)
{
	struct diff_buffer *buf = op->buf;

	while (bytes) {
		unsigned int nr = DIV_ROUND_UP(bytes, PAGE_SIZE);
		struct bio *bio;

		bio = bio_alloc_bioset(bdev, min_t(unsigned int, nr,
						   BIO_MAX_VECS),
				       opf, GFP_NOIO, &filter_io_bioset);
		bio->bi_iter.bi_sector = sector;
		bio->bi_end_io = chunk_op_endio;
		bio->bi_private = op;
		while (bytes) {
			unsigned int len = min_t(unsigned int, bytes,
						 PAGE_SIZE);

			if (bio_add_page(bio, buf->pages[offset >> PAGE_SHIFT],
					 len, 0) != len)
				break;
			offset += len;
			bytes -= len;
			sector += len >> SECTOR_SHIFT;
		}
		atomic_inc(&op->pending);
		filter_submit_own(bio);
	}
}

/* Bytes of the op's chunks: the last chunk of a device may be short. */
static unsigned int chunk_op_bytes(struct chunk_op *op)
{
	struct diff_area *da = op->da;
	unsigned long last = op->first + op->count - 1;

	return ((op->count - 1) << da->chunk_shift) +
	       (diff_area_chunk_len(da, last) << SECTOR_SHIFT);
}

/*
 * Starts the copy: reads the chunks from the original into the op's buffer,
 * which the caller reserved before it claimed the chunks (they are
 * COPYING already).
 *
 * With @sync, the caller waits for the read itself (op->read_done), then
 * calls chunk_op_read_done(): a writer that waits for its copy anyway is
 * released in its own context, without a worker's wakeup in between.
 * Without @sync the op may be gone on return.
 */
void chunk_op_start(struct chunk_op *op, bool sync)
{
	struct diff_area *da = op->da;
	unsigned int bytes = chunk_op_bytes(op);

	op->sync = sync;
	if (sync)
		init_completion(&op->read_done);
	/* One reference for the reading, dropped at its end. */
	atomic_set(&op->pending, 1);
	chunk_op_submit(op, da->orig,
			(sector_t)op->first << (da->chunk_shift - SECTOR_SHIFT),
			0, bytes, REQ_OP_READ);
	if (atomic_dec_and_test(&op->pending))
		chunk_op_next(op);
}

/* An image read of one of the op's chunks ended (chunk lock held). */
void chunk_op_readers_gone(struct chunk_op *op)
{
	if (atomic_dec_and_test(&op->blocked))
		queue_delayed_work(snapkeep_io_wq, &op->work, 0);
}

/*
 * Counts the op's chunks that image reads of the original still use;
 * true when there are none left to wait for.
 */
static bool chunk_op_drain(struct chunk_op *op)
{
	struct diff_area *da = op->da;
	unsigned long flags;
	unsigned int i;

	atomic_set(&op->blocked, 1);
	for (i = 0; i < op->count; i++) {
		unsigned long nr = op->first + i;
		spinlock_t *lock = diff_area_chunk_lock(da, nr);
		struct chunk *c = &da->chunks[nr];

		spin_lock_irqsave(lock, flags);
		if (c->readers) {
			c->flags |= CHUNK_WAIT_READERS;
			atomic_inc(&op->blocked);
		}
		spin_unlock_irqrestore(lock, flags);
	}
	return atomic_dec_and_test(&op->blocked);
}

/*
 * Finds storage for the op's chunks. When there is none, waits (polling,
 * the work requeued) up to diff_storage_wait_ms for user space to answer
 * the low-space event, holding the buffer: writers needing copies wait
 * too. Returns false when the op went on hold or failed.
 */
static bool chunk_op_allocate(struct chunk_op *op)
{
	struct diff_area *da = op->da;
	struct diff_storage *ds = da->ds;

	if (op->phase != CHUNK_OP_ALLOCATING) {
		op->phase = CHUNK_OP_ALLOCATING;
		op->deadline = jiffies +
			       msecs_to_jiffies(param_diff_storage_wait_ms);
	}
	while (op->allocated < op->count) {
		unsigned int i = op->allocated;

		if (diff_storage_failed(ds)) {
			chunk_op_fail(op, 0);
			return false;
		}
		if (diff_storage_alloc(ds, diff_area_chunk_len(da, op->first + i),
				       &op->where[i])) {
			if (time_after(jiffies, op->deadline)) {
				chunk_op_fail(op, ENOSPC);
				return false;
			}
			queue_delayed_work(snapkeep_io_wq, &op->work,
					   msecs_to_jiffies(50));
			return false;
		}
		op->allocated++;
	}
	return true;
}

/* Writes the buffer to the difference storage. */
void chunk_op_store(struct chunk_op *op)
{
	struct diff_area *da = op->da;
	struct diff_storage *ds = da->ds;
	unsigned int i, run;

	if (!chunk_op_allocate(op))
		return;
	if (!diff_storage_io_begin(ds)) {
		chunk_op_fail(op, 0);
		return;
	}

	op->phase = CHUNK_OP_STORING;
	atomic_set(&op->pending, 1);
	/* One write per run of contiguous locations. */
	for (i = 0; i < op->count; i = run) {
		sector_t sector, sectors = 0;
		struct block_device *bdev;

		for (run = i; run < op->count; run++) {
			if (run > i && op->where[run] !=
			    op->where[i] + sectors)
				break;
			sectors += diff_area_chunk_len(da, op->first + run);
		}
		bdev = diff_storage_locate(ds, op->where[i], &sector);
		chunk_op_submit(op, bdev, sector, i << da->chunk_shift,
				sectors << SECTOR_SHIFT, REQ_OP_WRITE | REQ_SYNC);
	}
	if (atomic_dec_and_test(&op->pending))
		queue_delayed_work(snapkeep_io_wq, &op->work, 0);
}

/* The old data is in memory: the writes waiting for it may go. */
static void chunk_op_release(struct chunk_op *op)
{
	chunk_op_set_state(op, CHUNK_IN_MEMORY);
	chunk_op_notify(op, CHUNK_OP_RELEASED);
}

/*
 * The read of a copy started with @sync ended (op->read_done): what the
 * work does at that point, in the caller's context, but the store is left
 * to the caller. True when the writes are released and the caller must
 * call chunk_op_store(); false when the op goes on by itself (failed, or
 * waiting for image reads) and may be gone.
 */
bool chunk_op_read_done(struct chunk_op *op)
{
	if (op->error) {
		chunk_op_fail(op, -op->error);
		return false;
	}
	op->phase = CHUNK_OP_DRAINING;
	if (!chunk_op_drain(op))
		return false;	/* the last image read queues the work */
	chunk_op_release(op);
	return true;
}

static void chunk_op_work(struct work_struct *work)
{
	struct chunk_op *op = container_of(to_delayed_work(work),
					   struct chunk_op, work);
	struct diff_area *da = op->da;

	switch (op->phase) {
	case CHUNK_OP_READING:
		if (op->error) {
			chunk_op_fail(op, -op->error);
			return;
		}
		op->phase = CHUNK_OP_DRAINING;
		if (!chunk_op_drain(op))
			return;	/* the last image read queues the work */
		fallthrough;
	case CHUNK_OP_DRAINING:
		chunk_op_release(op);
		chunk_op_store(op);
		return;
	case CHUNK_OP_ALLOCATING:
		chunk_op_store(op);
		return;
	case CHUNK_OP_STORING:
		diff_storage_io_end(da->ds);
		if (op->error) {
			chunk_op_fail(op, -op->error);
			return;
		}
		chunk_op_set_state(op, CHUNK_STORED);
		atomic64_add(op->count, &da->copied);
		chunk_op_notify(op, CHUNK_OP_DONE);
		chunk_op_put(op);
		return;
	}
}

static const char *const chunk_phase_names[] = {
	[CHUNK_OP_READING]	= "reading",
	[CHUNK_OP_DRAINING]	= "draining",
	[CHUNK_OP_ALLOCATING]	= "allocating",
	[CHUNK_OP_STORING]	= "storing",
};

/*
 * Appends the copies in progress to @buf (@len used of @size): a count,
 * then a line for each of the oldest. Returns the new length.
 */
int chunk_show_live(char *buf, int len, int size)
{
	struct chunk_op *op;
	unsigned int shown = 0;

	spin_lock_irq(&chunk_live_lock);
	len += scnprintf(buf + len, size - len, "copies %u\n",
			 chunk_live_count);
	list_for_each_entry(op, &chunk_live, live) {
		if (++shown > 16)
			break;
		len += scnprintf(buf + len, size - len,
				 "copy %u:%u first=%lu count=%u phase=%s pending=%d blocked=%d released=%d done=%d error=%d age_ms=%u\n",
				 MAJOR(op->da->dev), MINOR(op->da->dev),
				 op->first, op->count,
				 chunk_phase_names[READ_ONCE(op->phase)],
				 atomic_read(&op->pending),
				 atomic_read(&op->blocked),
				 READ_ONCE(op->released), READ_ONCE(op->done),
				 READ_ONCE(op->error),
				 jiffies_to_msecs(jiffies - op->born));
	}
	spin_unlock_irq(&chunk_live_lock);
	return len;
}
