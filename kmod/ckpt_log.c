// SPDX-License-Identifier: GPL-2.0
/*
 * The checkpoint log: the store of a checkpoint on disk.
 *
 * Layout (include/uapi/snapkeep_ckpt.h has the structures, the docs the
 * prose): page 0 the header, written once at creation; pages 1 and 2 the
 * metadata copies, written alternately (an odd sequence to page 1, an
 * even one to page 2), so a torn metadata write leaves the previous copy;
 * from page 3 the records, each a log page followed by the old data of its
 * entries.
 *
 * A record is committed by the metadata copy that counts it: the data and
 * the log page are written first, then the metadata with a preflush (what
 * came before is durable) and FUA (it is durable on return). Only then may
 * the writes waiting for these chunks go to the device: the write-ahead
 * rule. A power cut before the metadata write leaves a record the
 * metadata does not count, which nothing reads.
 *
 * The header, the metadata and the log page each have their own page
 * buffer and their own bio: a header write can never carry a half-built
 * commit, nor a commit a stale header (seed 004, dm-snap-persistent's
 * race between its header and commit writes sharing one buffer).
 *
 * Every page carries the checkpoint's id and a CRC32C: a page of another
 * checkpoint that used the same store, or a damaged one, is refused. The
 * boot tool reads the same format (kmod/boot/boot_ckpt.c) and validates
 * all of it before it writes anything back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-ckpt: " fmt

#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "ckpt_log.h"

static_assert(sizeof(struct snapkeep_ckpt_device) == 80);
static_assert(sizeof(struct snapkeep_ckpt_header) <= STORE_PAGE);
static_assert(sizeof(struct snapkeep_ckpt_meta) == 88);
static_assert(sizeof(struct snapkeep_ckpt_entry) == 32);
static_assert(sizeof(struct snapkeep_ckpt_log) == 64);
static_assert(SNAPKEEP_CKPT_PAGE == STORE_PAGE);

/* Offset of the crc field, the same in every page of the format. */
#define CKPT_CRC_OFFSET	8

/* CRC32C of a page with its crc field taken as zero. */
static u32 ckpt_page_crc(const void *page)
{
	static const u8 zero[4];
	u32 crc;

	crc = store_crc(page, CKPT_CRC_OFFSET);
	crc = store_crc_more(crc, zero, sizeof(zero));
	return store_crc_more(crc, (const u8 *)page + CKPT_CRC_OFFSET + 4,
			      STORE_PAGE - CKPT_CRC_OFFSET - 4);
}

static void ckpt_page_seal(void *page)
{
	__le32 *crc = (__le32 *)((u8 *)page + CKPT_CRC_OFFSET);

	*crc = cpu_to_le32(ckpt_page_crc(page));
}

/* Magic, version and CRC of a page. */
static bool ckpt_page_valid(const void *page, u32 magic)
{
	const __le32 *w = page;

	return le32_to_cpu(w[0]) == magic &&
	       le32_to_cpu(w[1]) == SNAPKEEP_CKPT_VERSION &&
	       le32_to_cpu(w[2]) == ckpt_page_crc(page);
}

static u32 ckpt_entry_crc(const uuid_t *id, const struct snapkeep_ckpt_entry *e)
{
	struct snapkeep_ckpt_entry copy = *e;

	copy.crc = 0;
	return store_crc_more(store_crc(id, sizeof(*id)), &copy, sizeof(copy));
}

/* One page of I/O, waited for. */
static int ckpt_log_io(struct ckpt_log *l, unsigned long pg,
		       struct page *page, blk_opf_t opf)
{
	struct store_io io;

	store_io_init(&io);
	store_io_submit(&l->area, &io, pg, page, opf);
	return store_io_wait(&io);
}

int ckpt_log_open(struct ckpt_log *l, dev_t store_dev, struct file *file,
		  const struct snapkeep_sectors *ranges, unsigned int count)
{
	int ret;

	ret = store_area_open(&l->area, store_dev, file, ranges, count);
	if (ret)
		return ret;
	ret = -ENOSPC;
	/* The header, the metadata and one record of one chunk at least. */
	if (l->area.pages < SNAPKEEP_CKPT_FIRST_RECORD + 5)
		goto out_close;
	ret = -ENOMEM;
	l->header = alloc_page(GFP_KERNEL | __GFP_ZERO);
	l->meta = alloc_page(GFP_KERNEL | __GFP_ZERO);
	l->logp = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!l->header || !l->meta || !l->logp)
		goto out_close;
	return 0;

out_close:
	ckpt_log_close(l);
	return ret;
}

