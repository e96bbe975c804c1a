/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * snapkeep.h - user-space ABI of the snapkeep kernel module.
 *
 * This header is the single source of truth for the ABI: the kernel module
 * and the native addon (native/) both include it; nothing copies it.
 *
 * Rules that keep the ABI stable:
 *  - every structure has a fixed size and layout on 32- and 64-bit user
 *    space: only __u8..__u64 members, explicit padding, no pointers (user
 *    pointers travel as __u64);
 *  - all ioctls go through the control device /dev/snapkeep, and need
 *    CAP_SYS_ADMIN (-EPERM), like opening it;
 *  - SNAPKEEP_ABI_MAJOR changes when an existing command changes meaning;
 *    SNAPKEEP_ABI_MINOR when commands are added;
 *  - reserved fields must be zero on input (-EINVAL otherwise) and are
 *    zero on output, so they can be given a meaning later.
 *
 * Objects and their numbering (docs/kernel-module.md has the full story):
 *
 *  - A *tracker* is attached to one block device (a whole disk or a
 *    partition, never both of one disk) and follows every write to it in a
 *    change map: one byte per tracking block holding a *number*. The
 *    tracker has a *generation* UUID and a current number (0 after attach).
 *    Taking a snapshot increments the number; from then on writes mark
 *    their blocks with the new number. The copy of the map frozen at that
 *    take therefore shows the blocks changed since an earlier snapshot P
 *    as the cells >= P's number. When the number would pass 255, the map
 *    is cleared, the number restarts at 1 and the generation changes: maps
 *    of different generations cannot be compared.
 *  - A *snapshot* covers a set of devices (each in at most one snapshot),
 *    is created, given difference storage (sector ranges of any block
 *    device, before or after the take), taken (all devices at one instant:
 *    file systems frozen, maps switched, thawed) and destroyed. While it is
 *    held, the first write to each chunk of a device copies the chunk's old
 *    data into the difference storage first, and one *image* block device
 *    per device, /dev/snapkeep-img<N>, shows the device as it was at the
 *    take. Images are writable; writes to them land in the difference
 *    storage and never reach the original device.
 *  - When the storage runs low the snapshot queues a low-space event;
 *    when it runs out (or a copy fails) the snapshot is corrupted: its
 *    images fail every I/O with -EIO, an overflow event is queued, and the
 *    original devices carry on unharmed.
 */
#ifndef _UAPI_LINUX_SNAPKEEP_H
#define _UAPI_LINUX_SNAPKEEP_H

#include <linux/types.h>
#include <linux/ioctl.h>

#include "snapkeep_ckpt.h"

#define SNAPKEEP_CTL_NAME	"snapkeep"

#define SNAPKEEP_ABI_MAJOR	1
#define SNAPKEEP_ABI_MINOR	6

#define SNAPKEEP_IOCTL_MAGIC	'K'

/* Image block devices are /dev/snapkeep-img<N>. */
#define SNAPKEEP_IMAGE_PREFIX	"snapkeep-img"
#define SNAPKEEP_IMAGE_NAME_LEN	32

/* Largest array a single call accepts (-E2BIG beyond). */
#define SNAPKEEP_MAX_RANGES	65536
#define SNAPKEEP_MAX_DEVICES	64

/**
 * struct snapkeep_version - answer of SNAPKEEP_IOCTL_VERSION.
 * @abi_major: SNAPKEEP_ABI_MAJOR the module was built with.
 * @abi_minor: SNAPKEEP_ABI_MINOR the module was built with.
 * @reserved: zero.
 * @module_version: NUL-terminated release string of the module.
 */
struct snapkeep_version {
	__u16 abi_major;
	__u16 abi_minor;
	__u32 reserved;
	__u8 module_version[32];
};

#define SNAPKEEP_IOCTL_VERSION \
	_IOR(SNAPKEEP_IOCTL_MAGIC, 0x00, struct snapkeep_version)

/**
 * struct snapkeep_dev - a block device by number (stat's st_rdev).
 * @major: major number.
 * @minor: minor number.
 */
struct snapkeep_dev {
	__u32 major;
	__u32 minor;
};

