// SPDX-License-Identifier: GPL-2.0
/*
 * Persistent change maps: the store of a tracker's map, its format, the
 * attach decision, write intent and the seal.
 *
 * The store is a preallocated file (pinned, as snapshot storage files are,
 * diff_storage.c) or raw sector ranges, given as extents in store order.
 * The module writes it with its own bios (filter_io_bioset): the filter
 * passes them, so they are never marked nor copied, also when the store is
 * on the tracked device itself. Layout (cbt_store.h): two metadata copies
 * in pages 0 and 1, written alternately (dm-csum's pattern: a torn write
 * never loses the newest valid copy), then the map, one byte per cell.
 * Metadata and map pages never share a buffer nor a write
 * (dm-snap-persistent's rule for its header and commits).
 *
 * Attach reads both copies and continues the newest valid one when it is
 * of this format, of this device (identity, size, logical block size),
 * of the same geometry and either sealed (a clean detach) or written in
 * write-intent mode; otherwise the map restarts with a new generation and
 * the reason is kept for TRACKER_INFO2. Either way the metadata says "in
 * use" (not sealed) on disk before the tracker sees its first write.
 *
 * Write intent (md's write-intent bitmap): a write whose cells are not yet
 * durable at the current number, or that comes before the current number
 * itself is durable, is held (cbt_store_hold()) until a worker has written
 * the metadata and the map pages concerned with FUA; then it is released
 * to the filter's counted writes, in order. Cells only rise, so what is
 * on disk is at least what was written before: a crash over-reports,
 * never under-reports, and an unsealed store in write-intent mode can be
 * trusted. Writes to cells already durable cost a few loads.
 *
 * @durable mirrors the cells on disk; a writer reads it after marking its
 * cells (cbt_map_mark()), the worker updates it after a page write ended.
 * A writer that finds a cell below its number sets the page's dirty bit
 * before it holds its write, and the worker takes the held writes before
 * it looks at the dirty bits, so every held write's mark is in a page
 * written by that flush or a later one.
 *
 * Takes: the number rises under the filter's gate; snapshot_take() then
 * writes the metadata with the new number (cbt_store_sync()) before it
 * returns, so user space never records a number the store could forget,
 * and writes marked with it wait for that write (@meta_number). A restart
 * (number past 255) rewrites every page under a new generation between a
 * metadata write that says "not covered" and one that says "intent".
 *
 * Detach seals: every page written, then the metadata with SEALED and the
 * map's CRC, last, with a preflush and FUA.
 *
 * Seal in place (cbt_store_seal_in_place(), for a device a checkpoint
 * keeps from being detached at shutdown) writes the same seal and leaves
 * the tracker in the filter. Writers do not look at the seal: a write to
 * cells durable already changes nothing the seal covers and goes; any
 * other is held as above, and the flush that would write a page, a new
 * number or release a held write first writes a copy in write-intent mode
 * (not sealed), with a preflush and FUA. So the newest copy on disk is
 * never a seal whose map misses a write that was released.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-store: " fmt

#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "cbt_map.h"
#include "cbt_store.h"
#include "diff_storage.h"
#include "filter.h"
#include "main.h"
#include "snapimage.h"

static_assert(sizeof(struct cbt_store_meta) == 160);

/* Store page @pg: I/O counted in @io. */
static void cbt_store_submit(struct cbt_store *s, struct store_io *io,
			     unsigned long pg, struct page *page,
			     blk_opf_t opf)
{
	store_io_submit(&s->area, io, pg, page, opf);
}

/* ---- metadata ---- */