/* Unpins the store file, frees the buffers; safe on a closed log. */
void ckpt_log_close(struct ckpt_log *l)
{
	if (l->header)
		__free_page(l->header);
	if (l->meta)
		__free_page(l->meta);
	if (l->logp)
		__free_page(l->logp);
	l->header = NULL;
	l->meta = NULL;
	l->logp = NULL;
	store_area_close(&l->area);
}

/* The next metadata copy, with preflush and FUA. */
static int ckpt_log_write_meta(struct ckpt_log *l, u32 state, u32 reason,
			       u64 records, u64 entries, u64 tail)
{
	struct snapkeep_ckpt_meta *m = page_address(l->meta);
	u64 seq = l->sequence + 1;
	int ret;

	memset(m, 0, STORE_PAGE);
	m->magic = cpu_to_le32(SNAPKEEP_CKPT_META_MAGIC);
	m->version = cpu_to_le32(SNAPKEEP_CKPT_VERSION);
	m->state = cpu_to_le32(state);
	m->sequence = cpu_to_le64(seq);
	export_uuid(m->id, &l->id);
	m->records = cpu_to_le64(records);
	m->entries = cpu_to_le64(entries);
	m->tail = cpu_to_le64(tail);
	m->time = cpu_to_le64(ktime_get_real_seconds());
	m->reason = cpu_to_le32(reason);
	ckpt_page_seal(m);
	ret = ckpt_log_io(l, (seq & 1) ? 1 : 2, l->meta,
			  REQ_OP_WRITE | REQ_SYNC | REQ_PREFLUSH | REQ_FUA);
	if (ret)
		return ret;
	l->sequence = seq;
	l->state = state;
	l->reason = reason;
	l->records = records;
	l->entries = entries;
	l->tail = tail;
	return 0;
}

/*
 * A new checkpoint (id, name, devices, chunk_shift set by the caller): the
 * header, then the first metadata copy, active, no record.
 */
int ckpt_log_format(struct ckpt_log *l)
{
	struct snapkeep_ckpt_header *h = page_address(l->header);
	int ret;

	l->created = ktime_get_real_seconds();
	memset(h, 0, STORE_PAGE);
	h->magic = cpu_to_le32(SNAPKEEP_CKPT_HEADER_MAGIC);
	h->version = cpu_to_le32(SNAPKEEP_CKPT_VERSION);
	h->nr_devices = cpu_to_le32(l->nr_devices);
	export_uuid(h->id, &l->id);
	h->created = cpu_to_le64(l->created);
	h->store_pages = cpu_to_le64(l->area.pages);
	h->chunk_shift = cpu_to_le32(l->chunk_shift);
	memcpy(h->name, l->name, sizeof(h->name));
	memcpy(h->devices, l->devices, l->nr_devices * sizeof(h->devices[0]));
	ckpt_page_seal(h);
	ret = ckpt_log_io(l, 0, l->header,
			  REQ_OP_WRITE | REQ_SYNC | REQ_PREFLUSH | REQ_FUA);
	if (ret)
		return ret;
	/* Whatever an older checkpoint left in pages 1 and 2 has another id. */
	l->sequence = 0;
	return ckpt_log_write_meta(l, SNAPKEEP_CKPT_ACTIVE,
				   SNAPKEEP_CKPT_REASON_NONE, 0, 0,
				   SNAPKEEP_CKPT_FIRST_RECORD);
}

/* The header of an existing checkpoint, against what the caller expects. */
static int ckpt_log_load_header(struct ckpt_log *l)
{
	const struct snapkeep_ckpt_header *h = page_address(l->header);
	unsigned int i, shift;
	int ret;

	ret = ckpt_log_io(l, 0, l->header, REQ_OP_READ);
	if (ret)
		return ret;
	if (!ckpt_page_valid(h, SNAPKEEP_CKPT_HEADER_MAGIC)) {
		pr_warn("store: no valid checkpoint header\n");
		return -EUCLEAN;
	}
	shift = le32_to_cpu(h->chunk_shift);
	if (le64_to_cpu(h->store_pages) != l->area.pages ||
	    shift < 12 || shift > 20) {
		pr_warn("store: header of another store size or chunk size\n");
		return -EUCLEAN;
	}
	if (le32_to_cpu(h->nr_devices) != l->nr_devices) {
		pr_warn("store: the checkpoint has %u devices, not %u\n",
			le32_to_cpu(h->nr_devices), l->nr_devices);
		return -EXDEV;
	}
	for (i = 0; i < l->nr_devices; i++) {
		if (memcmp(&h->devices[i], &l->devices[i],
			   sizeof(h->devices[i]))) {
			pr_warn("store: device %u is not the one the checkpoint was made of (identity, size or logical block size)\n",
				i);
			return -EXDEV;
		}
	}
	import_uuid(&l->id, h->id);
	l->created = le64_to_cpu(h->created);
	l->chunk_shift = shift;
	memcpy(l->name, h->name, sizeof(l->name));
	return 0;
}

