// SPDX-License-Identifier: GPL-2.0
/*
 * Diff areas: copy-on-write of one device of a taken snapshot, and the I/O
 * of its image.
 *
 * Writes to the original (diff_area_cow()): the chunks a write covers are
 * looked at without locks first; when all are copied (or being stored),
 * the write passes. Otherwise the new chunks are put into copies (runs of
 * up to cow_max_io_kb), the write waits for those and for copies already
 * running, and is submitted by whichever releases it last. A submitter
 * that sends one bio at a time (diff_area_wait_here()) waits for the
 * reads of the copies it started itself and is released in its own
 * context, which saves a worker's wakeup per first write; a batch under
 * way (write-back, io_submit()) only waits for copy memory, and its
 * copies' reads run in parallel. Where the submitter may not wait at all
 * (current->bio_list, REQ_NOWAIT), the filter hands the write to a worker.
 * A sequential writer gets copies started ahead of it (read-ahead, set up
 * by a worker), so its next writes find their chunks in memory: the
 * copies' reads overlap its writes instead of preceding them.
 *
 * Image reads (diff_area_image_io()) are cut at chunk boundaries; each
 * part is redirected (a clone of the image bio, no data copied) to the
 * original when the chunk is untouched, to the difference storage when
 * stored, or copied from the buffer of a copy in progress. Consecutive
 * parts going to consecutive sectors of one device share one clone. A read of the
 * original is counted on the chunk, and a copy that starts meanwhile does
 * not release its writes before such reads end: they would read new data.
 * Image writes need the chunk stored first; they are done by a worker that
 * copies the chunk if needed, then redirects the write into the storage.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-diff: " fmt

#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/log2.h>
#include <linux/mempool.h>
#include <linux/slab.h>

#include "diff_area.h"
#include "diff_buffer.h"
#include "diff_storage.h"
#include "filter.h"
#include "main.h"
#include "params.h"
#include "tracker.h"

static void diff_area_ra_work(struct work_struct *work);

/*
 * log2 of the chunk size for a device of @capacity sectors: the smallest
 * from chunk_minimum_shift that keeps the count at or below
 * chunk_maximum_count, but never so large that four chunks would not fit
 * the copy budget (then the table gets more entries than the count says):
 * a random 4 KiB write copies a whole chunk, and writers must not queue
 * for a budget that holds only one or two copies.
 */
static unsigned int diff_area_chunk_shift(sector_t capacity,
					  unsigned int logical_block_size)
{
	unsigned int shift = max3(param_chunk_minimum_shift,
				  (unsigned int)PAGE_SHIFT,
				  (unsigned int)ilog2(logical_block_size));
	u64 bytes = (u64)capacity << SECTOR_SHIFT;
	u64 budget = diff_buffer_budget();

	while (shift < param_chunk_maximum_shift &&
	       (4ULL << (shift + 1)) <= budget &&
	       DIV_ROUND_UP_ULL(bytes, 1ULL << shift) >
	       param_chunk_maximum_count)
		shift++;
	return shift;
}

/* At take, with the snapshot's lock: the chunk table of @t's device. */
struct diff_area *diff_area_new(struct tracker *t, struct diff_storage *ds)
{
	struct block_device *bdev = t->orig.bdev;
	struct diff_area *da;
	unsigned int i;

	da = kzalloc(sizeof(*da), GFP_KERNEL);
	if (!da)
		return ERR_PTR(-ENOMEM);
	da->capacity = bdev_nr_sectors(bdev);
	da->logical_block_size = bdev_logical_block_size(bdev);
	da->physical_block_size = bdev_physical_block_size(bdev);
	da->chunk_shift = diff_area_chunk_shift(da->capacity,
						da->logical_block_size);
	da->chunk_count = DIV_ROUND_UP_ULL((u64)da->capacity << SECTOR_SHIFT,
					   1ULL << da->chunk_shift);
	if (!da->chunk_count) {
		kfree(da);
		return ERR_PTR(-EINVAL);
	}
	da->op_chunks = clamp_t(unsigned int,
				((u64)param_cow_max_io_kb << 10) >>
				da->chunk_shift, 1, CHUNK_OP_MAX_CHUNKS);
	da->ra_chunks = ((u64)param_cow_readahead_kb << 10) >> da->chunk_shift;
	da->seq_next = ULONG_MAX;
	INIT_WORK(&da->ra_work, diff_area_ra_work);
	da->chunks = kvcalloc(da->chunk_count, sizeof(*da->chunks),
			      GFP_KERNEL | __GFP_NOWARN);
	if (!da->chunks) {
		kfree(da);
		return ERR_PTR(-ENOMEM);
	}
	for (i = 0; i < DIFF_AREA_LOCKS; i++)
		spin_lock_init(&da->locks[i]);
	kref_init(&da->kref);
	da->tracker = tracker_get(t);
	da->ds = diff_storage_get(ds);
	da->orig = bdev;
	da->dev = t->dev;
	atomic64_set(&da->copied, 0);
	return da;
}

