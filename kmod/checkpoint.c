// SPDX-License-Identifier: GPL-2.0
/*
 * Checkpoints: write-ahead saving of old data, for rollback at boot.
 *
 * A checkpoint covers one or more devices, each of them tracked (a
 * tracker is attached where none is). Its instant is taken as a
 * snapshot's: the file systems of every device's stack are frozen, the
 * filter's gate closes for the devices and the writes in flight to them
 * are waited for; the checkpoint becomes active; the gate opens, the file
 * systems thaw.
 *
 * While it is active, a write that touches a chunk whose old data is not
 * saved yet is held (ckpt_hold()) after it was counted and marked, like a
 * write waiting for its change map's store. The worker reads the old data
 * of the chunks the held writes need, with the module's own bios (no write
 * to them reached the device since the instant: they were all held),
 * writes it with its log entries as one record, commits the record with a
 * metadata write (preflush + FUA: ckpt_log.c), marks the chunks saved and
 * only then releases the writes to the filter's counted writes, where
 * the change map's store and a snapshot's copy-on-write see them next.
 * Writes to saved chunks pass with a few loads. Every record is durable
 * before a write it covers is released, so a cache flush or FUA of the
 * file system finds nothing of the checkpoint left to commit.
 *
 * Discards to chunks not saved are dropped (filter.c): unchanged is one
 * way of undefined, and saving free space would fill the store.
 *
 * When the store is full, or its I/O fails, the checkpoint becomes
 * invalid: the metadata says so (when it still can), writes are released
 * and no longer wait, a log line says why. Writes never fail because of a
 * checkpoint.
 *
 * States (ckpt_set_state() refuses every other move):
 *
 *	0 (creating) -> ACTIVE -> INVALID
 *	ACTIVE, INVALID -> 0 (ended: committed or abandoned on disk)
 *	0 (creating) -> 0 (the create failed)
 *
 * The list of checkpoints and every create and end are serialised by
 * ckpt_mutex, which is taken before the control lock, never after.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-ckpt: " fmt

#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "checkpoint.h"
#include "ctl.h"
#include "filter.h"
#include "holders.h"
#include "main.h"
#include "snapshot.h"
#include "tracker.h"

/* How long the instant waits for the writes in flight (as a take). */
#define CKPT_DRAIN_MS	30000

static LIST_HEAD(ckpt_list_head);
static DEFINE_MUTEX(ckpt_mutex);

static const char *const ckpt_state_names[] = {
	[0] = "none",
	[SNAPKEEP_CKPT_ACTIVE] = "active",
	[SNAPKEEP_CKPT_COMMITTED] = "committed",
	[SNAPKEEP_CKPT_ABANDONED] = "abandoned",
	[SNAPKEEP_CKPT_INVALID] = "invalid",
	[SNAPKEEP_CKPT_ROLLING_BACK] = "rolling-back",
	[SNAPKEEP_CKPT_ROLLED_BACK] = "rolled-back",
};

static const char *ckpt_state_name(u32 state)
{
	return state < ARRAY_SIZE(ckpt_state_names) ? ckpt_state_names[state] :
						      "?";
}

/*
 * The one place the in-memory state changes; -EINVAL for a move the state
 * machine does not have (a bug: warned once, nothing changes).
 */
static int ckpt_set_state(struct checkpoint *ck, u32 to)
{
	u32 from = ck->state;
	bool ok;

	switch (to) {
	case SNAPKEEP_CKPT_ACTIVE:
		ok = from == 0;
		break;
	case SNAPKEEP_CKPT_INVALID:
		ok = from == SNAPKEEP_CKPT_ACTIVE;
		break;
	case 0:
		ok = from == 0 || from == SNAPKEEP_CKPT_ACTIVE ||
		     from == SNAPKEEP_CKPT_INVALID;
		break;
	default:
		ok = false;
	}
	if (WARN_ONCE(!ok, "checkpoint state %s -> %s\n",
		      ckpt_state_name(from), ckpt_state_name(to)))
		return -EINVAL;
	WRITE_ONCE(ck->state, to);
	return 0;
}

/* ---- the write path ---- */

static void ckpt_chunks(struct ckpt_dev *cd, sector_t sector, sector_t count,
			unsigned long *first, unsigned long *last)
{
	unsigned int shift = cd->ck->chunk_shift - SECTOR_SHIFT;

	if (count > cd->capacity - sector)
		count = cd->capacity - sector;
	*first = sector >> shift;
	*last = (sector + count - 1) >> shift;
}