/* The newest valid metadata copy of this checkpoint into @l. */
static int ckpt_log_load_meta(struct ckpt_log *l)
{
	const struct snapkeep_ckpt_meta *m = page_address(l->meta);
	struct snapkeep_ckpt_meta best = {};
	bool found = false;
	unsigned int i;
	int ret;

	for (i = 1; i <= 2; i++) {
		ret = ckpt_log_io(l, i, l->meta, REQ_OP_READ);
		if (ret)
			return ret;
		if (!ckpt_page_valid(m, SNAPKEEP_CKPT_META_MAGIC) ||
		    memcmp(m->id, l->id.b, sizeof(m->id)))
			continue;
		if (!found || le64_to_cpu(m->sequence) >
			      le64_to_cpu(best.sequence))
			best = *m;
		found = true;
	}
	if (!found) {
		pr_warn("store: no valid metadata copy\n");
		return -EUCLEAN;
	}
	l->sequence = le64_to_cpu(best.sequence);
	l->state = le32_to_cpu(best.state);
	l->reason = le32_to_cpu(best.reason);
	l->records = le64_to_cpu(best.records);
	l->entries = le64_to_cpu(best.entries);
	l->tail = le64_to_cpu(best.tail);
	if (l->tail < SNAPKEEP_CKPT_FIRST_RECORD || l->tail > l->area.pages ||
	    l->records > l->tail || l->entries > l->tail) {
		pr_warn("store: metadata out of range\n");
		return -EUCLEAN;
	}
	return 0;
}

/* Checks the record at page @pg (number @rec) and calls @fn per entry. */
static int ckpt_log_load_record(struct ckpt_log *l, u64 rec, u64 *pg,
				u64 *entry, ckpt_log_entry_fn fn, void *arg)
{
	const struct snapkeep_ckpt_log *lp = page_address(l->logp);
	const struct snapkeep_ckpt_entry *e = (const void *)(lp + 1);
	u64 next = *pg + 1;
	unsigned int i, count;
	int ret;

	ret = ckpt_log_io(l, *pg, l->logp, REQ_OP_READ);
	if (ret)
		return ret;
	count = le32_to_cpu(lp->count);
	if (!ckpt_page_valid(lp, SNAPKEEP_CKPT_LOG_MAGIC) ||
	    memcmp(lp->id, l->id.b, sizeof(lp->id)) ||
	    le64_to_cpu(lp->record) != rec ||
	    le64_to_cpu(lp->first_entry) != *entry ||
	    !count || count > SNAPKEEP_CKPT_LOG_ENTRIES)
		goto bad;
	for (i = 0; i < count; i++, e++) {
		u32 dev = le32_to_cpu(e->device);
		u32 sectors = le32_to_cpu(e->sectors);
		u64 sector = le64_to_cpu(e->sector);

		if (le32_to_cpu(e->crc) != ckpt_entry_crc(&l->id, e) ||
		    dev >= l->nr_devices || !sectors ||
		    sectors > (1U << (l->chunk_shift - SECTOR_SHIFT)) ||
		    sector + sectors >
		    le64_to_cpu(l->devices[dev].capacity) ||
		    le64_to_cpu(e->store_page) != next)
			goto bad;
		next += DIV_ROUND_UP(sectors, STORE_PAGE_SECTORS);
		if (next > l->tail)
			goto bad;
		ret = fn(arg, dev, sector, sectors);
		if (ret)
			return ret;
	}
	*pg = next;
	*entry += count;
	return 0;
bad:
	pr_warn("store: log record %llu at page %llu does not check\n", rec,
		*pg);
	return -EUCLEAN;
}

/*
 * Re-attach (resume), first part: the header must be of these devices
 * (set by the caller in @devices, @nr_devices), the newest metadata copy
 * active.
 */
int ckpt_log_load_head(struct ckpt_log *l)
{
	int ret;

	ret = ckpt_log_load_header(l);
	if (!ret)
		ret = ckpt_log_load_meta(l);
	if (ret)
		return ret;
	if (l->state != SNAPKEEP_CKPT_ACTIVE) {
		pr_info("store: checkpoint %pUb is not active (state %u)\n",
			&l->id, l->state);
		return -ESTALE;
	}
	return 0;
}

/*
 * Second part: every record and entry valid, exactly filling the log up
 * to the tail. @fn sees every entry (the chunks saved already). The data
 * pages are not read: the rollback checks them before it uses them.
 */