static void diff_area_release(struct work_struct *work)
{
	struct diff_area *da = container_of(work, struct diff_area, release);

	kvfree(da->chunks);
	diff_storage_put(da->ds);
	tracker_put(da->tracker);
	kfree(da);
}

/* The last reference may go in interrupt context: free from a worker. */
void diff_area_free(struct kref *kref)
{
	struct diff_area *da = container_of(kref, struct diff_area, kref);

	INIT_WORK(&da->release, diff_area_release);
	queue_work(snapkeep_io_wq, &da->release);
}

/* Whether writes to chunks @first..@last may pass without waiting. */
static bool diff_area_copied(struct diff_area *da, unsigned long first,
			     unsigned long last)
{
	unsigned long nr;

	for (nr = first; nr <= last; nr++) {
		if (diff_area_chunk_state(da, nr) < CHUNK_IN_MEMORY)
			return false;
	}
	return true;
}

/*
 * Whether the snapshot no longer depends on the original's sectors
 * @sector..+@count: every chunk there is copied (or the snapshot is
 * broken). A discard may reach them then.
 */
bool diff_area_range_copied(struct diff_area *da, sector_t sector,
			    sector_t count)
{
	unsigned int shift = da->chunk_shift - SECTOR_SHIFT;

	if (diff_storage_failed(da->ds) || sector >= da->capacity || !count)
		return true;
	count = min_t(sector_t, count, da->capacity - sector);
	return diff_area_copied(da, sector >> shift,
				(sector + count - 1) >> shift);
}

/*
 * Puts the NEW chunks from @nr on (at most @n, stopping at the first that
 * is not NEW) into @op; their number.
 */
static unsigned int diff_area_claim(struct diff_area *da, struct chunk_op *op,
				    unsigned long nr, unsigned int n)
{
	unsigned int count = 0;
	unsigned long flags;

	for (; count < n; nr++) {
		spinlock_t *lock = diff_area_chunk_lock(da, nr);
		struct chunk *c = &da->chunks[nr];

		spin_lock_irqsave(lock, flags);
		if (c->state != CHUNK_NEW) {
			spin_unlock_irqrestore(lock, flags);
			break;
		}
		if (!count)
			chunk_op_setup(op, da, nr);
		c->op = op;
		op->count++;
		/* Pairs with diff_area_copied(). */
		smp_store_release(&c->state, CHUNK_COPYING);
		spin_unlock_irqrestore(lock, flags);
		count++;
	}
	return count;
}

/* How many chunks from @nr on, up to @last and @max, look NEW (no lock). */
static unsigned int diff_area_new_run(struct diff_area *da, unsigned long nr,
				      unsigned long last, unsigned int max)
{
	unsigned int n = 0;

	while (n < max && nr + n <= last &&
	       diff_area_chunk_state(da, nr + n) == CHUNK_NEW)
		n++;
	return n;
}

/* Bytes of the @n chunks from @nr (the device's last chunk may be short). */
static unsigned int diff_area_run_bytes(struct diff_area *da,
					unsigned long nr, unsigned int n)
{
	return ((n - 1) << da->chunk_shift) +
	       (diff_area_chunk_len(da, nr + n - 1) << SECTOR_SHIFT);
}

/**
 * struct cow_request - a write to the original held until copies release it.
 * @bio: the write.
 * @pending: copies it waits for, plus one while it is being set up.
 */
struct cow_request {
	struct bio *bio;
	atomic_t pending;
};

/**
 * struct cow_wait - one copy a cow_request waits for.
 * @w: the waiter queued on the copy.
 * @req: the request.
 */
struct cow_wait {
	struct chunk_waiter w;
	struct cow_request *req;
};

/**
 * struct cow_start - how diff_area_start_copy() starts a copy.
 * @wait: it may wait for copy memory: the caller holds no copy it must
 *	finish itself (else waiting could be for its own buffers).
 * @sync: the caller waits for the read and releases the copy itself; it
 *	gets a reference in @op.
 * @cw: queued for the copy's release (with its request counted) before
 *	the copy starts; NULL for none.
 * @op: out, with @sync: the copy.
 */
