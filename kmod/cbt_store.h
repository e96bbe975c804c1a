/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The persistent store of a change map: its on-disk format, the attach
 * decision (continue or restart), write intent and the seal.
 */
#ifndef __SNAPKEEP_CBT_STORE_H
#define __SNAPKEEP_CBT_STORE_H

#include <linux/bio.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uuid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "snapkeep.h"
#include "compat.h"
#include "store_area.h"

struct cbt_map;
struct file;
struct storage_file;

/*
 * The on-disk format, version 1 (docs/kernel-module.md, "Persistent change
 * map"). All integers little-endian. The store is a sequence of 4096-byte
 * pages: page 0 and page 1 hold the two metadata copies (a write goes to
 * the slot sequence % 2, so a torn write never loses the newest valid
 * copy), the map starts at page 2, one byte per tracking block.
 */
#define CBT_STORE_MAGIC		0x42434b53	/* "SKCB" */
#define CBT_STORE_VERSION	1
#define CBT_STORE_PAGE		STORE_PAGE
#define CBT_STORE_PAGE_SECTORS	STORE_PAGE_SECTORS
#define CBT_STORE_MAP_PAGE	2

/* cbt_store_meta.flags */
#define CBT_STORE_SEALED	(1U << 0)	/* every map page written, map_crc valid */
#define CBT_STORE_INTENT	(1U << 1)	/* in use, writes waited for their pages */

/**
 * struct cbt_store_meta - one metadata copy, at the start of its page (the
 *	rest of the page is zero and covered by @crc).
 * @magic: CBT_STORE_MAGIC.
 * @version: CBT_STORE_VERSION; @magic, @version and @crc stay at these
 *	offsets in every version.
 * @crc: CRC32C (Castagnoli, seed ~0, inverted) of the whole 4096-byte
 *	page with this field zero.
 * @flags: CBT_STORE_SEALED, CBT_STORE_INTENT.
 * @sequence: one more at every metadata write; the valid copy with the
 *	highest sequence is the newest.
 * @capacity: size of the device in 512-byte sectors.
 * @logical_block_size: of the device, bytes.
 * @block_shift: log2 of the tracking block size in bytes.
 * @block_count: cells of the map.
 * @generation: the map's generation.
 * @number: the map's number.
 * @pad: zero.
 * @time: when this copy was written, seconds since the epoch.
 * @map_crc: CRC32C of the @block_count cells when sealed, else 0.
 * @page_size: 4096.
 * @map_offset: byte offset of the map in the store (8192).
 * @identity: given by user space at attach.
 */
struct cbt_store_meta {
	__le32 magic;
	__le32 version;
	__le32 crc;
	__le32 flags;
	__le64 sequence;
	__le64 capacity;
	__le32 logical_block_size;
	__le32 block_shift;
	__le64 block_count;
	u8 generation[16];
	u8 number;
	u8 pad[7];
	__le64 time;
	__le32 map_crc;
	__le32 page_size;
	__le64 map_offset;
	u8 identity[SNAPKEEP_PERSIST_IDENTITY_LEN];
} __packed;

/* How many map pages one flush writes at once (its buffers). */
#define CBT_STORE_BATCH		16