/**
 * struct snapkeep_uuid - a snapshot id or a tracker generation.
 * @b: the 16 bytes, in the order uuid_unparse() prints them.
 */
struct snapkeep_uuid {
	__u8 b[16];
};

/**
 * struct snapkeep_sectors - a range of 512-byte sectors of a device,
 * counted from the start of that device (a partition's own sector 0).
 * @start: first sector.
 * @count: number of sectors, > 0.
 */
struct snapkeep_sectors {
	__u64 start;
	__u64 count;
};

/*
 * SNAPKEEP_IOCTL_ATTACH - start tracking a device.
 * -EEXIST when it is tracked already, -EBUSY when its whole disk or one of
 * its partitions is tracked, -ENODEV/-ENXIO when no such device exists,
 * -EINVAL for an image device (its I/O is the module's own), -EOPNOTSUPP
 * for a zoned or DAX device (their writes cannot be copied first), -ELOOP
 * when a snapshot's storage is on a device stacked on it.
 * Creating a snapshot attaches its devices as well; trackers outlive
 * snapshots, so changes are followed from one backup to the next.
 */
#define SNAPKEEP_IOCTL_ATTACH \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x01, struct snapkeep_dev)

/*
 * SNAPKEEP_IOCTL_DETACH - stop tracking a device and forget its map.
 * -ENOENT when not tracked, -EBUSY while the device is in a snapshot.
 */
#define SNAPKEEP_IOCTL_DETACH \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x02, struct snapkeep_dev)

/* snapkeep_tracker_info.flags */
#define SNAPKEEP_TRACKER_IN_SNAPSHOT	(1U << 0)

/**
 * struct snapkeep_tracker_info - argument of SNAPKEEP_IOCTL_TRACKER_INFO.
 * @dev: in: the tracked device.
 * @device_size: out: size of the device in bytes when the map was sized.
 * @block_size: out: bytes per tracking block (a power of two).
 * @number: out: the mark writes carry now; 0 until the first take.
 * @reserved0: zero.
 * @block_count: out: number of tracking blocks (bytes of the map).
 * @generation: out: generation of the map.
 * @snapshot: out: the snapshot holding the device, zero when none.
 * @flags: out: SNAPKEEP_TRACKER_*.
 * @reserved: zero.
 */
struct snapkeep_tracker_info {
	struct snapkeep_dev dev;
	__u64 device_size;
	__u32 block_size;
	__u8 number;
	__u8 reserved0[3];
	__u64 block_count;
	struct snapkeep_uuid generation;
	struct snapkeep_uuid snapshot;
	__u32 flags;
	__u32 reserved;
};

#define SNAPKEEP_IOCTL_TRACKER_INFO \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x03, struct snapkeep_tracker_info)

/**
 * struct snapkeep_tracker_map - argument of SNAPKEEP_IOCTL_READ_MAP.
 * @dev: in: the tracked device.
 * @offset: in: first block to read (byte offset in the map).
 * @length: in: size of @buffer in bytes.
 * @buffer: in: user pointer receiving one byte per block.
 * @copied: out: bytes written to @buffer; 0 when @offset is at or past
 *	the end of the map.
 *
 * Reads the copy of the map frozen at the latest take (all zero before the
 * first take). Reading it while the snapshot is held gives exactly the
 * blocks changed up to that take.
 */
struct snapkeep_tracker_map {
	struct snapkeep_dev dev;
	__u64 offset;
	__u64 length;
	__u64 buffer;
	__u64 copied;
};

#define SNAPKEEP_IOCTL_READ_MAP \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x04, struct snapkeep_tracker_map)

/**
 * struct snapkeep_tracker_dirty - argument of SNAPKEEP_IOCTL_MARK_DIRTY.
 * @dev: in: the tracked device.
 * @count: in: number of ranges, 1..SNAPKEEP_MAX_RANGES.
 * @reserved: zero.
 * @ranges: in: user pointer to @count struct snapkeep_sectors, each inside
 *	the device.
 *
 * Marks the blocks of the ranges changed in both copies of the map, so the
 * current backup and the next one both read them (used after writing to a
 * snapshot image, or when a backup of these blocks was lost).
 */