int ckpt_log_load_records(struct ckpt_log *l, ckpt_log_entry_fn fn, void *arg)
{
	u64 rec, pg = SNAPKEEP_CKPT_FIRST_RECORD, entry = 0;
	int ret;

	for (rec = 0; rec < l->records; rec++) {
		ret = ckpt_log_load_record(l, rec, &pg, &entry, fn, arg);
		if (ret)
			return ret;
		cond_resched();
	}
	if (pg != l->tail || entry != l->entries) {
		pr_warn("store: the log ends at page %llu with %llu entries, the metadata says %llu and %llu\n",
			pg, entry, l->tail, l->entries);
		return -EUCLEAN;
	}
	return 0;
}

/*
 * Commits one record of @n items (1..SNAPKEEP_CKPT_LOG_ENTRIES): data and
 * log page, then the metadata that counts them. -ENOSPC when the store
 * has no room for it (nothing written), an I/O error otherwise.
 */
int ckpt_log_append(struct ckpt_log *l, const struct ckpt_log_item *items,
		    unsigned int n)
{
	struct snapkeep_ckpt_log *lp = page_address(l->logp);
	struct snapkeep_ckpt_entry *e = (void *)(lp + 1);
	u64 pg = l->tail + 1, need = 1;
	struct store_io io;
	unsigned int i;
	int ret;

	if (WARN_ON_ONCE(!n || n > SNAPKEEP_CKPT_LOG_ENTRIES))
		return -EINVAL;
	for (i = 0; i < n; i++)
		need += items[i].nr_pages;
	if (l->tail + need > l->area.pages)
		return -ENOSPC;

	memset(lp, 0, STORE_PAGE);
	lp->magic = cpu_to_le32(SNAPKEEP_CKPT_LOG_MAGIC);
	lp->version = cpu_to_le32(SNAPKEEP_CKPT_VERSION);
	lp->count = cpu_to_le32(n);
	lp->record = cpu_to_le64(l->records);
	export_uuid(lp->id, &l->id);
	lp->first_entry = cpu_to_le64(l->entries);
	store_io_init(&io);
	for (i = 0; i < n; i++, e++) {
		e->sector = cpu_to_le64(items[i].sector);
		e->store_page = cpu_to_le64(pg);
		e->sectors = cpu_to_le32(items[i].sectors);
		e->device = cpu_to_le32(items[i].device);
		e->data_crc = cpu_to_le32(items[i].data_crc);
		e->crc = cpu_to_le32(ckpt_entry_crc(&l->id, e));
		store_io_submit_run(&l->area, &io, pg, items[i].pages,
				    items[i].nr_pages, REQ_OP_WRITE);
		pg += items[i].nr_pages;
	}
	ckpt_page_seal(lp);
	store_io_submit(&l->area, &io, l->tail, l->logp, REQ_OP_WRITE);
	ret = store_io_wait(&io);
	if (ret)
		return ret;
	return ckpt_log_write_meta(l, l->state, l->reason, l->records + 1,
				   l->entries + n, l->tail + need);
}

/* The next metadata copy with @state (the records as they are). */
int ckpt_log_set_state(struct ckpt_log *l, u32 state, u32 reason)
{
	return ckpt_log_write_meta(l, state, reason, l->records, l->entries,
				   l->tail);
}

/*
 * At load: a page sealed here validates, and stops validating when a byte
 * flips; the entry CRC covers the id. A wrong build of the format is
 * refused instead of writing logs the boot tool cannot read.
 */
int ckpt_log_format_check(void)
{
	struct snapkeep_ckpt_entry e = { .sector = cpu_to_le64(8) };
	uuid_t id = UUID_INIT(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
	int ret = -EINVAL;
	u32 crc;
	u8 *page;

	page = kzalloc(STORE_PAGE, GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	((__le32 *)page)[0] = cpu_to_le32(SNAPKEEP_CKPT_META_MAGIC);
	((__le32 *)page)[1] = cpu_to_le32(SNAPKEEP_CKPT_VERSION);
	ckpt_page_seal(page);
	if (!ckpt_page_valid(page, SNAPKEEP_CKPT_META_MAGIC))
		goto out;
	page[STORE_PAGE - 1] ^= 1;
	if (ckpt_page_valid(page, SNAPKEEP_CKPT_META_MAGIC))
		goto out;
	crc = ckpt_entry_crc(&id, &e);
	id.b[0] ^= 1;
	if (crc == ckpt_entry_crc(&id, &e))
		goto out;
	ret = 0;
out:
	if (ret)
		pr_err("the checkpoint format check failed\n");
	kfree(page);
	return ret;
}