/* Whether every chunk of the range is saved; lockless. */
static bool ckpt_saved(struct ckpt_dev *cd, sector_t sector, sector_t count)
{
	unsigned long first, last, i;

	if (!count || sector >= cd->capacity)
		return true;
	ckpt_chunks(cd, sector, count, &first, &last);
	for (i = first; i <= last; i++)
		if (!test_bit(i, cd->saved))
			return false;
	return true;
}

/*
 * For a write to the device of @cd (under rcu_read_lock()): a reference on
 * the checkpoint when the write must wait for chunks to be saved, else
 * NULL.
 */
struct checkpoint *ckpt_enter(struct ckpt_dev *cd, sector_t sector,
			      sector_t count)
{
	struct checkpoint *ck = cd->ck;

	if (READ_ONCE(ck->state) != SNAPKEEP_CKPT_ACTIVE ||
	    ckpt_saved(cd, sector, count) || !kref_get_unless_zero(&ck->kref))
		return NULL;
	return ck;
}

/* Holds a counted write until its chunks are saved; any context. */
void ckpt_hold(struct checkpoint *ck, struct bio *clone)
{
	unsigned long flags;

	kref_get(&ck->kref);
	spin_lock_irqsave(&ck->lock, flags);
	bio_list_add(&ck->held, clone);
	spin_unlock_irqrestore(&ck->lock, flags);
	queue_work(snapkeep_wq, &ck->work);
}

/**
 * struct ckpt_batch - the chunks one record saves.
 * @ck: the checkpoint.
 * @n: chunks in @dev and @chunk.
 * @max: room.
 * @dev: their devices.
 * @chunk: their numbers.
 */
struct ckpt_batch {
	struct checkpoint *ck;
	unsigned int n;
	unsigned int max;
	struct ckpt_dev *dev[SNAPKEEP_CKPT_LOG_ENTRIES];
	unsigned long chunk[SNAPKEEP_CKPT_LOG_ENTRIES];
};

/*
 * The chunks of @t's part of a held write not saved yet join @b (for
 * filter_ckpt_parts(), under rcu_read_lock()).
 */
void ckpt_collect(struct tracker *t, sector_t sector, sector_t count,
		  struct ckpt_batch *b)
{
	struct ckpt_dev *cd = rcu_dereference(t->ckpt);
	unsigned long first, last, i;
	unsigned int k;

	if (!cd || cd->ck != b->ck || !count || sector >= cd->capacity)
		return;
	ckpt_chunks(cd, sector, count, &first, &last);
	for (i = first; i <= last && b->n < b->max; i++) {
		if (test_bit(i, cd->saved))
			continue;
		for (k = 0; k < b->n; k++)
			if (b->dev[k] == cd && b->chunk[k] == i)
				break;
		if (k == b->n) {
			b->dev[b->n] = cd;
			b->chunk[b->n++] = i;
		}
	}
}

/* Reads the old data of the batch's chunks into the buffers. io_lock held. */
static int ckpt_read(struct checkpoint *ck, struct ckpt_batch *b,
		     struct ckpt_log_item *items)
{
	unsigned int per = 1U << (ck->chunk_shift - PAGE_SHIFT);
	unsigned int i, k, crc_done;
	struct store_io io;
	int ret;