struct snapkeep_tracker_dirty {
	struct snapkeep_dev dev;
	__u32 count;
	__u32 reserved;
	__u64 ranges;
};

#define SNAPKEEP_IOCTL_MARK_DIRTY \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x05, struct snapkeep_tracker_dirty)

/**
 * struct snapkeep_list - argument of the list commands.
 * @count: in: capacity of the array at @items; out: how many exist (the
 *	first min(in, out) were written).
 * @reserved: zero.
 * @items: in: user pointer to the array (may be 0 when @count is 0).
 */
struct snapkeep_list {
	__u32 count;
	__u32 reserved;
	__u64 items;
};

/* SNAPKEEP_IOCTL_LIST_TRACKERS - the tracked devices (struct snapkeep_dev). */
#define SNAPKEEP_IOCTL_LIST_TRACKERS \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x06, struct snapkeep_list)

/*
 * Persistent change maps (ABI 1.3). A tracker attached with
 * SNAPKEEP_IOCTL_ATTACH_PERSISTENT keeps its map in a store: a
 * preallocated, written file (or raw sector ranges) that only the module
 * writes, with its own I/O, which is never marked nor copied. At attach the
 * module continues the map found in the store (same generation, number and
 * cells) when it can prove it exact, else it starts a new generation and
 * says why. DETACH seals the store. docs/kernel-module.md, "Persistent
 * change map", has the format and the rules.
 */
#define SNAPKEEP_PERSIST_IDENTITY_LEN	64

/* snapkeep_attach_persistent.flags */
/* Do not hold writes for the store (no crash coverage: only a seal counts). */
#define SNAPKEEP_PERSIST_NO_INTENT	(1U << 0)
/*
 * (ABI 1.4) User space found that the device was written while the module
 * was absent (after the seal, before this attach): a store the module
 * could continue starts a new generation, reason
 * SNAPKEEP_PERSIST_REASON_ABSENT, instead. A store it restarts anyway
 * keeps its own reason.
 */
#define SNAPKEEP_PERSIST_RESTART	(1U << 1)
/*
 * (ABI 1.4) User space could not check the device for writes while the
 * module was absent (contents it cannot read counters from): the module
 * only reports it back, as SNAPKEEP_PERSIST_UNVERIFIED, when it continues.
 */
#define SNAPKEEP_PERSIST_UNCHECKED	(1U << 2)

/**
 * struct snapkeep_attach_persistent - argument of
 *	SNAPKEEP_IOCTL_ATTACH_PERSISTENT (ABI 1.3).
 * @dev: in: the device to track.
 * @store_dev: in: the block device the store's ranges are on (for a file:
 *	the device its file system is on, its st_dev).
 * @fd: in: an open descriptor of the store file, pinned while attached as
 *	by SNAPKEEP_IOCTL_APPEND_STORAGE_FILE; -1 for raw ranges of
 *	@store_dev.
 * @count: in: number of ranges, 1..SNAPKEEP_MAX_RANGES.
 * @ranges: in: user pointer to @count struct snapkeep_sectors: the store
 *	in its own order (a file's FIEMAP extents in file order), each
 *	4096-byte aligned, inside @store_dev, not overlapping.
 * @identity: in: who the device is, as user space knows it (a WWN or
 *	serial, a partition UUID); compared byte for byte with the store's.
 * @flags: in: SNAPKEEP_PERSIST_NO_INTENT, and from ABI 1.4
 *	SNAPKEEP_PERSIST_RESTART, SNAPKEEP_PERSIST_UNCHECKED (a 1.3 module
 *	refuses them with -EINVAL).
 * @reserved: zero.
 *
 * Errors as SNAPKEEP_IOCTL_ATTACH, and -ENOSPC when the store is too small
 * for the map, -EINVAL for bad ranges or a file not on @store_dev,
 * -ETXTBSY for a file pinned already (a swap file, another store or a
 * snapshot's storage), -ELOOP for a store stacked on a tracked device or
 * on a loop device, -EIO when the store cannot be read or written.
 */
