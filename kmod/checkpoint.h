/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checkpoints: the old data of every chunk of a set of devices is saved,
 * write-ahead, before the chunk's first write, in a store that survives
 * reboots, so that the boot tool can roll the devices back.
 */
#ifndef __SNAPKEEP_CHECKPOINT_H
#define __SNAPKEEP_CHECKPOINT_H

#include <linux/bio.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uuid.h>
#include <linux/workqueue.h>

#include "ckpt_log.h"

struct checkpoint;
struct ckpt_batch;
struct file;
struct tracker;

/* Bytes of chunk buffers per checkpoint: the most one record saves. */
#define CKPT_BUFFER_BYTES	(2U << 20)
/* Chunk size of new checkpoints (64 KiB). */
#define CKPT_CHUNK_SHIFT	16

/**
 * struct ckpt_dev - one device of a checkpoint.
 * @ck: its checkpoint (not a reference: @ck owns this).
 * @t: the tracker (a reference).
 * @attached: the checkpoint attached the tracker (and detaches it).
 * @index: in the store's header.
 * @capacity: sectors.
 * @nr_chunks: chunks of the device.
 * @saved: one bit per chunk, set once its old data is committed; read
 *	locklessly by the write path, set by the worker only.
 *
 * Published as tracker->ckpt (RCU) from creation to the end.
 */
struct ckpt_dev {
	struct checkpoint *ck;
	struct tracker *t;
	bool attached;
	unsigned int index;
	sector_t capacity;
	unsigned long nr_chunks;
	unsigned long *saved;
};

/**
 * struct checkpoint - a checkpoint attached in the module.
 * @link: in the list of checkpoints (ckpt_mutex).
 * @kref: the list's reference, one per held write, one per caller.
 * @free_work: frees it in process context.
 * @state: SNAPKEEP_CKPT_ACTIVE, _INVALID, or 0 while being created or
 *	after the end; read locklessly by the write path, changed only by
 *	ckpt_set_state().
 * @resumed: re-attached from the store.
 * @chunk_shift: log2 of the chunk size.
 * @lock: protects @held.
 * @held: writes waiting for their chunks to be saved, in arrival order.
 * @work: saves chunks and releases @held.
 * @io_lock: serialises the store (@log) and @bufs.
 * @log: the store.
 * @bufs: pages for the chunks of one record.
 * @nr_bufs: entries in @bufs.
 * @batch: the chunks of the record being saved (io_lock).
 * @items: their log items (io_lock).
 * @nr_devs: entries in @devs.
 * @devs: the devices.
 *
 * Lifetime: created by SNAPKEEP_IOCTL_CKPT_CREATE, in the list until
 * commit or abandon, freed with the last reference (a held write's may
 * be the last).
 */
struct checkpoint {
	struct list_head link;
	struct kref kref;
	struct work_struct free_work;
	u32 state;
	bool resumed;
	unsigned int chunk_shift;
	spinlock_t lock;	/* held */
	struct bio_list held;
	struct work_struct work;
	struct mutex io_lock;
	struct ckpt_log log;
	struct page **bufs;
	unsigned int nr_bufs;
	struct ckpt_batch *batch;
	struct ckpt_log_item *items;
	unsigned int nr_devs;
	struct ckpt_dev devs[];
};

/**
 * struct ckpt_create_args - what user space gave for a checkpoint.
 * @devs: the devices.
 * @identities: their identities (SNAPKEEP_CKPT_IDENTITY_LEN bytes each).
 * @count: devices.
 * @store_dev: the device of the store's ranges.
 * @file: the store file, or NULL.
 * @ranges: the store's ranges.
 * @range_count: entries in @ranges.
 * @name: SNAPKEEP_CKPT_NAME_LEN bytes.
 * @resume: re-attach the checkpoint found in the store.
 */
struct ckpt_create_args {
	const dev_t *devs;
	const u8 (*identities)[SNAPKEEP_CKPT_IDENTITY_LEN];
	unsigned int count;
	dev_t store_dev;
	struct file *file;
	const struct snapkeep_sectors *ranges;
	unsigned int range_count;
	const u8 *name;
	bool resume;
};

int ckpt_create(const struct ckpt_create_args *args, uuid_t *id, u8 *name);
int ckpt_end(const uuid_t *id, u32 state);
int ckpt_info(const uuid_t *id, struct snapkeep_ckpt_info *info);
int ckpt_list(uuid_t *ids, unsigned int capacity, unsigned int *count);
int ckpt_show_all(char *buf, size_t size);

void ckpt_free(struct kref *kref);

static inline void ckpt_put(struct checkpoint *ck)
{
	if (ck)
		kref_put(&ck->kref, ckpt_free);
}

/* The write path (filter.c, tracker.c). */
struct checkpoint *ckpt_enter(struct ckpt_dev *cd, sector_t sector,
			      sector_t count);
void ckpt_hold(struct checkpoint *ck, struct bio *clone);
void ckpt_collect(struct tracker *t, sector_t sector, sector_t count,
		  struct ckpt_batch *b);

#endif /* __SNAPKEEP_CHECKPOINT_H */