static void cbt_store_encode(struct cbt_store *s, void *buf, u32 flags,
			     u64 sequence, u32 map_crc)
{
	struct cbt_store_meta *m = buf;
	struct cbt_map *map = s->map;

	memset(buf, 0, CBT_STORE_PAGE);
	m->magic = cpu_to_le32(CBT_STORE_MAGIC);
	m->version = cpu_to_le32(CBT_STORE_VERSION);
	m->flags = cpu_to_le32(flags);
	m->sequence = cpu_to_le64(sequence);
	m->capacity = cpu_to_le64(s->capacity);
	m->logical_block_size = cpu_to_le32(s->lbs);
	m->block_shift = cpu_to_le32(s->block_shift);
	m->block_count = cpu_to_le64(s->block_count);
	export_uuid(m->generation, &map->generation);
	m->number = READ_ONCE(map->number);
	m->time = cpu_to_le64(ktime_get_real_seconds());
	m->map_crc = cpu_to_le32(map_crc);
	m->page_size = cpu_to_le32(CBT_STORE_PAGE);
	m->map_offset = cpu_to_le64((u64)CBT_STORE_MAP_PAGE * CBT_STORE_PAGE);
	memcpy(m->identity, s->identity, sizeof(m->identity));
	m->crc = cpu_to_le32(cbt_store_crc(buf, CBT_STORE_PAGE));
}

/* What a metadata page holds. */
enum cbt_store_slot {
	CBT_SLOT_EMPTY,		/* no magic: never written */
	CBT_SLOT_BAD,		/* magic, but a wrong CRC */
	CBT_SLOT_VALID,		/* CRC right (the version may be unknown) */
};

static enum cbt_store_slot cbt_store_decode(const void *buf)
{
	const struct cbt_store_meta *m = buf;
	u8 *copy;
	u32 crc;

	if (le32_to_cpu(m->magic) != CBT_STORE_MAGIC)
		return CBT_SLOT_EMPTY;
	crc = le32_to_cpu(m->crc);
	copy = kmemdup(buf, CBT_STORE_PAGE, GFP_KERNEL);
	if (!copy)
		return CBT_SLOT_BAD;
	((struct cbt_store_meta *)copy)->crc = 0;
	if (cbt_store_crc(copy, CBT_STORE_PAGE) != crc) {
		kfree(copy);
		return CBT_SLOT_BAD;
	}
	kfree(copy);
	return CBT_SLOT_VALID;
}

/*
 * Writes the next metadata copy (preflush: every page written before it is
 * durable first; FUA: it is durable on return). io_lock held.
 */
static int cbt_store_write_meta(struct cbt_store *s, u32 flags, u32 map_crc)
{
	struct store_io io;
	u64 seq = s->sequence + 1;
	int ret;

	cbt_store_encode(s, page_address(s->meta), flags, seq, map_crc);
	store_io_init(&io);
	cbt_store_submit(s, &io, seq & 1, s->meta,
			 REQ_OP_WRITE | REQ_SYNC | REQ_PREFLUSH | REQ_FUA);
	ret = store_io_wait(&io);
	if (ret)
		return ret;
	s->sequence = seq;
	s->meta_flags = flags;
	s->meta_generation = s->map->generation;
	/* Writers compare it with their number: see the top of the file. */
	WRITE_ONCE(s->meta_number, READ_ONCE(s->map->number));
	return 0;
}

/* ---- map pages ---- */

static unsigned long cbt_store_page_cells(struct cbt_store *s,
					  unsigned long idx)
{
	unsigned long first = idx * CBT_STORE_PAGE;

	return min_t(unsigned long, CBT_STORE_PAGE, s->block_count - first);
}

/*
 * Writes the dirty map pages (all of them with @all) with FUA, a batch at
 * a time, and raises @durable to what was written. io_lock held.
 */