	store_io_init(&io);
	for (i = 0; i < b->n; i++) {
		struct ckpt_dev *cd = b->dev[i];
		sector_t start = (sector_t)b->chunk[i] <<
				 (ck->chunk_shift - SECTOR_SHIFT);
		unsigned int bytes, left;
		struct bio *bio;

		items[i].device = cd->index;
		items[i].sector = start;
		items[i].sectors = min_t(sector_t, cd->capacity - start,
					 1U << (ck->chunk_shift - SECTOR_SHIFT));
		items[i].pages = ck->bufs + i * per;
		bytes = items[i].sectors << SECTOR_SHIFT;
		items[i].nr_pages = DIV_ROUND_UP(bytes, PAGE_SIZE);
		bio = bio_alloc_bioset(cd->t->orig.bdev, items[i].nr_pages,
				       REQ_OP_READ, GFP_NOIO,
				       &filter_io_bioset);
		bio->bi_iter.bi_sector = start;
		for (k = 0, left = bytes; k < items[i].nr_pages; k++) {
			unsigned int len = min_t(unsigned int, left, PAGE_SIZE);

			/* The pad of a short last page is written as zeros. */
			if (len < PAGE_SIZE)
				memset(page_address(items[i].pages[k]), 0,
				       PAGE_SIZE);
			__bio_add_page(bio, items[i].pages[k], len, 0);
			left -= len;
		}
		store_io_add(&io, bio);
	}
	ret = store_io_wait(&io);
	if (ret)
		return ret;
	for (i = 0; i < b->n; i++) {
		u32 crc = 0;

		crc_done = items[i].sectors << SECTOR_SHIFT;
		for (k = 0; k < items[i].nr_pages; k++) {
			unsigned int len = min_t(unsigned int, crc_done,
						 PAGE_SIZE);

			crc = store_crc_more(crc,
					     page_address(items[i].pages[k]),
					     len);
			crc_done -= len;
		}
		items[i].data_crc = crc;
	}
	return 0;
}

/* Store full or failed: the checkpoint cannot be rolled back any more. */
static void ckpt_invalidate(struct checkpoint *ck, int error)
{
	u32 reason = error == -ENOSPC ? SNAPKEEP_CKPT_REASON_FULL :
					SNAPKEEP_CKPT_REASON_IO;
	int ret;

	if (ckpt_set_state(ck, SNAPKEEP_CKPT_INVALID))
		return;
	ret = ckpt_log_set_state(&ck->log, SNAPKEEP_CKPT_INVALID, reason);
	/* What INFO reports, also when the store did not take it. */
	ck->log.reason = reason;
	if (!ret)
		pr_warn("checkpoint %pUb is no longer valid: %s (%d); writes go on unsaved, a rollback will be refused\n",
			&ck->log.id, error == -ENOSPC ? "the store is full" :
			"store or device I/O failed", error);
	else
		pr_err("checkpoint %pUb is no longer valid: %s (%d), and its store did not take the state (%d): it still says active and must not be rolled back; writes go on unsaved\n",
		       &ck->log.id, error == -ENOSPC ? "the store is full" :
		       "store or device I/O failed", error, ret);
}

/*
 * Saves the chunks the held writes need (at most one record's worth),
 * then releases all of them: those still needing chunks come back.
 */
static void ckpt_work(struct work_struct *work)
{
	struct checkpoint *ck = container_of(work, struct checkpoint, work);
	struct ckpt_log_item *items = ck->items;
	struct ckpt_batch *b = ck->batch;
	struct bio_list list;
	struct bio *bio;
	unsigned int i;
	int ret = 0;

	spin_lock_irq(&ck->lock);
	list = ck->held;
	bio_list_init(&ck->held);
	spin_unlock_irq(&ck->lock);

	mutex_lock(&ck->io_lock);
	if (READ_ONCE(ck->state) != SNAPKEEP_CKPT_ACTIVE)
		goto out_unlock;
	b->ck = ck;
	b->n = 0;
	b->max = ck->nr_bufs >> (ck->chunk_shift - PAGE_SHIFT);
	bio_list_for_each(bio, &list)
		filter_ckpt_parts(bio, b);
	if (!b->n)
		goto out_unlock;
	ret = ckpt_read(ck, b, items);
	if (!ret)
		ret = ckpt_log_append(&ck->log, items, b->n);
	if (ret) {
		ckpt_invalidate(ck, ret);
		goto out_unlock;
	}
	/* Committed: writes to these chunks may pass from now on. */
	for (i = 0; i < b->n; i++)
		set_bit(b->chunk[i], b->dev[i]->saved);
out_unlock:
	mutex_unlock(&ck->io_lock);
	while ((bio = bio_list_pop(&list))) {
		filter_release_held(bio);
		ckpt_put(ck);
	}
}

/* ---- life cycle ---- */

static void ckpt_free_work(struct work_struct *work)
{
	struct checkpoint *ck = container_of(work, struct checkpoint,
					     free_work);
	unsigned int i;

	cancel_work_sync(&ck->work);
	ckpt_log_close(&ck->log);
	for (i = 0; i < ck->nr_devs; i++) {
		tracker_put(ck->devs[i].t);
		bitmap_free(ck->devs[i].saved);
	}
	for (i = 0; i < ck->nr_bufs; i++)
		if (ck->bufs[i])
			__free_page(ck->bufs[i]);
	kfree(ck->bufs);
	kfree(ck->items);
	kfree(ck->batch);
	kfree(ck);
	module_put(THIS_MODULE);
}