struct cow_start {
	bool wait;
	bool sync;
	struct cow_wait *cw;
	struct chunk_op *op;
};

/*
 * Starts a copy of the NEW chunks from @nr on (up to @last and the largest
 * copy): the buffer is reserved first, then the chunks still NEW are
 * claimed, then read. Never claims a chunk before its buffer is reserved:
 * a claimed chunk makes every writer of it wait. Returns the number of
 * chunks copied; 0 when they were not NEW any more; -EAGAIN when there was
 * no memory right now (only without @s->wait).
 */
static int diff_area_start_copy(struct diff_area *da, unsigned long nr,
				unsigned long last, struct cow_start *s)
{
	unsigned int n = diff_area_new_run(da, nr, last, da->op_chunks);
	struct diff_buffer *buf;
	struct chunk_op *op;
	unsigned int count;

	if (!n)
		return 0;
	if (s->wait)
		buf = diff_buffer_get(diff_area_run_bytes(da, nr, n));
	else
		buf = diff_buffer_tryget(diff_area_run_bytes(da, nr, n), false);
	if (!buf)
		return -EAGAIN;
	op = chunk_op_alloc(s->wait ? GFP_NOIO : GFP_NOWAIT);
	if (!op) {
		diff_buffer_put(buf);
		return -EAGAIN;
	}
	count = diff_area_claim(da, op, nr, n);
	if (!count) {
		diff_buffer_put(buf);
		chunk_op_discard(op);
		return 0;
	}
	op->buf = buf;
	if (s->cw) {
		atomic_inc(&s->cw->req->pending);
		chunk_op_add_waiter(op, &s->cw->w, CHUNK_OP_RELEASED);
	}
	if (s->sync)
		s->op = chunk_op_get(op);
	/* Without @sync the op may be gone once started. */
	chunk_op_start(op, s->sync);
	return count;
}

/**
 * struct image_wait - something waiting in its own context for a copy.
 * @w: the waiter.
 * @done: completed by the copy's event.
 */
struct image_wait {
	struct chunk_waiter w;
	struct completion done;
};

static void image_wait_fn(struct chunk_waiter *w, int error)
{
	complete(&container_of(w, struct image_wait, w)->done);
}

/* Waits until @op has released its writes (read the old data) or failed. */
static void diff_area_wait_op(struct chunk_op *op, enum chunk_op_event event)
{
	struct image_wait iw;

	init_completion(&iw.done);
	iw.w.fn = image_wait_fn;
	if (chunk_op_add_waiter(op, &iw.w, event))
		wait_for_completion(&iw.done);
}

/*
 * Chunk @nr is being copied by another writer's copy: waits for its
 * release. The caller holds no copy of its own that is not released.
 */
static void diff_area_wait_copying(struct diff_area *da, unsigned long nr)
{
	spinlock_t *lock = diff_area_chunk_lock(da, nr);
	struct chunk *c = &da->chunks[nr];
	struct chunk_op *op = NULL;
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	if (c->state == CHUNK_COPYING)
		op = chunk_op_get(c->op);
	spin_unlock_irqrestore(lock, flags);
	if (!op)
		return;
	diff_area_wait_op(op, CHUNK_OP_RELEASED);
	chunk_op_put(op);
}

static mempool_t *cow_request_pool;
static mempool_t *cow_wait_pool;

/* Writes held for copies now (cow_request), writers copying inline. */
static atomic_t cow_held = ATOMIC_INIT(0);
static atomic_t cow_inline = ATOMIC_INIT(0);

/* Appends the writes held to @buf (@len used of @size); the new length. */
int diff_area_show_held(char *buf, int len, int size)
{
	return len + scnprintf(buf + len, size - len,
			       "writes held=%d copying_inline=%d\n",
			       atomic_read(&cow_held),
			       atomic_read(&cow_inline));
}

int diff_area_init(void)
{
	cow_request_pool =
		mempool_create_kmalloc_pool(64, sizeof(struct cow_request));
	if (!cow_request_pool)
		return -ENOMEM;
	cow_wait_pool = mempool_create_kmalloc_pool(64,
						    sizeof(struct cow_wait));
	if (!cow_wait_pool) {
		mempool_destroy(cow_request_pool);
		return -ENOMEM;
	}
	return 0;
}

void diff_area_done(void)
{
	mempool_destroy(cow_wait_pool);
	mempool_destroy(cow_request_pool);
}