static int cbt_store_write_pages(struct cbt_store *s, bool all)
{
	unsigned long idx = 0, batch[CBT_STORE_BATCH];
	unsigned int n, k;
	int ret = 0;

	if (all)
		bitmap_fill(s->dirty, s->nr_pages);
	while (!ret) {
		struct store_io io;

		store_io_init(&io);
		for (n = 0; n < CBT_STORE_BATCH; n++) {
			u8 *buf;

			idx = find_next_bit(s->dirty, s->nr_pages, idx);
			if (idx >= s->nr_pages)
				break;
			clear_bit(idx, s->dirty);
			/* Clear, then copy: a later mark sets it again. */
			smp_mb__after_atomic();
			buf = page_address(s->bufs[n]);
			memset(buf, 0, CBT_STORE_PAGE);
			memcpy(buf, READ_ONCE(s->map->active) +
			       idx * CBT_STORE_PAGE,
			       cbt_store_page_cells(s, idx));
			batch[n] = idx;
			cbt_store_submit(s, &io, CBT_STORE_MAP_PAGE + idx,
					 s->bufs[n],
					 REQ_OP_WRITE | REQ_SYNC | REQ_FUA);
			idx++;
		}
		ret = store_io_wait(&io);
		if (!n)
			break;
		if (ret)
			break;
		for (k = 0; k < n; k++)
			memcpy(s->durable + batch[k] * CBT_STORE_PAGE,
			       page_address(s->bufs[k]),
			       cbt_store_page_cells(s, batch[k]));
	}
	return ret;
}

/* Reads the map pages into @cells. */
static int cbt_store_read_pages(struct cbt_store *s, u8 *cells)
{
	unsigned long idx = 0;
	unsigned int n, k;
	int ret = 0;

	while (idx < s->nr_pages && !ret) {
		struct store_io io;
		unsigned long first = idx;

		store_io_init(&io);
		for (n = 0; n < CBT_STORE_BATCH && idx < s->nr_pages; n++)
			cbt_store_submit(s, &io, CBT_STORE_MAP_PAGE + idx++,
					 s->bufs[n], REQ_OP_READ);
		ret = store_io_wait(&io);
		for (k = 0; k < n && !ret; k++)
			memcpy(cells + (first + k) * CBT_STORE_PAGE,
			       page_address(s->bufs[k]),
			       cbt_store_page_cells(s, first + k));
	}
	return ret;
}

/* ---- failure, flush ---- */

/* Store I/O failed: writes stop waiting; the store is not trusted again. */
static void cbt_store_fail(struct cbt_store *s, int error)
{
	if (READ_ONCE(s->failed))
		return;
	WRITE_ONCE(s->failed, true);
	s->state |= SNAPKEEP_PERSIST_FAILED;
	pr_warn("store of %pg failed (%d): the change map is no longer kept across reboots\n",
		s->orig, error);
	/*
	 * Say "not covered" if the device still lets us: the next attach
	 * then restarts instead of trusting pages that may be missing.
	 */
	cbt_store_write_meta(s, 0, 0);
}

/*
 * Writes what the held writes need (the metadata first when the number
 * or the generation moved, then the dirty pages; every page with @all)
 * and releases them, in order. io_lock held.
 */
static int cbt_store_flush_locked(struct cbt_store *s, bool all)
{
	struct bio_list list;
	unsigned long flags;
	bool restart = false;
	struct bio *bio;
	int ret = 0;

	spin_lock_irqsave(&s->lock, flags);
	list = s->held;
	bio_list_init(&s->held);
	spin_unlock_irqrestore(&s->lock, flags);

	if (!READ_ONCE(s->failed) && s->map) {
		if (!uuid_equal(&s->meta_generation, &s->map->generation)) {
			/* Old pages must not count for the new generation. */
			restart = true;
			all = true;
			ret = cbt_store_write_meta(s, 0, 0);
		} else if ((s->meta_flags & CBT_STORE_SEALED) &&
			   (all || !bio_list_empty(&list) ||
			    !bitmap_empty(s->dirty, s->nr_pages) ||
			    s->meta_number != READ_ONCE(s->map->number))) {
			/*
			 * Sealed in place: unsealed, durably, before a page
			 * moves or a held write goes (a crash must not find
			 * a seal whose map misses it).
			 */
			ret = cbt_store_write_meta(s, CBT_STORE_INTENT, 0);
		} else if (s->meta_number != READ_ONCE(s->map->number)) {
			ret = cbt_store_write_meta(s, s->meta_flags, 0);
		}
		if (!ret)
			ret = cbt_store_write_pages(s, all);
		if (!ret && restart)
			ret = cbt_store_write_meta(s, s->intent ?
						   CBT_STORE_INTENT : 0, 0);
		if (ret)
			cbt_store_fail(s, ret);
	}
	while ((bio = bio_list_pop(&list)))
		filter_release_held(bio);
	return ret;
}