/* The last reference went; any context (a held write's completion path). */
void ckpt_free(struct kref *kref)
{
	struct checkpoint *ck = container_of(kref, struct checkpoint, kref);

	INIT_WORK(&ck->free_work, ckpt_free_work);
	queue_work(snapkeep_io_wq, &ck->free_work);
}

static struct checkpoint *ckpt_alloc(unsigned int count)
{
	struct checkpoint *ck;

	ck = kzalloc(struct_size(ck, devs, count), GFP_KERNEL);
	if (!ck)
		return NULL;
	kref_init(&ck->kref);
	INIT_LIST_HEAD(&ck->link);
	spin_lock_init(&ck->lock);
	bio_list_init(&ck->held);
	INIT_WORK(&ck->work, ckpt_work);
	mutex_init(&ck->io_lock);
	__module_get(THIS_MODULE);
	return ck;
}

/* Chunk buffers for one record; the chunk size is known. */
static int ckpt_alloc_buffers(struct checkpoint *ck)
{
	unsigned int per = 1U << (ck->chunk_shift - PAGE_SHIFT);
	unsigned int chunks = max_t(unsigned int, 1,
				    CKPT_BUFFER_BYTES >> ck->chunk_shift);
	unsigned int i;

	chunks = min_t(unsigned int, chunks, SNAPKEEP_CKPT_LOG_ENTRIES);
	ck->batch = kzalloc(sizeof(*ck->batch), GFP_KERNEL);
	ck->items = kcalloc(chunks, sizeof(*ck->items), GFP_KERNEL);
	if (!ck->batch || !ck->items)
		return -ENOMEM;
	ck->bufs = kcalloc(chunks * per, sizeof(*ck->bufs), GFP_KERNEL);
	if (!ck->bufs)
		return -ENOMEM;
	ck->nr_bufs = chunks * per;
	for (i = 0; i < ck->nr_bufs; i++) {
		ck->bufs[i] = alloc_page(GFP_KERNEL);
		if (!ck->bufs[i])
			return -ENOMEM;
	}
	return 0;
}

static int ckpt_alloc_maps(struct checkpoint *ck)
{
	unsigned int i;

	for (i = 0; i < ck->nr_devs; i++) {
		struct ckpt_dev *cd = &ck->devs[i];

		cd->nr_chunks = DIV_ROUND_UP_SECTOR_T(cd->capacity,
			1U << (ck->chunk_shift - SECTOR_SHIFT));
		cd->saved = bitmap_zalloc(cd->nr_chunks, GFP_KERNEL);
		if (!cd->saved)
			return -ENOMEM;
	}
	return 0;
}

/* ckpt_log_load() callback: a chunk saved before the reboot. */
static int ckpt_loaded(void *arg, u32 device, sector_t sector, u32 sectors)
{
	struct checkpoint *ck = arg;
	struct ckpt_dev *cd = &ck->devs[device];
	unsigned long first, last;

	ckpt_chunks(cd, sector, sectors, &first, &last);
	bitmap_set(cd->saved, first, last - first + 1);
	return 0;
}

/*
 * Trackers for the devices, each claimed for the checkpoint (published as
 * tracker->ckpt while the checkpoint is not active yet: nothing waits).
 * ckpt_mutex held.
 */
static int ckpt_claim(struct checkpoint *ck, const struct ckpt_create_args *a)
{
	unsigned int i, j;
	int ret = 0;

	for (i = 0; i < a->count; i++)
		for (j = 0; j < i; j++)
			if (a->devs[i] == a->devs[j])
				return -EINVAL;
	mutex_lock(&ctl_lock);
	for (i = 0; i < a->count; i++) {
		struct ckpt_dev *cd = &ck->devs[i];
		struct tracker *t;

		t = snapshot_tracker_get(a->devs[i], &cd->attached);
		if (IS_ERR(t)) {
			ret = PTR_ERR(t);
			break;
		}
		cd->t = t;
		cd->ck = ck;
		cd->index = i;
		ck->nr_devs++;
		if (rcu_access_pointer(t->ckpt)) {
			ret = -EBUSY;
			break;
		}
		if (bdev_logical_block_size(t->orig.bdev) > STORE_PAGE) {
			ret = -EINVAL;
			break;
		}
		cd->capacity = bdev_nr_sectors(t->orig.bdev);
		rcu_assign_pointer(t->ckpt, cd);
	}
	mutex_unlock(&ctl_lock);
	return ret;
}