struct snapkeep_attach_persistent {
	struct snapkeep_dev dev;
	struct snapkeep_dev store_dev;
	__s32 fd;
	__u32 count;
	__u64 ranges;
	__u8 identity[SNAPKEEP_PERSIST_IDENTITY_LEN];
	__u32 flags;
	__u32 reserved;
};

#define SNAPKEEP_IOCTL_ATTACH_PERSISTENT \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x07, struct snapkeep_attach_persistent)

/* snapkeep_tracker_info2.persist_flags */
#define SNAPKEEP_PERSIST_ATTACHED	(1U << 0)	/* has a store */
#define SNAPKEEP_PERSIST_CONTINUED	(1U << 1)	/* map continued */
#define SNAPKEEP_PERSIST_UNCLEAN	(1U << 2)	/* ... from an unsealed store covered by write intent */
#define SNAPKEEP_PERSIST_INTENT		(1U << 3)	/* writes wait for the store */
#define SNAPKEEP_PERSIST_FAILED		(1U << 4)	/* store I/O failed: no longer kept */
/* (1.4) continued, but writes while the module was absent were not checked */
#define SNAPKEEP_PERSIST_UNVERIFIED	(1U << 5)
/*
 * (1.6) the store's newest metadata copy is a seal written in place
 * (SNAPKEEP_IOCTL_SEAL_IN_PLACE) and nothing has unsealed it since
 */
#define SNAPKEEP_PERSIST_SEALED		(1U << 6)

/* snapkeep_tracker_info2.persist_reason: why the map restarted at attach. */
#define SNAPKEEP_PERSIST_REASON_NONE		0	/* continued */
#define SNAPKEEP_PERSIST_REASON_NEW		1	/* no store yet */
#define SNAPKEEP_PERSIST_REASON_CORRUPT		2	/* no valid metadata copy, or the map's CRC */
#define SNAPKEEP_PERSIST_REASON_IDENTITY	3	/* another device's store */
#define SNAPKEEP_PERSIST_REASON_SIZE		4	/* size or logical block size changed */
#define SNAPKEEP_PERSIST_REASON_UNCLEAN		5	/* not sealed, no write-intent coverage */
#define SNAPKEEP_PERSIST_REASON_VERSION		6	/* a format this module cannot read */
#define SNAPKEEP_PERSIST_REASON_GEOMETRY	7	/* another tracking block size */
/* (1.4) written after the seal while the module was absent */
#define SNAPKEEP_PERSIST_REASON_ABSENT		8

/**
 * struct snapkeep_tracker_info2 - argument of SNAPKEEP_IOCTL_TRACKER_INFO2
 *	(ABI 1.3).
 * @info: as SNAPKEEP_IOCTL_TRACKER_INFO (dev in, the rest out).
 * @persist_flags: out: SNAPKEEP_PERSIST_* flags; 0 without a store.
 * @persist_reason: out: SNAPKEEP_PERSIST_REASON_*.
 * @found_sequence: out: sequence of the newest valid metadata copy found at
 *	attach, 0 when none.
 * @found_time: out: when that copy was written (seconds since the epoch);
 *	for a sealed store, the time of the seal.
 * @sequence: out: sequence of the metadata last written.
 * @reserved: zero.
 */
struct snapkeep_tracker_info2 {
	struct snapkeep_tracker_info info;
	__u32 persist_flags;
	__u32 persist_reason;
	__u64 found_sequence;
	__u64 found_time;
	__u64 sequence;
	__u64 reserved[4];
};

#define SNAPKEEP_IOCTL_TRACKER_INFO2 \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x08, struct snapkeep_tracker_info2)

