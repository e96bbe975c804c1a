/* SPDX-License-Identifier: GPL-2.0 */
/*
 * boot_stamp.h - was the device written while the module was absent?
 *
 * A seal proves the map exact up to the seal. Whatever writes the device
 * after it and before the next attach (another system, a rescue stick, a
 * boot with snapkeep_boot=off, an initrd without the module) is in no
 * map. So right after the seal, snapkeep-boot seal reads what the device's
 * file system changes on any read-write use (ext2/3/4: the superblock,
 * with its mount count, write and mount times, kbytes written and state;
 * xfs: the superblock, whose v5 log sequence number moves whenever it is
 * written back) and writes it into the stamp page, one more page of the
 * store file that the module never owns. Attach compares: same bytes, the
 * map continues; anything else, it restarts with reason "absent".
 *
 * Stamp page, version 1, little-endian, 4096 bytes, the rest zero:
 *
 *	0   magic "SKST"            4   version (1)
 *	8   CRC32C of the page with this field zero (as the store's pages)
 *	12  kind: 0 unknown contents, 1 ext2/3/4, 2 xfs
 *	16  sequence of the sealed metadata copy it belongs to
 *	24  generation of that copy (16 bytes)
 *	40  time of the stamp (seconds since the epoch)
 *	48  identity (64 bytes, NUL-padded, as in the store)
 *	112 length of the record (0, 1024 or 512)
 *	116 zero (12 bytes)
 *	128 the record: ext: device bytes 1024..2047; xfs: bytes 0..511
 */
#ifndef __SNAPKEEP_BOOT_STAMP_H
#define __SNAPKEEP_BOOT_STAMP_H

#include <stddef.h>
#include <sys/types.h>

#include "boot_config.h"

/* The stamp page mkstore leaves: never stamped yet. */
#define BOOT_STAMP_FRESH	"snapkeep-stamp fresh\n"

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

/* At seal, after DETACH sealed the store: write the stamp; 0 or -errno. */
int boot_stamp_write(const struct boot_entry *e);

/* Standard CRC32C (Castagnoli) of @len bytes, as the module's stores use. */
unsigned int boot_crc32c(const void *buf, size_t len);

#endif /* __SNAPKEEP_BOOT_STAMP_H */
