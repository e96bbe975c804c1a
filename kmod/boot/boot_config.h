/* SPDX-License-Identifier: GPL-2.0 */
/*
 * boot_config.h - the list of devices snapkeep-boot attaches at boot.
 *
 * /etc/snapkeep/boot.conf, one tracked device per line:
 *
 *	# comment
 *	track <device> identity=<id> store=<store device> ranges=<s>+<n>[,<s>+<n>]... [stamp=<s>] [nointent]
 *
 * <device> and <store device> are paths under /dev/, best the stable
 * names udev makes (/dev/disk/by-id/..., /dev/disk/by-partuuid/...): at
 * boot the kernel's names (sda, nvme0n1) may come in another order.
 * <id> is the identity the module keeps in the store (1..64 printable
 * characters, no spaces). The ranges are 512-byte sectors of the store
 * device, in store order, each 4096-byte aligned: the extents of a written,
 * immutable file taken when tracking was enabled, so they are right
 * without mounting its file system. nointent attaches without write intent
 * (only a seal then lets the map continue). stamp= is the first sector of
 * one more 4096-byte page of the store file, outside its ranges, where
 * the seal records the device's file system counters (boot_stamp.h); a
 * line without it is attached unchecked for writes while the module was
 * absent (stores made before the stamp existed).
 *
 * A checkpoint's devices (docs/kernel-module.md, "Checkpoints"), one line
 * per device, the lines of one checkpoint naming the same store= and
 * ranges= (its store), in the checkpoint's device order:
 *
 *	checkpoint <device> identity=<id> store=<store device> ranges=... [stamp=<s>] [file=<path>]
 * (stamp=: a page of its own per device line, where the seal stamps the
 * device for the next attach and rollback to compare; boot_stamp.h).
 * file= is the absolute path of the store file on its file system, as
 * `snapkeep-boot checkpoint create` made it: only informational (the
 * boot never opens it), so that `checkpoint remove` can delete the file
 * with the lines. Optional on any line; lines without it stay valid.
 *
 * The parser trusts nothing: every number is range-checked, every line
 * length and count capped; a bad line is reported with its number and left
 * out, the others stay usable.
 */
#ifndef __SNAPKEEP_BOOT_CONFIG_H
#define __SNAPKEEP_BOOT_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "snapkeep.h"

#define BOOT_CONFIG_PATH	"/etc/snapkeep/boot.conf"
/* A fragmented 1 GiB store is far below this; a garbage file is not. */
#define BOOT_CONFIG_MAX_BYTES	(8U << 20)
#define BOOT_CONFIG_MAX_ENTRIES	SNAPKEEP_MAX_DEVICES
#define BOOT_PATH_MAX		256

/* boot_entry.kind */
#define BOOT_ENTRY_TRACK	0	/* a persistent change map */
#define BOOT_ENTRY_CHECKPOINT	1	/* a device of a checkpoint */

/**
 * struct boot_entry - one tracked device of the config.
 * @line: line number in the file (for messages).
 * @kind: BOOT_ENTRY_*.
 * @device: path of the device to track.
 * @store: path of the block device holding the store.
 * @identity: identity bytes, NUL-padded.
 * @identity_len: bytes of @identity used.
 * @flags: SNAPKEEP_PERSIST_* for the ioctl.
 * @has_stamp: @stamp was given.
 * @stamp: first sector of the stamp page on the store device.
 * @count: number of @ranges.
 * @ranges: the store's sectors in store order (malloc'd, owned).
 * @has_file: @file was given.
 * @file: the store file's path (file=), informational.
 */
struct boot_entry {
	unsigned int line;
	int kind;
	char device[BOOT_PATH_MAX];
	char store[BOOT_PATH_MAX];
	char identity[SNAPKEEP_PERSIST_IDENTITY_LEN];
	size_t identity_len;
	__u32 flags;
	int has_stamp;
	__u64 stamp;
	__u32 count;
	struct snapkeep_sectors *ranges;
	int has_file;
	char file[BOOT_PATH_MAX];
};

/**
 * struct boot_config - a parsed config.
 * @entries: the valid entries, in file order (malloc'd, owned).
 * @count: number of @entries.
 * @errors: lines left out, each reported through boot_log().
 */
struct boot_config {
	struct boot_entry *entries;
	unsigned int count;
	unsigned int errors;
};

/* Load and parse @path; -errno when the file itself cannot be used. */
int boot_config_load(const char *path, int need_root_owner,
		     struct boot_config *cfg);
/* Parse @len bytes of @text; @name only labels messages. */
int boot_config_parse(const char *text, size_t len, const char *name,
		      struct boot_config *cfg);
void boot_config_free(struct boot_config *cfg);
/* The entry as a config line, newline included. */
int boot_config_write_entry(const struct boot_entry *e, FILE *out);

/*
 * The config's bytes (*@text NULL, *@len 0 and *@mode 0 when it does not
 * exist) and its permission bits; 0 or -errno.
 */
int boot_config_read_text(const char *path, char **text, size_t *len,
			  unsigned int *mode);
/*
 * Replaces the config with @len bytes of @text, atomically: a temporary
 * file beside it, synced, renamed over it, the directory synced. @mode:
 * its permission bits (group and others never write it).
 */
int boot_config_save(const char *path, const char *text, size_t len,
		     unsigned int mode);

#endif /* __SNAPKEEP_BOOT_CONFIG_H */
