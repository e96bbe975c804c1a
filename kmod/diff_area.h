/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The copy-on-write state of one device in a taken snapshot.
 */
#ifndef __SNAPKEEP_DIFF_AREA_H
#define __SNAPKEEP_DIFF_AREA_H

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/kref.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include "chunk.h"

struct diff_storage;
struct tracker;

#define DIFF_AREA_LOCKS		64

/**
 * struct diff_area - chunks of one device of a taken snapshot.
 * @kref: held by the snapshot, by its image, by every copy (chunk_op),
 *	every redirected image bio and every write being copied for; the
 *	filter takes one for the time it handles a bio. Released on
 *	snapkeep_io_wq (@release), so it may be dropped in any context.
 * @release: frees the area in process context.
 * @tracker: the device's tracker (a reference): for the change map of
 *	image writes.
 * @ds: the snapshot's difference storage and state (a reference).
 * @orig: the original device (kept open by @tracker).
 * @dev: its number.
 * @capacity: its size in sectors at the take: the size of the image.
 * @chunk_shift: log2 of the chunk size in bytes.
 * @chunk_count: number of chunks (the last may be short).
 * @op_chunks: most chunks copied by one chunk_op (cow_max_io_kb).
 * @ra_chunks: chunks copied ahead of a sequential writer (0: none).
 * @seq_next: the chunk after the last write's (a hint, no lock).
 * @ra_next: the first chunk the read-ahead has not looked at (a hint).
 * @ra_from: where the queued read-ahead starts (a hint).
 * @ra_work: the read-ahead, on snapkeep_wq; holds a reference while
 *	queued.
 * @logical_block_size: of the original, for the image.
 * @physical_block_size: of the original, for the image.
 * @copied: chunks stored so far (statistics).
 * @chunks: the chunk table, allocated at take, @chunk_count entries.
 * @locks: protect the chunks, chunk n under @locks[n % DIFF_AREA_LOCKS].
 */
struct diff_area {
	struct kref kref;
	struct work_struct release;
	struct tracker *tracker;
	struct diff_storage *ds;
	struct block_device *orig;
	dev_t dev;
	sector_t capacity;
	unsigned int chunk_shift;
	unsigned long chunk_count;
	unsigned int op_chunks;
	unsigned int ra_chunks;
	unsigned long seq_next;
	unsigned long ra_next;
	unsigned long ra_from;
	struct work_struct ra_work;
	unsigned int logical_block_size;
	unsigned int physical_block_size;
	atomic64_t copied;
	struct chunk *chunks;
	spinlock_t locks[DIFF_AREA_LOCKS];	/* the chunks, hashed */
};

/**
 * struct image_clone - a part of an image bio redirected to the original
 *	device or to the difference storage (front of the clone bio).
 * @da: the diff area (a reference).
 * @parent: the image bio; completes when all its parts have.
 * @chunk: the first chunk, for @origin.
 * @chunks: the chunks, for @origin.
 * @origin: a read of the original device, counted in the chunks' readers.
 * @storage: I/O to the difference storage, counted in its inflight.
 * @bio: the clone.
 */
struct image_clone {
	struct diff_area *da;
	struct bio *parent;
	unsigned long chunk;
	unsigned int chunks;
	bool origin;
	bool storage;
	struct bio bio;
};

enum cow_result {
	COW_PASS,	/* nothing (more) to copy: submit the write now */
	COW_HELD,	/* the module submits the write after the copy */
	COW_DEFER,	/* a copy is needed, but the caller cannot wait */
};

/**
 * enum cow_mode - how the submitter of a write that needs copies waits.
 * @COW_NOSLEEP: it may not sleep (inside another driver's submit path,
 *	REQ_NOWAIT): COW_DEFER when copies are needed.
 * @COW_INLINE: one bio at a time: the copies' reads are waited for and
 *	released here, the write is submitted here (COW_HELD).
 * @COW_ASYNC: a batch under way, or a kernel thread: the copies start,
 *	the write is held and submitted by whoever releases it last.
 * @COW_WAIT: like COW_INLINE, but the caller submits (COW_PASS): for a
 *	write that several diff areas must copy for.
 */
enum cow_mode {
	COW_NOSLEEP,
	COW_INLINE,
	COW_ASYNC,
	COW_WAIT,
};

int diff_area_init(void);
void diff_area_done(void);

struct diff_area *diff_area_new(struct tracker *t, struct diff_storage *ds);
void diff_area_free(struct kref *kref);

static inline struct diff_area *diff_area_get(struct diff_area *da)
{
	kref_get(&da->kref);
	return da;
}

static inline bool diff_area_tryget(struct diff_area *da)
{
	return kref_get_unless_zero(&da->kref);
}

static inline void diff_area_put(struct diff_area *da)
{
	if (da)
		kref_put(&da->kref, diff_area_free);
}

static inline unsigned int diff_area_chunk_sectors(struct diff_area *da)
{
	return 1U << (da->chunk_shift - SECTOR_SHIFT);
}

/* Sectors of chunk @nr (the last one may be short). */
static inline unsigned int diff_area_chunk_len(struct diff_area *da,
					       unsigned long nr)
{
	sector_t start = (sector_t)nr << (da->chunk_shift - SECTOR_SHIFT);

	return min_t(sector_t, diff_area_chunk_sectors(da),
		     da->capacity - start);
}

/* The state of chunk @nr, read without its lock (the write fast path). */
static inline u8 diff_area_chunk_state(struct diff_area *da, unsigned long nr)
{
	/* Acquire: pairs with the release of each state change (chunk.c). */
	return smp_load_acquire(&da->chunks[nr].state);
}

static inline spinlock_t *diff_area_chunk_lock(struct diff_area *da,
					       unsigned long nr)
{
	return &da->locks[nr % DIFF_AREA_LOCKS];
}

enum cow_mode diff_area_cow_mode(bool can_sleep);
int diff_area_show_held(char *buf, int len, int size);
enum cow_result diff_area_cow(struct diff_area *da, struct bio *bio,
			      sector_t sector, sector_t count,
			      enum cow_mode mode);
bool diff_area_range_copied(struct diff_area *da, sector_t sector,
			    sector_t count);
bool diff_area_image_io(struct diff_area *da, struct bio *bio,
			bool can_sleep);

#endif /* __SNAPKEEP_DIFF_AREA_H */