/**
 * struct snapkeep_tracker_seal - argument of SNAPKEEP_IOCTL_SEAL_IN_PLACE
 *	(ABI 1.6).
 * @dev: in: the tracked device.
 * @flags: in: zero.
 * @reserved0: zero.
 * @sequence: out: sequence of the sealed metadata copy (what a stamp of
 *	this seal is bound to).
 * @reserved: zero.
 *
 * Seals the store of a map in write-intent mode as DETACH does (every map
 * page written, then the metadata sealed with the map's CRC, preflush and
 * FUA), but the tracker stays attached and tracking: for a device DETACH
 * refuses (a checkpoint holds it) at shutdown. A later write to a block
 * whose cell is not yet durable at the current number, a take, a restart
 * or MARK_DIRTY first makes the store unsealed again durably (a metadata
 * copy in write-intent mode) before the write is released, so a crash
 * after it never finds a seal it could trust; writes to cells durable
 * already leave the seal as it is (the sealed map stays exact).
 * TRACKER_INFO2 says SNAPKEEP_PERSIST_SEALED while the seal stands.
 * -ENOENT when not tracked, -ENODATA for a tracker without a store,
 * -EOPNOTSUPP for a store without write intent (SNAPKEEP_PERSIST_NO_INTENT:
 * nothing would unseal it before a write), -EALREADY when sealed in place
 * and nothing unsealed it since, -EIO when the store failed.
 */
struct snapkeep_tracker_seal {
	struct snapkeep_dev dev;
	__u32 flags;
	__u32 reserved0;
	__u64 sequence;
	__u64 reserved[2];
};

#define SNAPKEEP_IOCTL_SEAL_IN_PLACE \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x09, struct snapkeep_tracker_seal)

/**
 * struct snapkeep_snapshot_create - argument of SNAPKEEP_IOCTL_CREATE.
 * @count: in: number of devices, 1..SNAPKEEP_MAX_DEVICES.
 * @reserved: zero.
 * @devs: in: user pointer to @count struct snapkeep_dev, no duplicates.
 * @id: out: the new snapshot's id.
 *
 * Attaches trackers to the devices not tracked yet. -EBUSY when a device
 * is in another snapshot already.
 */
struct snapkeep_snapshot_create {
	__u32 count;
	__u32 reserved;
	__u64 devs;
	struct snapkeep_uuid id;
};

#define SNAPKEEP_IOCTL_CREATE \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x10, struct snapkeep_snapshot_create)

/*
 * SNAPKEEP_IOCTL_DESTROY - destroy a snapshot: its images go away (an image
 * still open or mounted fails every further I/O with -EIO), its storage is
 * released, its trackers keep tracking. -ENOENT for an unknown id.
 */
#define SNAPKEEP_IOCTL_DESTROY \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x11, struct snapkeep_uuid)

/**
 * struct snapkeep_snapshot_storage - argument of SNAPKEEP_IOCTL_APPEND_STORAGE.
 * @id: in: the snapshot.
 * @dev: in: the block device the ranges are on (not an image device).
 * @count: in: number of ranges, 1..SNAPKEEP_MAX_RANGES.
 * @reserved: zero.
 * @ranges: in: user pointer to @count struct snapkeep_sectors, each inside
 *	the device, aligned to its logical block size, overlapping neither
 *	each other nor ranges given before.
 *
 * Typically the extents of a preallocated file (fallocate + FIEMAP), which
 * may live on a device of the snapshot itself: the module's own writes are
 * never tracked. Allowed before and after the take. -ELOOP when the device
 * is stacked on a tracked device (LVM, LUKS, md above it: the storage's
 * writes would reach the tracked device as foreign writes) or is a loop
 * device; -EINVAL when its logical blocks are larger than those of a
 * device of the snapshot. SNAPKEEP_IOCTL_APPEND_STORAGE_FILE also pins
 * the file.
 */
struct snapkeep_snapshot_storage {
	struct snapkeep_uuid id;
	struct snapkeep_dev dev;
	__u32 count;
	__u32 reserved;
	__u64 ranges;
};

#define SNAPKEEP_IOCTL_APPEND_STORAGE \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x12, struct snapkeep_snapshot_storage)