/* Undoes ckpt_claim(); the checkpoint is not active. ckpt_mutex held. */
static void ckpt_unclaim(struct checkpoint *ck)
{
	unsigned int i;

	mutex_lock(&ctl_lock);
	for (i = 0; i < ck->nr_devs; i++) {
		struct tracker *t = ck->devs[i].t;

		if (rcu_access_pointer(t->ckpt) == &ck->devs[i])
			RCU_INIT_POINTER(t->ckpt, NULL);
	}
	synchronize_rcu();
	for (i = 0; i < ck->nr_devs; i++) {
		struct ckpt_dev *cd = &ck->devs[i];

		if (cd->attached && !cd->t->snapshot &&
		    !rcu_access_pointer(cd->t->ckpt))
			tracker_detach(cd->t);
		cd->attached = false;
	}
	mutex_unlock(&ctl_lock);
}

/*
 * The store must not be stacked on a device of the checkpoint (LVM, LUKS,
 * md above it): its writes would come back as writes to the device and
 * wait for themselves. On the same disk (the device itself, a partition
 * of a checkpointed whole disk, the whole disk of a checkpointed
 * partition) it is fine: the module's own bios pass the filter, and the
 * rollback leaves the store's sectors out.
 */
static int ckpt_store_check(struct checkpoint *ck,
			    struct block_device *store)
{
	struct holder_set stack = {};
	unsigned int i;
	int ret = 0;

	for (i = 0; i < ck->nr_devs; i++)
		if (ck->devs[i].t->orig.bdev->bd_disk == store->bd_disk)
			return 0;
	for (i = 0; i < ck->nr_devs && !ret; i++)
		ret = holders_collect(&stack, ck->devs[i].t->orig.bdev);
	if (!ret && holders_above(&stack, store->bd_dev))
		ret = -ELOOP;
	holders_free(&stack);
	return ret;
}

/* The instant: as a take, without switching maps. ckpt_mutex held. */
static int ckpt_activate(struct checkpoint *ck)
{
	struct holder_set stack = {};
	struct filter_take ft = {};
	struct tracker **trackers;
	unsigned int i;
	int ret;

	trackers = kcalloc(ck->nr_devs, sizeof(*trackers), GFP_KERNEL);
	if (!trackers)
		return -ENOMEM;
	for (i = 0; i < ck->nr_devs; i++)
		trackers[i] = ck->devs[i].t;
	ret = filter_take_prepare(&ft, trackers, ck->nr_devs);
	if (ret)
		goto out_free;
	for (i = 0; i < ck->nr_devs && !ret; i++)
		ret = holders_collect(&stack, trackers[i]->orig.bdev);
	if (ret)
		goto out_release;
	/* A resume at boot finds nothing mounted: the freeze does nothing. */
	holders_freeze(&stack);
	filter_gate_close(&ft);
	ret = filter_drain(&ft, CKPT_DRAIN_MS);
	if (!ret)
		ret = ckpt_set_state(ck, SNAPKEEP_CKPT_ACTIVE);
	filter_gate_open(&ft);
	holders_thaw(&stack);
out_release:
	holders_free(&stack);
	filter_take_release(&ft);
out_free:
	kfree(trackers);
	return ret;
}

/*
 * SNAPKEEP_IOCTL_CKPT_CREATE: a new checkpoint, or (@args->resume) the one
 * found in the store re-attached. @name receives the stored name.
 */
