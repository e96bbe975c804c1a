/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The store of a checkpoint: its on-disk format (include/uapi/
 * snapkeep_ckpt.h), written by the module while the checkpoint is active,
 * read back when it is re-attached at boot.
 */
#ifndef __SNAPKEEP_CKPT_LOG_H
#define __SNAPKEEP_CKPT_LOG_H

#include <linux/types.h>
#include <linux/uuid.h>

#include "snapkeep.h"
#include "store_area.h"

struct file;

/**
 * struct ckpt_log_item - the old data of one chunk, to be logged.
 * @device: index of the device in the header.
 * @sectors: 512-byte sectors of data.
 * @sector: first sector on the device.
 * @data_crc: CRC32C of the data.
 * @pages: the data, page by page (the last one zero-padded).
 * @nr_pages: entries in @pages.
 */
struct ckpt_log_item {
	u32 device;
	u32 sectors;
	sector_t sector;
	u32 data_crc;
	struct page **pages;
	unsigned int nr_pages;
};

/**
 * struct ckpt_log - the store of one checkpoint, as the module keeps it.
 * @area: where the store is (store_area.c).
 * @header: page 0's buffer, written once (create).
 * @meta: the metadata buffer; never shares a write with @header nor @logp.
 * @logp: the log page buffer of the record being written.
 * @id: the checkpoint's id.
 * @created: seconds since the epoch.
 * @name: NUL-padded.
 * @chunk_shift: log2 of the chunk size.
 * @nr_devices: entries in @devices.
 * @devices: as in the header.
 * @state: SNAPKEEP_CKPT_* in the metadata written last.
 * @reason: SNAPKEEP_CKPT_REASON_* in it.
 * @sequence: its sequence.
 * @records: records committed.
 * @entries: entries committed.
 * @tail: first page after the last committed record.
 *
 * Owned by its checkpoint; every call but ckpt_log_open() is made under
 * the checkpoint's io_lock.
 */
struct ckpt_log {
	struct store_area area;
	struct page *header;
	struct page *meta;
	struct page *logp;
	uuid_t id;
	u64 created;
	u8 name[SNAPKEEP_CKPT_NAME_LEN];
	unsigned int chunk_shift;
	unsigned int nr_devices;
	struct snapkeep_ckpt_device devices[SNAPKEEP_CKPT_MAX_DEVICES];
	u32 state;
	u32 reason;
	u64 sequence;
	u64 records;
	u64 entries;
	u64 tail;
};

/* Called by ckpt_log_load() for every entry, in log order. */
typedef int (*ckpt_log_entry_fn)(void *arg, u32 device, sector_t sector,
				 u32 sectors);

int ckpt_log_open(struct ckpt_log *l, dev_t store_dev, struct file *file,
		  const struct snapkeep_sectors *ranges, unsigned int count);
void ckpt_log_close(struct ckpt_log *l);
int ckpt_log_format(struct ckpt_log *l);
int ckpt_log_load_head(struct ckpt_log *l);
int ckpt_log_load_records(struct ckpt_log *l, ckpt_log_entry_fn fn, void *arg);
int ckpt_log_append(struct ckpt_log *l, const struct ckpt_log_item *items,
		    unsigned int n);
int ckpt_log_set_state(struct ckpt_log *l, u32 state, u32 reason);
int ckpt_log_format_check(void);

#endif /* __SNAPKEEP_CKPT_LOG_H */