/**
 * struct snapkeep_snapshot_storage_file - argument of
 *	SNAPKEEP_IOCTL_APPEND_STORAGE_FILE (ABI 1.2).
 * @id: in: the snapshot.
 * @dev: in: the block device the file's file system is on (its st_dev).
 * @count: in: number of ranges, 1..SNAPKEEP_MAX_RANGES.
 * @fd: in: an open descriptor of the file (any access mode).
 * @ranges: in: user pointer to @count struct snapkeep_sectors: the file's
 *	extents (FIEMAP) as sectors of @dev, under the rules of
 *	SNAPKEEP_IOCTL_APPEND_STORAGE.
 * @flags: in: zero.
 * @reserved: zero.
 *
 * Like SNAPKEEP_IOCTL_APPEND_STORAGE, and the file is pinned until the
 * snapshot is destroyed, as an active swap file is: it cannot be deleted
 * (EPERM), truncated, written, fallocated, reflinked or defragmented
 * (ETXTBSY), so its blocks stay where the ranges say. Appending ranges of
 * a file the snapshot pins already is fine. -ETXTBSY when the file is a
 * swap file or pinned by another snapshot, -EINVAL when it is not a
 * regular file of a file system on @dev, -EBADF for a bad descriptor.
 */
struct snapkeep_snapshot_storage_file {
	struct snapkeep_uuid id;
	struct snapkeep_dev dev;
	__u32 count;
	__s32 fd;
	__u64 ranges;
	__u32 flags;
	__u32 reserved;
};

#define SNAPKEEP_IOCTL_APPEND_STORAGE_FILE \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x17, struct snapkeep_snapshot_storage_file)

/*
 * SNAPKEEP_IOCTL_TAKE - take the snapshot: freeze the file systems of all
 * its devices and of everything stacked on them (partitions of a whole
 * disk, LVM, LUKS, md), top-down; wait for the writes in flight to the
 * devices; switch their maps and start copy-on-write; thaw; create the
 * images. -EALREADY when taken before, -ETIMEDOUT when writes in flight
 * did not complete within 30 s (a device that stopped answering).
 */
#define SNAPKEEP_IOCTL_TAKE \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x13, struct snapkeep_uuid)

/* snapkeep_snapshot_event.code */
#define SNAPKEEP_EVENT_LOW_SPACE	1
#define SNAPKEEP_EVENT_OVERFLOW		2

/**
 * struct snapkeep_snapshot_event - argument of SNAPKEEP_IOCTL_WAIT_EVENT.
 * @id: in: the snapshot.
 * @timeout_ms: in: how long to wait for an event.
 * @code: out: SNAPKEEP_EVENT_*.
 * @time_ns: out: when the event happened (CLOCK_MONOTONIC).
 * @requested_sectors: out, LOW_SPACE: how much storage to append.
 * @dev: out, OVERFLOW: the device whose copy could not be stored.
 * @error: out, OVERFLOW: positive errno (ENOSPC: storage exhausted, EIO:
 *	an I/O error, ENOMEM).
 * @reserved: zero.
 *
 * Returns the oldest queued event; -ETIMEDOUT when none came within
 * @timeout_ms, -EINTR on a signal, -ENOENT when the snapshot is unknown or
 * was destroyed while waiting.
 */
struct snapkeep_snapshot_event {
	struct snapkeep_uuid id;
	__u32 timeout_ms;
	__u32 code;
	__u64 time_ns;
	__u64 requested_sectors;
	struct snapkeep_dev dev;
	__s32 error;
	__u32 reserved;
};

#define SNAPKEEP_IOCTL_WAIT_EVENT \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x14, struct snapkeep_snapshot_event)

/* SNAPKEEP_IOCTL_LIST_SNAPSHOTS - the snapshot ids (struct snapkeep_uuid). */
#define SNAPKEEP_IOCTL_LIST_SNAPSHOTS \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x15, struct snapkeep_list)

/**
 * struct snapkeep_snapshot_dev - one device of SNAPKEEP_IOCTL_SNAPSHOT_INFO.
 * @dev: the original device.
 * @image: the image device, 0:0 before the take.
 * @image_name: NUL-terminated name under /dev, empty before the take.
 * @chunk_size: bytes copied at a time, 0 before the take.
 * @reserved: zero.
 * @chunks_copied: chunks stored in the difference storage so far.
 */
struct snapkeep_snapshot_dev {
	struct snapkeep_dev dev;
	struct snapkeep_dev image;
	__u8 image_name[SNAPKEEP_IMAGE_NAME_LEN];
	__u32 chunk_size;
	__u32 reserved;
	__u64 chunks_copied;
};

