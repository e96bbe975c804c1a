/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * snapkeep_ckpt.h - the on-disk format of a checkpoint store, version 1.
 *
 * Shared by the module (kmod/ckpt_log.c writes it) and the boot tool
 * (kmod/boot/boot_ckpt.c validates it and rolls back from it): one
 * declaration, never copied. docs/kernel-module.md, "Checkpoints", has the
 * prose. All integers little-endian; every structure is naturally aligned
 * and has a fixed size (checked on both sides).
 *
 * The store is a sequence of 4096-byte pages:
 *
 *	page 0		header: written once, when the checkpoint is created
 *	page 1, 2	metadata copies, written alternately (sequence % 2 ==
 *			1 goes to page 1): a torn write never loses the
 *			newest valid copy
 *	page 3 ...	records: a log page, then the old data of its entries
 *			in the pages right after it, one record after another
 *
 * Every page carries the checkpoint's id: a page of an older checkpoint
 * that used the same store never validates. The header, the metadata and
 * the log pages each have their own buffer and their own write (seed 004:
 * dm-snap-persistent's header and commit shared one).
 *
 * Commit of a record (write-ahead): its data pages and its log page are
 * written, then the next metadata copy, which counts the record, with a
 * preflush (the record is durable before it) and FUA; only then are the
 * writes that waited for it released to the device.
 */
#ifndef _UAPI_LINUX_SNAPKEEP_CKPT_H
#define _UAPI_LINUX_SNAPKEEP_CKPT_H

#include <linux/types.h>

#define SNAPKEEP_CKPT_VERSION		1
#define SNAPKEEP_CKPT_PAGE		4096
#define SNAPKEEP_CKPT_HEADER_MAGIC	0x48434b53	/* "SKCH" */
#define SNAPKEEP_CKPT_META_MAGIC	0x4d434b53	/* "SKCM" */
#define SNAPKEEP_CKPT_LOG_MAGIC		0x4c434b53	/* "SKCL" */
#define SNAPKEEP_CKPT_FIRST_RECORD	3
#define SNAPKEEP_CKPT_MAX_DEVICES	16
#define SNAPKEEP_CKPT_NAME_LEN		64
#define SNAPKEEP_CKPT_IDENTITY_LEN	64

/* snapkeep_ckpt_meta.state */
#define SNAPKEEP_CKPT_ACTIVE		1	/* first writes are saved */
#define SNAPKEEP_CKPT_COMMITTED		2	/* kept the new data; store free */
#define SNAPKEEP_CKPT_ABANDONED		3	/* given up; store free */
#define SNAPKEEP_CKPT_INVALID		4	/* cannot be rolled back: @reason */
#define SNAPKEEP_CKPT_ROLLING_BACK	5	/* rollback under way: @cursor */
#define SNAPKEEP_CKPT_ROLLED_BACK	6	/* the devices are as at creation */

/* snapkeep_ckpt_meta.reason, for SNAPKEEP_CKPT_INVALID */
#define SNAPKEEP_CKPT_REASON_NONE	0
#define SNAPKEEP_CKPT_REASON_FULL	1	/* the store had no room left */
#define SNAPKEEP_CKPT_REASON_IO		2	/* a read or store write failed */
/* Written by snapkeep-boot: a device changed while no module saved it. */
#define SNAPKEEP_CKPT_REASON_ABSENT	3

/**
 * struct snapkeep_ckpt_device - one device of the checkpoint.
 * @identity: given by user space at creation (a WWN, a partition UUID),
 *	NUL-padded.
 * @capacity: size in 512-byte sectors.
 * @logical_block_size: bytes.
 * @reserved: zero.
 */
struct snapkeep_ckpt_device {
	__u8 identity[SNAPKEEP_CKPT_IDENTITY_LEN];
	__le64 capacity;
	__le32 logical_block_size;
	__le32 reserved;
};

/**
 * struct snapkeep_ckpt_header - page 0 (the rest of the page zero).
 * @magic: SNAPKEEP_CKPT_HEADER_MAGIC.
 * @version: SNAPKEEP_CKPT_VERSION; magic, version and crc keep these
 *	offsets in every version (as in every page of the format).
 * @crc: CRC32C (Castagnoli, seed ~0, inverted) of the whole page with this
 *	field zero.
 * @nr_devices: 1..SNAPKEEP_CKPT_MAX_DEVICES.
 * @id: the checkpoint's id; every other page repeats it.
 * @created: seconds since the epoch.
 * @store_pages: pages of the store.
 * @chunk_shift: log2 of the chunk size in bytes (a chunk's old data is
 *	saved at its first write).
 * @reserved: zero.
 * @name: given by user space, NUL-padded.
 * @devices: the devices, in the order user space gave them; a log
 *	entry's @device indexes this array.
 */
struct snapkeep_ckpt_header {
	__le32 magic;
	__le32 version;
	__le32 crc;
	__le32 nr_devices;
	__u8 id[16];
	__le64 created;
	__le64 store_pages;
	__le32 chunk_shift;
	__le32 reserved;
	__u8 name[SNAPKEEP_CKPT_NAME_LEN];
	struct snapkeep_ckpt_device devices[SNAPKEEP_CKPT_MAX_DEVICES];
};

/**
 * struct snapkeep_ckpt_meta - a metadata copy, page 1 or 2.
 * @magic: SNAPKEEP_CKPT_META_MAGIC.
 * @version: SNAPKEEP_CKPT_VERSION.
 * @crc: as the header's.
 * @state: SNAPKEEP_CKPT_*.
 * @sequence: one more at every metadata write; the valid copy (CRC, @id)
 *	with the highest wins.
 * @id: the checkpoint's id.
 * @records: records committed.
 * @entries: entries in those records.
 * @tail: the first page after the last committed record.
 * @cursor: SNAPKEEP_CKPT_ROLLING_BACK: entries already written back,
 *	counted from the last one (rollback goes newest first, so the oldest
 *	copy of a chunk is written last).
 * @time: when this copy was written, seconds since the epoch.
 * @reason: SNAPKEEP_CKPT_REASON_* for SNAPKEEP_CKPT_INVALID.
 * @reserved: zero.
 */
struct snapkeep_ckpt_meta {
	__le32 magic;
	__le32 version;
	__le32 crc;
	__le32 state;
	__le64 sequence;
	__u8 id[16];
	__le64 records;
	__le64 entries;
	__le64 tail;
	__le64 cursor;
	__le64 time;
	__le32 reason;
	__le32 reserved;
};

/**
 * struct snapkeep_ckpt_entry - the old data of one chunk (or its short
 *	last piece), saved before its first write.
 * @sector: first 512-byte sector on the device.
 * @store_page: first store page of the data (@sectors * 512 bytes, padded
 *	with zeros to whole pages).
 * @sectors: how many.
 * @device: index in the header's @devices.
 * @data_crc: CRC32C of the @sectors * 512 bytes.
 * @crc: CRC32C of the checkpoint's id followed by this entry with this
 *	field zero.
 */
struct snapkeep_ckpt_entry {
	__le64 sector;
	__le64 store_page;
	__le32 sectors;
	__le32 device;
	__le32 data_crc;
	__le32 crc;
};

/**
 * struct snapkeep_ckpt_log - the log page starting a record (entries
 *	follow it in the page, the rest zero).
 * @magic: SNAPKEEP_CKPT_LOG_MAGIC.
 * @version: SNAPKEEP_CKPT_VERSION.
 * @crc: as the header's (covers the entries).
 * @count: entries, 1..SNAPKEEP_CKPT_LOG_ENTRIES.
 * @record: the record's number, from 0.
 * @id: the checkpoint's id.
 * @first_entry: number of the first entry in the whole log.
 * @reserved: zero.
 */
struct snapkeep_ckpt_log {
	__le32 magic;
	__le32 version;
	__le32 crc;
	__le32 count;
	__le64 record;
	__u8 id[16];
	__le64 first_entry;
	__le64 reserved[2];
};

#define SNAPKEEP_CKPT_LOG_ENTRIES \
	((SNAPKEEP_CKPT_PAGE - sizeof(struct snapkeep_ckpt_log)) / \
	 sizeof(struct snapkeep_ckpt_entry))

#endif /* _UAPI_LINUX_SNAPKEEP_CKPT_H */