static void cbt_store_work(struct work_struct *work)
{
	struct cbt_store *s = container_of(work, struct cbt_store, work);

	mutex_lock(&s->io_lock);
	cbt_store_flush_locked(s, false);
	mutex_unlock(&s->io_lock);
}

/* ---- the write path ---- */

/* Cells of a sector range, clamped to the map; false when empty. */
static bool cbt_store_cells(struct cbt_store *s, sector_t sector,
			    sector_t count, unsigned long *first,
			    unsigned long *last)
{
	unsigned int shift = s->block_shift - SECTOR_SHIFT;

	if (!count || sector >= s->capacity)
		return false;
	if (count > s->capacity - sector)
		count = s->capacity - sector;
	*first = sector >> shift;
	*last = min_t(unsigned long, (sector + count - 1) >> shift,
		      s->block_count - 1);
	return true;
}

/*
 * Sets the dirty bit of every page holding a cell of the range that is
 * not durable at @number; whether there was one.
 */
static bool cbt_store_dirty(struct cbt_store *s, unsigned long first,
			    unsigned long last, u8 number)
{
	unsigned long i, pg;
	bool need = false;

	for (i = first; i <= last; i++) {
		if (READ_ONCE(s->durable[i]) >= number)
			continue;
		need = true;
		pg = i / CBT_STORE_PAGE;
		if (!test_bit(pg, s->dirty)) {
			/* The mark before the bit: pairs with the flush. */
			smp_mb__before_atomic();
			set_bit(pg, s->dirty);
		}
		/* On to the next page. */
		i = (pg + 1) * CBT_STORE_PAGE - 1;
	}
	return need;
}

/*
 * For a write to the tracked device, after it marked its cells with
 * @number (under rcu_read_lock()): true when it must be held until its
 * cells are durable; then the caller has a store reference and is counted
 * as entering, and calls cbt_store_hold() (or not) and cbt_store_leave().
 */
bool cbt_store_enter(struct cbt_store *s, sector_t sector, sector_t count,
		     u8 number)
{
	unsigned long first, last;
	bool need;

	if (!s->intent || READ_ONCE(s->failed) ||
	    !cbt_store_cells(s, sector, count, &first, &last))
		return false;
	need = cbt_store_dirty(s, first, last, number);
	if (READ_ONCE(s->meta_number) != number)
		need = true;
	if (!need)
		return false;
	cbt_store_get(s);
	atomic_inc(&s->entering);
	return true;
}

/* Ends what cbt_store_enter() started; any context. */
void cbt_store_leave(struct cbt_store *s)
{
	if (atomic_dec_and_test(&s->entering))
		wake_up_all(&s->wait);
	cbt_store_put(s);
}

/* Holds a counted write until the worker made its cells durable. */
void cbt_store_hold(struct cbt_store *s, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	bio_list_add(&s->held, bio);
	spin_unlock_irqrestore(&s->lock, flags);
	queue_work(snapkeep_wq, &s->work);
}

/*
 * Cells raised outside the write path (image writes, MARK_DIRTY): their
 * pages are written soon, nothing waits.
 */