/*
 * Read-ahead for a sequential writer about to reach chunk @from: copies of
 * the next ra_chunks chunks start now, so the writes find them in memory
 * or stored instead of waiting for their reads. Only with memory to spare
 * (diff_buffer_tryget()); the writes never wait for it.
 */
static void diff_area_readahead(struct diff_area *da, unsigned long from)
{
	unsigned long end, nr, ra = READ_ONCE(da->ra_next);

	if (!da->ra_chunks || from >= da->chunk_count)
		return;
	end = min(from + da->ra_chunks, da->chunk_count);
	nr = ra > from && ra < end ? ra : from;
	while (nr < end) {
		unsigned int n = diff_area_new_run(da, nr, end - 1,
						   da->op_chunks);
		struct diff_buffer *buf;
		struct chunk_op *op;
		unsigned int count;

		if (!n) {
			nr++;
			continue;
		}
		buf = diff_buffer_tryget(diff_area_run_bytes(da, nr, n), true);
		if (!buf)
			break;
		op = chunk_op_alloc(GFP_NOIO);
		count = diff_area_claim(da, op, nr, n);
		if (!count) {
			diff_buffer_put(buf);
			chunk_op_discard(op);
			nr++;
			continue;
		}
		op->buf = buf;
		chunk_op_start(op, false);
		nr += count;
	}
	WRITE_ONCE(da->ra_next, nr);
}

/* Read-ahead, queued by diff_area_readahead_start(). */
static void diff_area_ra_work(struct work_struct *work)
{
	struct diff_area *da = container_of(work, struct diff_area, ra_work);

	if (!diff_storage_failed(da->ds))
		diff_area_readahead(da, READ_ONCE(da->ra_from));
	diff_area_put(da);
}

/*
 * Read-ahead for a sequential writer about to reach chunk @from, in a
 * worker: setting up the copies (buffers, bios) then costs the writer
 * nothing, and they start on another CPU while its write goes on. Not
 * while more than half of the window ahead has been looked at already, so
 * that one run of the worker starts several copies, and not when nothing
 * in the window is new (rewrites): waking the worker costs more than this
 * look.
 */
static void diff_area_readahead_start(struct diff_area *da,
				      unsigned long from)
{
	unsigned long end, nr, ra = READ_ONCE(da->ra_next);

	if (!da->ra_chunks || from >= da->chunk_count ||
	    (ra > from + da->ra_chunks / 2 && ra <= from + da->ra_chunks))
		return;
	end = min(from + da->ra_chunks, da->chunk_count);
	nr = ra > from && ra < end ? ra : from;
	while (nr < end && diff_area_chunk_state(da, nr) != CHUNK_NEW)
		nr++;
	if (nr == end) {
		WRITE_ONCE(da->ra_next, end);
		return;
	}
	WRITE_ONCE(da->ra_from, from);
	diff_area_get(da);
	if (!queue_work(snapkeep_wq, &da->ra_work))
		diff_area_put(da);
}

static void cow_request_put(struct cow_request *req)
{
	if (!atomic_dec_and_test(&req->pending))
		return;
	filter_submit_own(req->bio);
	mempool_free(req, cow_request_pool);
	atomic_dec(&cow_held);
}

/* A copy the write waited for released it (or failed: the write goes on). */
static void cow_wait_fn(struct chunk_waiter *w, int error)
{
	struct cow_wait *cw = container_of(w, struct cow_wait, w);
	struct cow_request *req = cw->req;

	mempool_free(cw, cow_wait_pool);
	cow_request_put(req);
}

/*
 * Whether the submitter of a write waits for the reads of the copies it
 * starts and is released in its own context: a worker's wakeup in between
 * costs more than the read. Yes for one that sends one bio at a time: no
 * plug, or an empty one not started for a batch (6.1's blkdev_write_iter()
 * plugs every write). No for a batch under way (write-back, io_submit()):
 * the I/O workqueue releases its writes, so that the reads of its bios go
 * on in parallel; nor for kernel threads (the filter's own workers, or
 * dm-crypt's write thread, whose writes would otherwise wait for the
 * copies one after the other).
 */
static bool diff_area_wait_here(void)
{
	struct blk_plug *plug = current->plug;

	if (current->flags & PF_KTHREAD)
		return false;
	return !plug || (!plug->rq_count && plug->nr_ios <= 1 &&
			 list_empty(&plug->cb_list));
}

enum cow_mode diff_area_cow_mode(bool can_sleep)
{
	if (!can_sleep)
		return COW_NOSLEEP;
	return diff_area_wait_here() ? COW_INLINE : COW_ASYNC;
}