int ckpt_create(const struct ckpt_create_args *args, uuid_t *id, u8 *name)
{
	struct checkpoint *ck;
	unsigned int i;
	int ret;

	ck = ckpt_alloc(args->count);
	if (!ck)
		return -ENOMEM;
	mutex_lock(&ckpt_mutex);
	ret = ckpt_claim(ck, args);
	if (ret)
		goto out_unclaim;
	ret = ckpt_log_open(&ck->log, args->store_dev, args->file,
			    args->ranges, args->range_count);
	if (!ret)
		ret = ckpt_store_check(ck, ck->log.area.bdev.bdev);
	if (ret)
		goto out_unclaim;
	ck->log.nr_devices = ck->nr_devs;
	for (i = 0; i < ck->nr_devs; i++) {
		struct snapkeep_ckpt_device *d = &ck->log.devices[i];

		memcpy(d->identity, args->identities[i], sizeof(d->identity));
		d->capacity = cpu_to_le64(ck->devs[i].capacity);
		d->logical_block_size = cpu_to_le32(
			bdev_logical_block_size(ck->devs[i].t->orig.bdev));
	}
	mutex_lock(&ck->io_lock);
	if (args->resume) {
		ret = ckpt_log_load_head(&ck->log);
		if (!ret) {
			ck->chunk_shift = ck->log.chunk_shift;
			ret = ckpt_alloc_maps(ck);
		}
		if (!ret)
			ret = ckpt_log_load_records(&ck->log, ckpt_loaded, ck);
		ck->resumed = true;
	} else {
		ck->chunk_shift = CKPT_CHUNK_SHIFT;
		uuid_gen(&ck->log.id);
		memcpy(ck->log.name, args->name, sizeof(ck->log.name));
		ck->log.chunk_shift = ck->chunk_shift;
		ret = ckpt_alloc_maps(ck);
		if (!ret && ck->log.area.pages < SNAPKEEP_CKPT_FIRST_RECORD +
		    1 + (1U << (ck->chunk_shift - PAGE_SHIFT)))
			ret = -ENOSPC;
		if (!ret)
			ret = ckpt_log_format(&ck->log);
	}
	/* Room for one record of one chunk at least. */
	if (!ret && ck->log.area.pages < SNAPKEEP_CKPT_FIRST_RECORD + 1 +
	    (1U << (ck->chunk_shift - PAGE_SHIFT)))
		ret = -ENOSPC;
	if (!ret)
		ret = ckpt_alloc_buffers(ck);
	mutex_unlock(&ck->io_lock);
	if (ret)
		goto out_abandon;
	ret = ckpt_activate(ck);
	if (ret)
		goto out_abandon;
	*id = ck->log.id;
	memcpy(name, ck->log.name, sizeof(ck->log.name));
	list_add_tail(&ck->link, &ckpt_list_head);
	mutex_unlock(&ckpt_mutex);
	pr_info("checkpoint %pUb (%.*s) %s: %u device(s), %lu store pages, %llu chunks saved\n",
		&ck->log.id, SNAPKEEP_CKPT_NAME_LEN, ck->log.name,
		args->resume ? "re-attached" : "created", ck->nr_devs,
		ck->log.area.pages, ck->log.entries);
	return 0;

out_abandon:
	/* A new store that never protected anything says so. */
	if (!args->resume && ck->log.sequence) {
		mutex_lock(&ck->io_lock);
		ckpt_log_set_state(&ck->log, SNAPKEEP_CKPT_ABANDONED,
				   SNAPKEEP_CKPT_REASON_NONE);
		mutex_unlock(&ck->io_lock);
	}
out_unclaim:
	ckpt_unclaim(ck);
	/* Unpinned now: user space may retry with the same file at once. */
	ckpt_log_close(&ck->log);
	mutex_unlock(&ckpt_mutex);
	ckpt_put(ck);
	return ret;
}

/* The checkpoint @id in the list, or NULL. ckpt_mutex held. */
static struct checkpoint *ckpt_find(const uuid_t *id)
{
	struct checkpoint *ck;

	list_for_each_entry(ck, &ckpt_list_head, link)
		if (uuid_equal(&ck->log.id, id))
			return ck;
	return NULL;
}

/*
 * SNAPKEEP_IOCTL_CKPT_COMMIT / _ABANDON: the store records @state first;
 * if it cannot, an active checkpoint stays as it is (-EIO: ending it would
 * let writes go unsaved while the store still says active), an invalid
 * one ends anyway (it protects nothing; the boot tool refuses a store whose
 * log stops short of the writes). Then writes stop waiting, the held ones
 * go, the store is unpinned, and the trackers the checkpoint attached are
 * detached.
 */