/* snapkeep_snapshot_info.flags */
#define SNAPKEEP_SNAPSHOT_TAKEN		(1U << 0)
#define SNAPKEEP_SNAPSHOT_CORRUPTED	(1U << 1)

/**
 * struct snapkeep_snapshot_info - argument of SNAPKEEP_IOCTL_SNAPSHOT_INFO.
 * @id: in: the snapshot.
 * @flags: out: SNAPKEEP_SNAPSHOT_*.
 * @error: out: positive errno that corrupted the snapshot, else 0.
 * @storage_sectors: out: difference storage appended so far.
 * @storage_used: out: sectors of it holding copies.
 * @count: in: capacity of the array at @devs; out: number of devices (the
 *	first min(in, out) entries were written).
 * @reserved: zero.
 * @devs: in: user pointer to struct snapkeep_snapshot_dev[@count].
 */
struct snapkeep_snapshot_info {
	struct snapkeep_uuid id;
	__u32 flags;
	__s32 error;
	__u64 storage_sectors;
	__u64 storage_used;
	__u32 count;
	__u32 reserved;
	__u64 devs;
};

#define SNAPKEEP_IOCTL_SNAPSHOT_INFO \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x16, struct snapkeep_snapshot_info)

/*
 * Checkpoints (ABI 1.5). A checkpoint of one or more devices, taken at one
 * instant (file systems frozen, writes in flight waited for, as a take),
 * saves the old data of each chunk before its first write: the write waits
 * until the old data and its log entry are durable in the checkpoint's
 * store (a preallocated, written, immutable file, pinned while the
 * checkpoint is attached, or raw ranges). The store survives reboots:
 * the boot tool re-attaches it (SNAPKEEP_CKPT_RESUME) before anything
 * writes the devices, or rolls the devices back from it, without the
 * module. Commit (keep the new data) and abandon end it and free the
 * store. snapkeep_ckpt.h has the on-disk format; docs/kernel-module.md,
 * "Checkpoints", the rules.
 */

/* snapkeep_ckpt_create.flags */
/*
 * Re-attach the active checkpoint found in the store (at boot) instead of
 * starting a new one: the header's devices must be these (identity, size,
 * logical block size: -EXDEV otherwise), the newest metadata copy must say
 * active (-ESTALE otherwise: committed, abandoned, invalid, rolled back),
 * and every log record and entry must check (-EUCLEAN otherwise).
 */
#define SNAPKEEP_CKPT_RESUME		(1U << 0)

/**
 * struct snapkeep_ckpt_dev - a device of SNAPKEEP_IOCTL_CKPT_CREATE.
 * @dev: in: the device.
 * @reserved: zero.
 * @identity: in: who it is, as user space knows it (a WWN or serial, a
 *	partition UUID), recorded in the store and compared on resume.
 */
struct snapkeep_ckpt_dev {
	struct snapkeep_dev dev;
	__u64 reserved;
	__u8 identity[SNAPKEEP_CKPT_IDENTITY_LEN];
};

/**
 * struct snapkeep_ckpt_create - argument of SNAPKEEP_IOCTL_CKPT_CREATE.
 * @count: in: devices, 1..SNAPKEEP_CKPT_MAX_DEVICES, no duplicates.
 * @flags: in: SNAPKEEP_CKPT_RESUME.
 * @devs: in: user pointer to @count struct snapkeep_ckpt_dev.
 * @store_dev: in: the block device the store's ranges are on.
 * @fd: in: an open descriptor of the store file (pinned while the
 *	checkpoint is attached), or -1 for raw ranges of @store_dev.
 * @range_count: in: number of ranges, 1..SNAPKEEP_MAX_RANGES.
 * @ranges: in: user pointer to struct snapkeep_sectors[@range_count]: the
 *	store in its own order, each 4096-byte aligned, inside @store_dev,
 *	not overlapping.
 * @name: in (create): the checkpoint's name, NUL-padded; out (resume):
 *	the stored name.
 * @id: out: the checkpoint's id.
 * @reserved: zero.
 *
 * Attaches trackers to the devices not tracked yet. -EBUSY when a device
 * is in another checkpoint, -ENOSPC when the store cannot hold one
 * chunk's record (3 + 1 + 16 pages at 64 KiB chunks), -EINVAL for bad ranges, a file not on @store_dev or a device
 * with logical blocks over 4096 bytes, -ETXTBSY for a pinned file, -ELOOP
 * for a store stacked on a device of the checkpoint (its writes would
 * wait for themselves), -EIO when the store cannot be written or read;
 * with SNAPKEEP_CKPT_RESUME also -EXDEV, -ESTALE, -EUCLEAN (above).
 */