/*
 * COW_INLINE and COW_WAIT: copies in batches, each as large as the copy
 * memory allows right now (at least one copy: the first of a batch may
 * wait for memory, since the caller then holds nothing). A batch's reads
 * run in parallel; the caller waits for them and releases and stores the
 * copies itself, then goes on with the next batch. Copies of other writers
 * are waited for between batches, never while holding one of its own. So
 * a write of any size needs no more memory than one copy, and never waits
 * for itself. With @submit (COW_INLINE) the write is submitted here right
 * after the last release, before those copies' stores; returns COW_HELD
 * then, COW_PASS when the caller submits it.
 */
static enum cow_result diff_area_cow_inline(struct diff_area *da,
					    struct bio *bio,
					    unsigned long first,
					    unsigned long last, bool submit)
{
	struct chunk_op *op, *tmp;
	unsigned long nr = first;
	bool submitted = false;
	LIST_HEAD(batch);

	while (nr <= last) {
		/* Start a batch. */
		while (nr <= last) {
			struct cow_start s = {
				.wait = list_empty(&batch),
				.sync = true,
			};
			u8 state;
			int n;

			state = diff_area_chunk_state(da, nr);
			if (state >= CHUNK_IN_MEMORY) {
				nr++;
				continue;
			}
			if (state == CHUNK_COPYING) {
				if (!list_empty(&batch))
					break;
				diff_area_wait_copying(da, nr);
				continue;
			}
			n = diff_area_start_copy(da, nr, last, &s);
			if (n < 0 && s.wait) {
				/* No copy fits the budget: cannot happen (B6). */
				diff_storage_corrupt(da->ds, da->dev, ENOMEM);
				nr = last + 1;
			}
			if (n < 0)
				break;
			if (n) {
				list_add_tail(&s.op->link, &batch);
				nr += n;
			}
		}
		/* Finish it: reads, releases, stores. */
		list_for_each_entry_safe(op, tmp, &batch, link) {
			wait_for_completion_io(&op->read_done);
			if (!chunk_op_read_done(op)) {
				/* Failed, or released by the last image read. */
				list_del_init(&op->link);
				diff_area_wait_op(op, CHUNK_OP_RELEASED);
				chunk_op_put(op);
			}
		}
		if (submit && nr > last) {
			/* The write first, then the last copies' stores. */
			filter_submit_own(bio);
			submitted = true;
		}
		list_for_each_entry_safe(op, tmp, &batch, link) {
			list_del_init(&op->link);
			chunk_op_store(op);
			chunk_op_put(op);
		}
	}
	return submitted ? COW_HELD : COW_PASS;
}

/*
 * COW_ASYNC: the copies start (the submitter waits for memory only: its
 * copies finish without it), the write is held and submitted by whoever
 * releases it last (the I/O workqueue, usually). One copy at a time is
 * set up, its buffer reserved before its chunks are claimed.
 */
static enum cow_result diff_area_cow_async(struct diff_area *da,
					   struct bio *bio,
					   unsigned long first,
					   unsigned long last)
{
	struct cow_request *req = NULL;
	unsigned long nr = first;

	while (nr <= last) {
		u8 state = diff_area_chunk_state(da, nr);
		struct cow_start s = { .wait = true };
		struct cow_wait *cw;
		int n;

		if (state >= CHUNK_IN_MEMORY) {
			nr++;
			continue;
		}
		if (!req) {
			req = mempool_alloc(cow_request_pool, GFP_NOIO);
			atomic_inc(&cow_held);
			req->bio = bio;
			atomic_set(&req->pending, 1);
		}
		cw = mempool_alloc(cow_wait_pool, GFP_NOIO);
		cw->w.fn = cow_wait_fn;
		cw->req = req;
		if (state == CHUNK_NEW) {
			s.cw = cw;
			n = diff_area_start_copy(da, nr, last, &s);
			if (n > 0) {
				nr += n;
				continue;
			}
		} else {
			spinlock_t *lock = diff_area_chunk_lock(da, nr);
			struct chunk *c = &da->chunks[nr];
			unsigned long flags;

			spin_lock_irqsave(lock, flags);
			if (c->state == CHUNK_COPYING) {
				struct chunk_op *op = c->op;

				atomic_inc(&req->pending);
				if (chunk_op_add_waiter(op, &cw->w,
							CHUNK_OP_RELEASED)) {
					/* Once per copy, however many chunks. */
					nr = op->first + op->count;
					cw = NULL;
				} else {
					atomic_dec(&req->pending);
				}
			}
			spin_unlock_irqrestore(lock, flags);
			if (!cw)
				continue;
		}
		/* The chunk changed meanwhile: look at it again. */
		mempool_free(cw, cow_wait_pool);
	}
	if (!req)
		return COW_PASS;
	if (atomic_dec_and_test(&req->pending)) {
		mempool_free(req, cow_request_pool);
		atomic_dec(&cow_held);
		return COW_PASS;
	}
	return COW_HELD;
}