int ckpt_end(const uuid_t *id, u32 state)
{
	struct checkpoint *ck;
	int ret;

	mutex_lock(&ckpt_mutex);
	ck = ckpt_find(id);
	if (!ck) {
		mutex_unlock(&ckpt_mutex);
		return -ENOENT;
	}
	mutex_lock(&ck->io_lock);
	ret = ckpt_log_set_state(&ck->log, state, SNAPKEEP_CKPT_REASON_NONE);
	if (ret) {
		pr_warn("checkpoint %pUb: cannot record %s in the store (%d)%s\n",
			id, ckpt_state_name(state), ret,
			ck->state == SNAPKEEP_CKPT_INVALID ?
			": ended anyway, it was invalid" : ": it stays");
		if (ck->state == SNAPKEEP_CKPT_INVALID)
			ret = 0;
		else
			ret = -EIO;
	}
	if (!ret)
		ret = ckpt_set_state(ck, 0);
	mutex_unlock(&ck->io_lock);
	if (ret) {
		mutex_unlock(&ckpt_mutex);
		return ret;
	}
	list_del_init(&ck->link);
	ckpt_unclaim(ck);
	/* Held writes are released by the worker, which now saves nothing. */
	flush_work(&ck->work);
	mutex_lock(&ck->io_lock);
	ckpt_log_close(&ck->log);
	mutex_unlock(&ck->io_lock);
	mutex_unlock(&ckpt_mutex);
	pr_info("checkpoint %pUb %s\n", id, ckpt_state_name(state));
	ckpt_put(ck);
	return 0;
}

int ckpt_info(const uuid_t *id, struct snapkeep_ckpt_info *info)
{
	struct checkpoint *ck;
	unsigned int i;

	mutex_lock(&ckpt_mutex);
	ck = ckpt_find(id);
	if (!ck) {
		mutex_unlock(&ckpt_mutex);
		return -ENOENT;
	}
	memset(info, 0, sizeof(*info));
	export_uuid(info->id.b, &ck->log.id);
	mutex_lock(&ck->io_lock);
	info->state = READ_ONCE(ck->state);
	info->reason = ck->log.reason;
	info->count = ck->nr_devs;
	info->chunk_size = 1U << ck->chunk_shift;
	info->created = ck->log.created;
	info->store_pages = ck->log.area.pages;
	info->used_pages = ck->log.tail;
	info->entries = ck->log.entries;
	info->records = ck->log.records;
	info->sequence = ck->log.sequence;
	memcpy(info->name, ck->log.name, sizeof(info->name));
	mutex_unlock(&ck->io_lock);
	if (ck->resumed)
		info->flags |= SNAPKEEP_CKPT_INFO_RESUMED;
	for (i = 0; i < ck->nr_devs; i++) {
		info->devs[i].major = MAJOR(ck->devs[i].t->dev);
		info->devs[i].minor = MINOR(ck->devs[i].t->dev);
	}
	mutex_unlock(&ckpt_mutex);
	return 0;
}

int ckpt_list(uuid_t *ids, unsigned int capacity, unsigned int *count)
{
	struct checkpoint *ck;
	unsigned int n = 0;

	mutex_lock(&ckpt_mutex);
	list_for_each_entry(ck, &ckpt_list_head, link) {
		if (n < capacity)
			ids[n] = ck->log.id;
		n++;
	}
	mutex_unlock(&ckpt_mutex);
	*count = n;
	return 0;
}

/* /sys/kernel/snapkeep/checkpoints: one line per checkpoint. */
int ckpt_show_all(char *buf, size_t size)
{
	struct checkpoint *ck;
	unsigned int i;
	int len = 0;

	mutex_lock(&ckpt_mutex);
	list_for_each_entry(ck, &ckpt_list_head, link) {
		len += scnprintf(buf + len, size - len, "%pUb %s name=%.*s devices=",
				 &ck->log.id,
				 ckpt_state_name(READ_ONCE(ck->state)),
				 SNAPKEEP_CKPT_NAME_LEN, ck->log.name);
		for (i = 0; i < ck->nr_devs; i++)
			len += scnprintf(buf + len, size - len, "%s%u:%u",
					 i ? "," : "",
					 MAJOR(ck->devs[i].t->dev),
					 MINOR(ck->devs[i].t->dev));
		mutex_lock(&ck->io_lock);
		len += scnprintf(buf + len, size - len,
				 " chunk=%u store_pages=%lu used=%llu entries=%llu reason=%u\n",
				 1U << ck->chunk_shift, ck->log.area.pages,
				 ck->log.tail, ck->log.entries, ck->log.reason);
		mutex_unlock(&ck->io_lock);
	}
	mutex_unlock(&ckpt_mutex);
	return len;
}