void cbt_store_note(struct cbt_store *s, sector_t sector, sector_t count,
		    u8 number)
{
	unsigned long first, last;

	if (READ_ONCE(s->failed) || READ_ONCE(s->closed) ||
	    !cbt_store_cells(s, sector, count, &first, &last))
		return;
	if (cbt_store_dirty(s, first, last, number))
		queue_work(snapkeep_wq, &s->work);
}

/* Writes what is dirty now; -EIO when the store failed. */
int cbt_store_sync(struct cbt_store *s)
{
	mutex_lock(&s->io_lock);
	if (s->map)
		cbt_store_flush_locked(s, false);
	mutex_unlock(&s->io_lock);
	return READ_ONCE(s->failed) ? -EIO : 0;
}

/*
 * A take restarted the map (new generation, cells zero, number 1), under
 * the filter's gate: nothing on disk counts for it until the flush
 * rewrote every page.
 */
void cbt_store_restart(struct cbt_store *s)
{
	mutex_lock(&s->io_lock);
	memset(s->durable, 0, s->block_count);
	mutex_unlock(&s->io_lock);
}

/*
 * The device was resized: the map restarts in another geometry the store
 * was not made for. The store says "not covered" and is given up.
 */
void cbt_store_disable(struct cbt_store *s)
{
	mutex_lock(&s->io_lock);
	if (!s->map) {
		mutex_unlock(&s->io_lock);
		return;
	}
	cbt_store_flush_locked(s, false);
	if (!READ_ONCE(s->failed)) {
		cbt_store_write_meta(s, 0, 0);
		WRITE_ONCE(s->failed, true);
		s->state |= SNAPKEEP_PERSIST_FAILED;
		pr_warn("%pg was resized: its change map is no longer kept across reboots\n",
			s->orig);
	}
	s->map = NULL;
	mutex_unlock(&s->io_lock);
}

u32 cbt_store_state(struct cbt_store *s)
{
	u32 state;

	mutex_lock(&s->io_lock);
	state = s->state;
	if (s->intent && !READ_ONCE(s->failed))
		state |= SNAPKEEP_PERSIST_INTENT;
	if (s->map && !READ_ONCE(s->failed) && !READ_ONCE(s->closed) &&
	    (s->meta_flags & CBT_STORE_SEALED))
		state |= SNAPKEEP_PERSIST_SEALED;
	mutex_unlock(&s->io_lock);
	return state;
}

u64 cbt_store_sequence(struct cbt_store *s)
{
	u64 seq;

	mutex_lock(&s->io_lock);
	seq = s->sequence;
	mutex_unlock(&s->io_lock);
	return seq;
}

/* ---- attach ---- */

/*
 * Reads both metadata copies and decides: continue the map (its cells
 * loaded into @map) or restart it (@map untouched: fresh). Sets the
 * outcome fields and @sequence.
 */