/*
 * Copy-on-write for a write of @count sectors at @sector of the original.
 * COW_PASS: the caller submits it now. COW_HELD: the module submits it
 * once the copies it needs are in memory. COW_DEFER: copies are needed
 * and @mode is COW_NOSLEEP. See enum cow_mode for the modes.
 */
enum cow_result diff_area_cow(struct diff_area *da, struct bio *bio,
			      sector_t sector, sector_t count,
			      enum cow_mode mode)
{
	unsigned int shift = da->chunk_shift - SECTOR_SHIFT;
	unsigned long first, last, seq_next;
	enum cow_result res;
	bool sequential;

	if (diff_storage_failed(da->ds) || sector >= da->capacity)
		return COW_PASS;
	count = min_t(sector_t, count, da->capacity - sector);
	first = sector >> shift;
	last = (sector + count - 1) >> shift;
	seq_next = READ_ONCE(da->seq_next);
	sequential = first == seq_next || first + 1 == seq_next;
	WRITE_ONCE(da->seq_next, last + 1);
	if (diff_area_copied(da, first, last)) {
		if (sequential && mode != COW_NOSLEEP)
			diff_area_readahead_start(da, last + 1);
		return COW_PASS;
	}
	switch (mode) {
	case COW_NOSLEEP:
		return COW_DEFER;
	case COW_ASYNC:
		res = diff_area_cow_async(da, bio, first, last);
		break;
	default:
		atomic_inc(&cow_inline);
		res = diff_area_cow_inline(da, bio, first, last,
					   mode == COW_INLINE);
		atomic_dec(&cow_inline);
		break;
	}
	if (sequential)
		diff_area_readahead_start(da, last + 1);
	return res;
}

/**
 * struct image_run - consecutive parts of an image bio that go to
 *	consecutive sectors of one device: sent as one clone.
 * @bdev: the device, NULL when there is no run.
 * @sector: where the run's first byte goes.
 * @iter: the image bio's position at the run's start.
 * @len: bytes.
 * @chunk: first chunk, for reads of the original.
 * @chunks: chunks counted in their readers, for reads of the original.
 * @origin: a read of the original device.
 */
struct image_run {
	struct block_device *bdev;
	sector_t sector;
	struct bvec_iter iter;
	unsigned int len;
	unsigned long chunk;
	unsigned int chunks;
	bool origin;
};

/* Image reads of the original end for chunks @first..: the copies go on. */
static void diff_area_readers_done(struct diff_area *da, unsigned long first,
				   unsigned int n)
{
	unsigned long flags, nr;

	for (nr = first; nr < first + n; nr++) {
		spinlock_t *lock = diff_area_chunk_lock(da, nr);
		struct chunk *c = &da->chunks[nr];

		spin_lock_irqsave(lock, flags);
		if (!--c->readers && (c->flags & CHUNK_WAIT_READERS)) {
			c->flags &= ~CHUNK_WAIT_READERS;
			chunk_op_readers_gone(c->op);
		}
		spin_unlock_irqrestore(lock, flags);
	}
}

/* A redirected run of an image bio ended. */
static void diff_area_clone_endio(struct bio *clone)
{
	struct image_clone *ic = container_of(clone, struct image_clone, bio);
	struct diff_area *da = ic->da;
	struct bio *parent = ic->parent;

	if (clone->bi_status)
		parent->bi_status = clone->bi_status;
	/*
	 * A read of the original that began before the snapshot broke (or
	 * was destroyed) may have raced with a write that no longer waited
	 * for a copy: its data cannot be trusted.
	 */
	if (ic->origin && diff_storage_failed(da->ds))
		parent->bi_status = BLK_STS_IOERR;
	if (ic->origin)
		diff_area_readers_done(da, ic->chunk, ic->chunks);
	if (ic->storage)
		diff_storage_io_end(da->ds);
	bio_put(clone);
	bio_endio(parent);
	diff_area_put(da);
}

