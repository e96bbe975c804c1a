/* SPDX-License-Identifier: GPL-2.0 */
/*
 * boot_stamp.h - was the device written while the module was absent?
 *
 * A seal proves the map exact up to the seal. Whatever writes the device
 * after it and before the next attach (another system, a rescue stick, a
 * boot with snapkeep_boot=off, an initrd without the module) is in no
 * map. So right after the seal, snapkeep-boot seal reads what the device's
 * file systems change on any read-write use and writes it into the stamp
 * page, one more page of the store file that the module never owns:
 * the device's layout as regions - one file system on the whole device,
 * or the partition table (MBR with its logical partitions, or GPT) and
 * each partition - and per region its kind and the CRC32C of what that
 * kind changes (ext2/3/4: the 1024-byte superblock, with its mount count,
 * write and mount times, kbytes written, state; xfs: the 512-byte
 * superblock, whose v5 log sequence number moves whenever it is written
 * back; a table: its sectors). Attach compares: all the same, the map
 * continues; anything else, it restarts with reason "absent", as it does
 * when the device was mounted read-write at the seal or an ext superblock
 * then said its journal needed recovery (in use), or when a checkpoint
 * rollback voided the page (BOOT_STAMP_VOID below). A region of
 * unknown contents (swap, LVM, LUKS, vfat, ...) cannot be checked: the
 * map continues, flagged unverified.
 *
 * Stamp page, version 1, little-endian, 4096 bytes, the rest zero:
 *
 *	0   magic "SKST"            4   version (1)
 *	8   CRC32C of the page with this field zero (as the store's pages)
 *	12  regions (1..62)
 *	16  sequence of the sealed metadata copy it belongs to
 *	24  generation of that copy (16 bytes)
 *	40  time of the stamp (seconds since the epoch)
 *	48  identity (64 bytes, NUL-padded, as in the store)
 *	112 1 when the device had more partitions than fit (unchecked)
 *	116 1 when the device or a partition was mounted read-write at the
 *	    seal (the next attach restarts: its later writes need not reach
 *	    a superblock before a crash)
 *	120 zero (8 bytes)
 *	128 the regions, 64 bytes each:
 *	    0 byte offset on the device   8 kind: 0 unknown, 1 ext2/3/4,
 *	    2 xfs, 3 partition table      12 CRC32C of the kind's bytes
 *	    16 five counters for the log (ext: mount count, kbytes written,
 *	    write time, mount time, incompat features << 16 | state; xfs:
 *	    superblock LSN)               56 partition number (0: the
 *	    device itself, or the table)  60 zero
 */
#ifndef __SNAPKEEP_BOOT_STAMP_H
#define __SNAPKEEP_BOOT_STAMP_H

#include <stddef.h>
#include <sys/types.h>

#include "boot_config.h"

/* The stamp page mkstore leaves: never stamped yet. */
#define BOOT_STAMP_FRESH	"snapkeep-stamp fresh\n"
/*
 * The stamp page a checkpoint rollback leaves, followed by its reason: the
 * rollback writes the device while no map watches, so the next attach
 * restarts the map whatever the seal says (also a map left unsealed, which
 * would otherwise continue under write intent). The next seal writes a
 * stamp over it.
 */
#define BOOT_STAMP_VOID		"snapkeep-stamp void: "

enum boot_stamp_verdict {
	BOOT_STAMP_SAME,	/* the counters are as at the seal: continue */
	BOOT_STAMP_UNCHECKED,	/* nothing to compare: continue, unverified */
	BOOT_STAMP_WRITTEN,	/* changed, or no stamp of this seal: restart */
};

/*
 * At attach, before the module reads the store: compare the device with
 * the stamp of the store's seal. @why gets the reason for the log.
 */
enum boot_stamp_verdict boot_stamp_check(const struct boot_entry *e,
					 char *why, size_t len);

/*
 * Before a rollback writes the device: the next attach must restart the
 * map (@reason says why, for its log line). 0, or -errno: -EUCLEAN when the
 * sectors are not this store's stamp page (nothing written there).
 */
int boot_stamp_void(const struct boot_entry *e, const char *reason);

/*
 * At seal, after DETACH (or SEAL_IN_PLACE) sealed the store: write the
 * stamp; 0 or -errno.
 */
int boot_stamp_write(const struct boot_entry *e);

/*
 * Before a seal in place: write the stamp page back as it is (only a page
 * that is the store's), so that a stamp page on a tracked device has its
 * cell marked before the seal and the stamp written after it does not
 * unseal that map again. 0 or -errno.
 */
int boot_stamp_touch(const struct boot_entry *e);

/*
 * A checkpoint's devices (boot_ckpt.c) use the same page, bound to the
 * checkpoint's id instead of a map's seal. At the seal, while the module
 * still saves their writes: 0 stamped, 1 voided instead (mounted
 * read-write: nothing provable), or -errno.
 */
int boot_stamp_write_ckpt(const struct boot_entry *e,
			  const unsigned char id[16]);

/*
 * Before a checkpoint is re-attached or rolled back: was the device
 * written since the seal, while no module saved its old data? A page with
 * no stamp of this checkpoint (void, never stamped, another's, unreadable)
 * is BOOT_STAMP_UNCHECKED, its reason in @why.
 */
enum boot_stamp_verdict boot_stamp_check_ckpt(const struct boot_entry *e,
					      const unsigned char id[16],
					      char *why, size_t len);

/* Standard CRC32C (Castagnoli) of @len bytes, as the module's stores use. */
unsigned int boot_crc32c(const void *buf, size_t len);
unsigned int boot_crc32c_more(unsigned int crc, const void *buf, size_t len);

#endif /* __SNAPKEEP_BOOT_STAMP_H */