static int cbt_store_load(struct cbt_store *s, struct cbt_map *map)
{
	const struct cbt_store_meta *best = NULL, *m;
	struct cbt_store_meta meta;
	enum cbt_store_slot slot[2];
	struct store_io io;
	bool seen = false;
	unsigned int i;
	u32 reason;
	int ret;

	store_io_init(&io);
	for (i = 0; i < 2; i++)
		cbt_store_submit(s, &io, i, s->bufs[i], REQ_OP_READ);
	ret = store_io_wait(&io);
	if (ret)
		return ret;
	for (i = 0; i < 2; i++) {
		m = page_address(s->bufs[i]);
		slot[i] = cbt_store_decode(m);
		if (slot[i] != CBT_SLOT_EMPTY)
			seen = true;
		if (slot[i] != CBT_SLOT_VALID)
			continue;
		if (!best || le64_to_cpu(m->sequence) >
			     le64_to_cpu(best->sequence))
			best = m;
	}
	if (!best) {
		reason = seen ? SNAPKEEP_PERSIST_REASON_CORRUPT :
				SNAPKEEP_PERSIST_REASON_NEW;
		goto restart;
	}
	s->sequence = le64_to_cpu(best->sequence);
	s->found_sequence = s->sequence;
	s->found_time = le64_to_cpu(best->time);
	if (le32_to_cpu(best->version) != CBT_STORE_VERSION)
		reason = SNAPKEEP_PERSIST_REASON_VERSION;
	else if (memcmp(best->identity, s->identity, sizeof(s->identity)))
		reason = SNAPKEEP_PERSIST_REASON_IDENTITY;
	else if (le64_to_cpu(best->capacity) != s->capacity ||
		 le32_to_cpu(best->logical_block_size) != s->lbs)
		reason = SNAPKEEP_PERSIST_REASON_SIZE;
	else if (le32_to_cpu(best->block_shift) != s->block_shift ||
		 le64_to_cpu(best->block_count) != s->block_count ||
		 le32_to_cpu(best->page_size) != CBT_STORE_PAGE ||
		 le64_to_cpu(best->map_offset) !=
		 (u64)CBT_STORE_MAP_PAGE * CBT_STORE_PAGE)
		reason = SNAPKEEP_PERSIST_REASON_GEOMETRY;
	else if (!(le32_to_cpu(best->flags) &
		   (CBT_STORE_SEALED | CBT_STORE_INTENT)))
		reason = SNAPKEEP_PERSIST_REASON_UNCLEAN;
	else if (s->flags & SNAPKEEP_PERSIST_RESTART)
		reason = SNAPKEEP_PERSIST_REASON_ABSENT;
	else
		reason = SNAPKEEP_PERSIST_REASON_NONE;
	if (reason)
		goto restart;

	/* The map, into the durable mirror first (through the buffers). */
	meta = *best;
	best = &meta;
	ret = cbt_store_read_pages(s, s->durable);
	if (ret)
		return ret;
	if ((le32_to_cpu(best->flags) & CBT_STORE_SEALED) &&
	    cbt_store_crc(s->durable, s->block_count) !=
	    le32_to_cpu(best->map_crc)) {
		memset(s->durable, 0, s->block_count);
		reason = SNAPKEEP_PERSIST_REASON_CORRUPT;
		goto restart;
	}
	memcpy(map->active, s->durable, s->block_count);
	memcpy(map->frozen, s->durable, s->block_count);
	import_uuid(&map->generation, best->generation);
	map->number = best->number;
	s->state = SNAPKEEP_PERSIST_ATTACHED | SNAPKEEP_PERSIST_CONTINUED;
	if (!(le32_to_cpu(best->flags) & CBT_STORE_SEALED))
		s->state |= SNAPKEEP_PERSIST_UNCLEAN;
	if (s->flags & SNAPKEEP_PERSIST_UNCHECKED)
		s->state |= SNAPKEEP_PERSIST_UNVERIFIED;
	s->reason = SNAPKEEP_PERSIST_REASON_NONE;
	return 0;

restart:
	s->state = SNAPKEEP_PERSIST_ATTACHED;
	s->reason = reason;
	return 0;
}

/* Frees what cbt_store_new() set up, before or after the load. */
static void cbt_store_release(struct cbt_store *s)
{
	unsigned int i;

	for (i = 0; i < CBT_STORE_BATCH; i++) {
		if (s->bufs[i])
			__free_page(s->bufs[i]);
		s->bufs[i] = NULL;
	}
	if (s->meta)
		__free_page(s->meta);
	s->meta = NULL;
	store_area_close(&s->area);
}

static void cbt_store_free_work(struct work_struct *work)
{
	struct cbt_store *s = container_of(work, struct cbt_store, free_work);

	cancel_work_sync(&s->work);
	bitmap_free(s->dirty);
	vfree(s->durable);
	kfree(s);
	module_put(THIS_MODULE);
}