struct snapkeep_ckpt_create {
	__u32 count;
	__u32 flags;
	__u64 devs;
	struct snapkeep_dev store_dev;
	__s32 fd;
	__u32 range_count;
	__u64 ranges;
	__u8 name[SNAPKEEP_CKPT_NAME_LEN];
	struct snapkeep_uuid id;
	__u64 reserved[2];
};

#define SNAPKEEP_IOCTL_CKPT_CREATE \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x20, struct snapkeep_ckpt_create)

/*
 * SNAPKEEP_IOCTL_CKPT_COMMIT - keep the new data: the store says
 * committed (durably), writes no longer wait, the store file is unpinned
 * and trackers the checkpoint attached are detached. Also for an invalid
 * checkpoint. -ENOENT for an unknown id, -EIO when the store did not take
 * the state (an active checkpoint then stays; an invalid one ends anyway).
 */
#define SNAPKEEP_IOCTL_CKPT_COMMIT \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x21, struct snapkeep_uuid)

/*
 * SNAPKEEP_IOCTL_CKPT_ABANDON - as COMMIT, but the store says abandoned:
 * the checkpoint was given up, not accepted (for the record; neither can
 * be rolled back).
 */
#define SNAPKEEP_IOCTL_CKPT_ABANDON \
	_IOW(SNAPKEEP_IOCTL_MAGIC, 0x22, struct snapkeep_uuid)

/**
 * struct snapkeep_ckpt_info - argument of SNAPKEEP_IOCTL_CKPT_INFO.
 * @id: in: the checkpoint.
 * @state: out: SNAPKEEP_CKPT_ACTIVE or SNAPKEEP_CKPT_INVALID.
 * @reason: out: SNAPKEEP_CKPT_REASON_* when invalid.
 * @count: out: number of devices.
 * @chunk_size: out: bytes saved at a chunk's first write.
 * @created: out: seconds since the epoch.
 * @store_pages: out: 4096-byte pages of the store.
 * @used_pages: out: pages used (header, metadata, records).
 * @entries: out: chunks saved.
 * @records: out: records committed.
 * @sequence: out: sequence of the metadata written last.
 * @flags: out: SNAPKEEP_CKPT_INFO_*.
 * @reserved0: zero.
 * @name: out: the name.
 * @devs: out: the devices, in the store's order.
 * @reserved: zero.
 */
struct snapkeep_ckpt_info {
	struct snapkeep_uuid id;
	__u32 state;
	__u32 reason;
	__u32 count;
	__u32 chunk_size;
	__u64 created;
	__u64 store_pages;
	__u64 used_pages;
	__u64 entries;
	__u64 records;
	__u64 sequence;
	__u32 flags;
	__u32 reserved0;
	__u8 name[SNAPKEEP_CKPT_NAME_LEN];
	struct snapkeep_dev devs[SNAPKEEP_CKPT_MAX_DEVICES];
	__u64 reserved[4];
};

/* snapkeep_ckpt_info.flags */
#define SNAPKEEP_CKPT_INFO_RESUMED	(1U << 0)	/* re-attached from the store */

#define SNAPKEEP_IOCTL_CKPT_INFO \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x23, struct snapkeep_ckpt_info)

/* SNAPKEEP_IOCTL_CKPT_LIST - the checkpoint ids (struct snapkeep_uuid). */
#define SNAPKEEP_IOCTL_CKPT_LIST \
	_IOWR(SNAPKEEP_IOCTL_MAGIC, 0x24, struct snapkeep_list)

#endif /* _UAPI_LINUX_SNAPKEEP_H */