/**
 * struct cbt_store - the store of one tracker's map.
 * @kref: the tracker's reference, plus one per writer between its mark and
 *	its hold (filter.c).
 * @free_work: frees it in process context.
 * @orig: the tracked device (for messages).
 * @area: the store device, the pinned file, the extents (store_area.c).
 * @identity: the device's identity given at attach.
 * @capacity: the device's size in sectors at attach.
 * @lbs: the device's logical block size.
 * @flags: SNAPKEEP_PERSIST_* attach flags user space gave.
 * @intent: writes wait until their cells are durable.
 * @closed: sealed at detach: nothing is written any more.
 * @block_shift: the map's, when the store was attached.
 * @block_count: the map's cells, when the store was attached.
 * @map: the map the store mirrors (the tracker's); NULL once disabled.
 * @nr_pages: map pages.
 * @durable: the cells as they are on disk (what a crash now would load).
 * @dirty: map pages whose cells rose above @durable, to write.
 * @lock: protects @held.
 * @held: writes waiting for their pages, in arrival order.
 * @entering: writers that found their cells not durable and are on their
 *	way to cbt_store_hold(); a seal waits for them.
 * @wait: where the seal waits for @entering.
 * @work: writes the dirty pages and releases @held.
 * @io_lock: serialises the store's I/O and the fields below.
 * @failed: store I/O failed; writes no longer wait (read locklessly).
 * @sequence: of the metadata written last.
 * @meta_flags: of the metadata written last; CBT_STORE_SEALED while a
 *	seal in place stands.
 * @meta_number: number in the metadata written last.
 * @meta_generation: generation in the metadata written last.
 * @meta: the metadata page buffer.
 * @bufs: page buffers of a flush.
 * @state: SNAPKEEP_PERSIST_* flags of the attach's outcome.
 * @reason: SNAPKEEP_PERSIST_REASON_*.
 * @found_sequence: sequence of the newest valid copy found at attach.
 * @found_time: its time.
 */
struct cbt_store {
	struct kref kref;
	struct work_struct free_work;
	struct block_device *orig;
	struct store_area area;
	u8 identity[SNAPKEEP_PERSIST_IDENTITY_LEN];
	sector_t capacity;
	unsigned int lbs;
	u32 flags;
	bool intent;
	bool closed;
	unsigned int block_shift;
	unsigned long block_count;
	struct cbt_map *map;
	unsigned long nr_pages;
	u8 *durable;
	unsigned long *dirty;
	spinlock_t lock;	/* held */
	struct bio_list held;
	atomic_t entering;
	wait_queue_head_t wait;
	struct work_struct work;
	struct mutex io_lock;
	bool failed;
	u64 sequence;
	u32 meta_flags;
	u8 meta_number;
	uuid_t meta_generation;
	struct page *meta;
	struct page *bufs[CBT_STORE_BATCH];
	u32 state;
	u32 reason;
	u64 found_sequence;
	u64 found_time;
};

/**
 * struct cbt_store_args - what user space gave for a store.
 * @store_dev: the device the ranges are on.
 * @file: the store file (pinned), or NULL for raw ranges.
 * @ranges: the ranges, in store order.
 * @count: entries in @ranges.
 * @identity: the device's identity.
 * @flags: SNAPKEEP_PERSIST_* (attach flags).
 */
struct cbt_store_args {
	dev_t store_dev;
	struct file *file;
	const struct snapkeep_sectors *ranges;
	unsigned int count;
	const u8 *identity;
	u32 flags;
};

struct cbt_store *cbt_store_new(const struct cbt_store_args *args,
				struct block_device *orig,
				struct cbt_map *map);
void cbt_store_discard(struct cbt_store *s);
int cbt_store_attach(struct cbt_store *s, struct cbt_map *map);
void cbt_store_close(struct cbt_store *s);
void cbt_store_free(struct kref *kref);

static inline struct cbt_store *cbt_store_get(struct cbt_store *s)
{
	kref_get(&s->kref);
	return s;
}

static inline void cbt_store_put(struct cbt_store *s)
{
	if (s)
		kref_put(&s->kref, cbt_store_free);
}

bool cbt_store_enter(struct cbt_store *s, sector_t sector, sector_t count,
		     u8 number);
void cbt_store_leave(struct cbt_store *s);
void cbt_store_hold(struct cbt_store *s, struct bio *bio);
void cbt_store_note(struct cbt_store *s, sector_t sector, sector_t count,
		    u8 number);
int cbt_store_sync(struct cbt_store *s);
void cbt_store_restart(struct cbt_store *s);
void cbt_store_disable(struct cbt_store *s);
int cbt_store_seal_in_place(struct cbt_store *s, u64 *sequence);
u32 cbt_store_state(struct cbt_store *s);
u64 cbt_store_sequence(struct cbt_store *s);

/* Encoding, shared with the format check (cbt_store_format_check()). */
#define cbt_store_crc store_crc
int cbt_store_format_check(void);

#endif /* __SNAPKEEP_CBT_STORE_H */