/* Sends the run as a clone of @bio (no data copied). */
static int diff_area_run_flush(struct diff_area *da, struct bio *bio,
			       struct image_run *run)
{
	struct image_clone *ic;
	struct bio *clone;
	int ret;

	if (!run->bdev)
		return 0;
	if (!run->origin && !diff_storage_io_begin(da->ds)) {
		ret = -EIO;
		goto out_undo;
	}
	clone = bio_alloc_clone(run->bdev, bio, GFP_NOIO, &filter_clone_bioset);
	if (!clone) {
		if (!run->origin)
			diff_storage_io_end(da->ds);
		ret = -ENOMEM;
		goto out_undo;
	}
	clone->bi_iter = run->iter;
	clone->bi_iter.bi_sector = run->sector;
	clone->bi_iter.bi_size = run->len;
	clone->bi_end_io = diff_area_clone_endio;
	ic = container_of(clone, struct image_clone, bio);
	ic->da = diff_area_get(da);
	ic->parent = bio;
	ic->chunk = run->chunk;
	ic->chunks = run->chunks;
	ic->origin = run->origin;
	ic->storage = !run->origin;
	bio_inc_remaining(bio);
	run->bdev = NULL;
	filter_submit_own(clone);
	return 0;

out_undo:
	if (run->origin)
		diff_area_readers_done(da, run->chunk, run->chunks);
	run->bdev = NULL;
	return ret;
}

/*
 * Adds the next @len bytes of @bio, going to @sector of @bdev, to the run
 * (a read of the original for chunk @nr, already counted in its readers,
 * when @origin).
 */
static int diff_area_run_add(struct diff_area *da, struct bio *bio,
			     struct image_run *run, struct block_device *bdev,
			     sector_t sector, unsigned int len, unsigned long nr,
			     bool origin)
{
	int ret;

	if (run->bdev == bdev && run->origin == origin &&
	    run->sector + (run->len >> SECTOR_SHIFT) == sector &&
	    run->len + len > run->len) {
		run->len += len;
		if (origin)
			run->chunks++;
		return 0;
	}
	ret = diff_area_run_flush(da, bio, run);
	if (ret) {
		if (origin)
			diff_area_readers_done(da, nr, 1);
		return ret;
	}
	run->bdev = bdev;
	run->sector = sector;
	run->iter = bio->bi_iter;
	run->len = len;
	run->chunk = nr;
	run->chunks = origin ? 1 : 0;
	run->origin = origin;
	return 0;
}

/* Copies the next @len bytes of @bio from the buffer of @op. */
static void diff_area_copy(struct chunk_op *op, unsigned long nr,
			   unsigned int offset, struct bio *bio,
			   unsigned int len)
{
	struct bvec_iter it = bio->bi_iter;

	it.bi_size = len;
	diff_buffer_copy_bio(op->buf,
			     ((nr - op->first) << op->da->chunk_shift) + offset,
			     bio, it, true);
}

/*
 * Copies chunk @nr for an image write (worker context, holding nothing):
 * the buffer is reserved before the chunk is claimed. Returns when the
 * copy is done, or at once when the chunk was not NEW any more.
 */
static void diff_area_copy_for_write(struct diff_area *da, unsigned long nr)
{
	spinlock_t *lock = diff_area_chunk_lock(da, nr);
	struct chunk *c = &da->chunks[nr];
	struct diff_buffer *buf;
	struct image_wait iw;
	struct chunk_op *op;
	unsigned long flags;

	buf = diff_buffer_get(diff_area_run_bytes(da, nr, 1));
	op = chunk_op_alloc(GFP_NOIO);
	spin_lock_irqsave(lock, flags);
	if (c->state != CHUNK_NEW) {
		spin_unlock_irqrestore(lock, flags);
		diff_buffer_put(buf);
		chunk_op_discard(op);
		return;
	}
	chunk_op_setup(op, da, nr);
	c->op = op;
	op->count = 1;
	op->buf = buf;
	/* Pairs with diff_area_copied(). */
	smp_store_release(&c->state, CHUNK_COPYING);
	init_completion(&iw.done);
	iw.w.fn = image_wait_fn;
	chunk_op_add_waiter(op, &iw.w, CHUNK_OP_DONE);
	spin_unlock_irqrestore(lock, flags);
	chunk_op_start(op, false);
	wait_for_completion(&iw.done);
}

/*
 * One part of an image bio, within chunk @nr from byte @offset, @len
 * bytes: added to @run, or copied from a buffer. -EAGAIN: it must wait
 * and !@can_sleep.
 */