/* The last reference went; any context. */
void cbt_store_free(struct kref *kref)
{
	struct cbt_store *s = container_of(kref, struct cbt_store, kref);

	INIT_WORK(&s->free_work, cbt_store_free_work);
	queue_work(snapkeep_io_wq, &s->free_work);
}

/*
 * A store for the map @map of device @orig: opened, checked, pinned; no
 * I/O yet (cbt_store_attach() reads and writes it). Put it with
 * cbt_store_discard() if it is never attached.
 */
struct cbt_store *cbt_store_new(const struct cbt_store_args *args,
				struct block_device *orig,
				struct cbt_map *map)
{
	struct cbt_store *s;
	unsigned int i;
	int ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	kref_init(&s->kref);
	spin_lock_init(&s->lock);
	bio_list_init(&s->held);
	atomic_set(&s->entering, 0);
	init_waitqueue_head(&s->wait);
	INIT_WORK(&s->work, cbt_store_work);
	mutex_init(&s->io_lock);
	memcpy(s->identity, args->identity, sizeof(s->identity));
	s->orig = orig;
	s->capacity = map->capacity;
	s->lbs = bdev_logical_block_size(orig);
	s->flags = args->flags;
	s->intent = !(args->flags & SNAPKEEP_PERSIST_NO_INTENT);
	s->block_shift = map->block_shift;
	s->block_count = map->block_count;
	s->nr_pages = DIV_ROUND_UP(s->block_count, CBT_STORE_PAGE);
	__module_get(THIS_MODULE);

	ret = store_area_open(&s->area, args->store_dev, args->file,
			      args->ranges, args->count);
	if (ret)
		goto out_free;
	ret = -ENOSPC;
	if (s->area.pages < CBT_STORE_MAP_PAGE + s->nr_pages)
		goto out_release;
	ret = -ENOMEM;
	s->durable = vzalloc(s->block_count);
	s->dirty = bitmap_zalloc(s->nr_pages, GFP_KERNEL);
	s->meta = alloc_page(GFP_KERNEL);
	if (!s->durable || !s->dirty || !s->meta)
		goto out_release;
	for (i = 0; i < CBT_STORE_BATCH; i++) {
		s->bufs[i] = alloc_page(GFP_KERNEL);
		if (!s->bufs[i])
			goto out_release;
	}
	return s;

out_release:
	cbt_store_release(s);
out_free:
	cbt_store_put(s);
	return ERR_PTR(ret);
}

/* Puts a store cbt_store_attach() never wrote to. */
void cbt_store_discard(struct cbt_store *s)
{
	cbt_store_release(s);
	cbt_store_put(s);
}

/*
 * Loads the store into @map (continue or restart, see the top of the
 * file) and writes the metadata "in use" durably; on a restart every map
 * page first. Before the tracker is in the filter. On failure the store
 * was released (put it).
 */
int cbt_store_attach(struct cbt_store *s, struct cbt_map *map)
{
	int ret;

	mutex_lock(&s->io_lock);
	s->map = map;
	ret = cbt_store_load(s, map);
	if (ret)
		goto out;
	if (s->state & SNAPKEEP_PERSIST_CONTINUED) {
		ret = cbt_store_write_meta(s, s->intent ? CBT_STORE_INTENT : 0,
					   0);
	} else {
		/* "Not covered" until every page of the new map is written. */
		ret = cbt_store_write_meta(s, 0, 0);
		if (!ret)
			ret = cbt_store_write_pages(s, true);
		if (!ret && s->intent)
			ret = cbt_store_write_meta(s, CBT_STORE_INTENT, 0);
	}
out:
	if (ret) {
		s->map = NULL;
		mutex_unlock(&s->io_lock);
		pr_warn("cannot use the store of %pg: %d\n", s->orig, ret);
		cbt_store_release(s);
		return ret == -ENOMEM ? ret : -EIO;
	}
	mutex_unlock(&s->io_lock);
	return 0;
}