static int diff_area_image_part(struct diff_area *da, struct bio *bio,
				struct image_run *run, unsigned long nr,
				unsigned int offset, unsigned int len,
				bool can_sleep)
{
	bool write = op_is_write(bio_op(bio));
	spinlock_t *lock = diff_area_chunk_lock(da, nr);
	struct chunk *c = &da->chunks[nr];
	struct image_wait iw;
	struct block_device *bdev;
	struct chunk_op *op;
	unsigned long flags;
	sector_t sector;
	bool queued;
	int ret;

retry:
	spin_lock_irqsave(lock, flags);
	switch (c->state) {
	case CHUNK_NEW:
		if (write) {
			spin_unlock_irqrestore(lock, flags);
			diff_area_copy_for_write(da, nr);
			goto retry;
		}
		c->readers++;
		spin_unlock_irqrestore(lock, flags);
		ret = diff_area_run_add(da, bio, run, da->orig,
					bio->bi_iter.bi_sector, len, nr, true);
		if (can_sleep && param_test_image_read_delay_ms)
			msleep(param_test_image_read_delay_ms);
		break;
	case CHUNK_IN_MEMORY:
		if (!write) {
			/* The copy read it: the buffer holds the data. */
			op = chunk_op_get(c->op);
			spin_unlock_irqrestore(lock, flags);
			diff_area_copy(op, nr, offset, bio, len);
			chunk_op_put(op);
			ret = 0;
			break;
		}
		fallthrough;
	case CHUNK_COPYING:
		if (!can_sleep) {
			spin_unlock_irqrestore(lock, flags);
			ret = -EAGAIN;
			break;
		}
		op = chunk_op_get(c->op);
		init_completion(&iw.done);
		iw.w.fn = image_wait_fn;
		queued = chunk_op_add_waiter(op, &iw.w, write ? CHUNK_OP_DONE :
					     CHUNK_OP_RELEASED);
		spin_unlock_irqrestore(lock, flags);
		/*
		 * The reads of the original this bio counted so far go first:
		 * the copy may hold one of their chunks too, and then waits
		 * for them before it releases anyone.
		 */
		ret = diff_area_run_flush(da, bio, run);
		if (queued)
			wait_for_completion(&iw.done);
		if (write && !ret) {
			chunk_op_put(op);
			goto retry;
		}
		if (!ret)
			ret = READ_ONCE(op->error);
		if (!ret)
			diff_area_copy(op, nr, offset, bio, len);
		chunk_op_put(op);
		break;
	case CHUNK_STORED:
		spin_unlock_irqrestore(lock, flags);
		bdev = diff_storage_locate(da->ds, c->where, &sector);
		ret = diff_area_run_add(da, bio, run, bdev,
					sector + (offset >> SECTOR_SHIFT), len,
					nr, false);
		break;
	default:
		spin_unlock_irqrestore(lock, flags);
		ret = -EIO;
		break;
	}
	return ret;
}

/*
 * Serves the rest of an image bio (bio->bi_iter), then completes it.
 * Returns false, with the bio advanced past what was done, when a part
 * must wait and !@can_sleep: call again where waiting is allowed.
 */
bool diff_area_image_io(struct diff_area *da, struct bio *bio,
			bool can_sleep)
{
	unsigned int shift = da->chunk_shift - SECTOR_SHIFT;
	struct image_run run = {};
	int ret = 0, flushed;

	while (bio->bi_iter.bi_size) {
		sector_t sector = bio->bi_iter.bi_sector;
		unsigned long nr = sector >> shift;
		unsigned int offset, len;

		if (diff_storage_failed(da->ds) || sector >= da->capacity) {
			ret = -EIO;
			break;
		}
		offset = (sector - ((sector_t)nr << shift)) << SECTOR_SHIFT;
		len = min_t(unsigned int, bio->bi_iter.bi_size,
			    (diff_area_chunk_len(da, nr) << SECTOR_SHIFT) -
			    offset);
		ret = diff_area_image_part(da, bio, &run, nr, offset, len,
					   can_sleep);
		if (ret == -EAGAIN) {
			if (!diff_area_run_flush(da, bio, &run))
				return false;
			ret = -EIO;
			break;
		}
		if (ret)
			break;
		bio_advance_iter(bio, &bio->bi_iter, len);
	}
	flushed = diff_area_run_flush(da, bio, &run);
	if (!ret)
		ret = flushed;
	if (ret)
		bio->bi_status = errno_to_blk_status(ret);
	bio_endio(bio);
	return true;
}