/*
 * Detach: the tracker left the filter (no writer reaches the store any
 * more once the ones entering are through). Every page written, then the
 * metadata sealed, last, with the map's CRC. The store is released; the
 * tracker's reference is put with it.
 */
void cbt_store_close(struct cbt_store *s)
{
	int ret;

	wait_event(s->wait, !atomic_read(&s->entering));
	WRITE_ONCE(s->closed, true);
	mutex_lock(&s->io_lock);
	if (s->map) {
		ret = cbt_store_flush_locked(s, true);
		if (!ret && !READ_ONCE(s->failed))
			ret = cbt_store_write_meta(s, CBT_STORE_SEALED,
						   cbt_store_crc(s->durable,
								 s->block_count));
		if (ret)
			pr_warn("cannot seal the store of %pg: %d\n", s->orig,
				ret);
	}
	s->map = NULL;
	mutex_unlock(&s->io_lock);
	cancel_work_sync(&s->work);
	/* A write released by the last flush may still pass. */
	cbt_store_release(s);
}

/*
 * SEAL_IN_PLACE: the detach's seal with the tracker still in the filter.
 * Every page written, then the metadata sealed with the CRC of @durable
 * (what is on disk). A writer that marked a cell not durable meanwhile
 * holds its write, and the flush that releases it unseals first
 * (cbt_store_flush_locked()); one that found its cells durable is in the
 * sealed map. Only an intent-mode store may: nothing else would unseal it
 * before a write. The sequence of the seal in @sequence.
 */
int cbt_store_seal_in_place(struct cbt_store *s, u64 *sequence)
{
	int ret;

	mutex_lock(&s->io_lock);
	if (!s->map || READ_ONCE(s->closed) || READ_ONCE(s->failed)) {
		ret = -EIO;
	} else if (!s->intent) {
		ret = -EOPNOTSUPP;
	} else if (s->meta_flags & CBT_STORE_SEALED) {
		ret = -EALREADY;
	} else {
		ret = cbt_store_flush_locked(s, true);
		if (!ret && !READ_ONCE(s->failed))
			ret = cbt_store_write_meta(s, CBT_STORE_SEALED,
						   cbt_store_crc(s->durable,
								 s->block_count));
		if (ret) {
			pr_warn("cannot seal the store of %pg in place: %d\n",
				s->orig, ret);
			cbt_store_fail(s, ret);
			ret = -EIO;
		} else {
			*sequence = s->sequence;
		}
	}
	mutex_unlock(&s->io_lock);
	return ret;
}

/* ---- a check of the format at load ---- */

/*
 * The standard CRC-32C check value, and an encoded page that decodes as
 * valid, and not once a byte is flipped: a wrong build of the format is
 * refused at load instead of writing stores nobody can read.
 */
int cbt_store_format_check(void)
{
	static const char check[] = "123456789";
	struct cbt_store_meta *m;
	int ret = -EINVAL;
	u8 *page;

	if (cbt_store_crc(check, 9) != 0xe3069283) {
		pr_err("CRC32C gives %08x for the check string\n",
		       cbt_store_crc(check, 9));
		return -EINVAL;
	}
	page = kzalloc(CBT_STORE_PAGE, GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	m = (struct cbt_store_meta *)page;
	m->magic = cpu_to_le32(CBT_STORE_MAGIC);
	m->version = cpu_to_le32(CBT_STORE_VERSION);
	m->sequence = cpu_to_le64(7);
	m->crc = cpu_to_le32(cbt_store_crc(page, CBT_STORE_PAGE));
	if (cbt_store_decode(page) != CBT_SLOT_VALID)
		goto out;
	page[CBT_STORE_PAGE - 1] ^= 1;
	if (cbt_store_decode(page) != CBT_SLOT_BAD)
		goto out;
	ret = 0;
out:
	if (ret)
		pr_err("the store format check failed\n");
	kfree(page);
	return ret;
}
