/* SPDX-License-Identifier: GPL-2.0 */
/*
 * boot_store.h - the store of a persistent change map, seen from user
 * space: making one when tracking is enabled, and telling at boot whether
 * the sectors the config names still hold it.
 */
#ifndef __SNAPKEEP_BOOT_STORE_H
#define __SNAPKEEP_BOOT_STORE_H

#include <sys/types.h>

#include "boot_config.h"

#define BOOT_STORE_PAGE		4096
/*
 * Page 0 of a store file the module never used. The module's own pages
 * start with its magic ("SKCB", docs/kernel-module.md); anything else in
 * both metadata pages means the ranges point at somebody else's data.
 */
#define BOOT_STORE_FRESH	"snapkeep-store fresh\n"

enum boot_store_state {
	BOOT_STORE_USED,	/* a metadata page carries the module's magic */
	BOOT_STORE_FRESH_OK,	/* made by mkstore, never attached */
	BOOT_STORE_FOREIGN,	/* neither: do not let the module write there */
};

/* Byte @pos of the store, in store order -> byte offset on its device. */
int boot_store_offset(const struct boot_entry *e, unsigned long long pos,
		      unsigned long long *out);

/* Reads the store's two metadata pages from its device; state or -errno. */
int boot_store_probe(const struct boot_entry *e, dev_t store_dev);

/* mkstore's check that the stamp page reads back fresh; 0 or -errno. */
int boot_store_probe_stamp(const struct boot_entry *e, dev_t store_dev);

/* Pages a store needs for a device of @bytes with the loaded (or default) parameters. */
unsigned long long boot_store_pages(unsigned long long bytes);

/*
 * Creates @path (must not exist) on the file system of @store_dev: @pages
 * written pages, page 0 the fresh mark, and one more, the stamp page with
 * its fresh mark; synced, its extents read with FIEMAP into @e (ranges and
 * count for the @pages, stamp for the last) and the file made immutable.
 */
int boot_store_create(const char *path, unsigned long long pages,
		      dev_t store_dev, struct boot_entry *e);

/*
 * As boot_store_create(), for a checkpoint of @n devices: @pages store
 * pages and @n stamp pages, one per device; @e[i] gets the ranges (its own
 * copy) and the stamp page of device i. Nothing is left behind on error.
 */
int boot_store_create_n(const char *path, unsigned long long pages,
			dev_t store_dev, struct boot_entry *e, unsigned int n);

/* Clears the immutable flag of a store file and deletes it; 0 or -errno. */
int boot_store_remove(const char *path);

#endif /* __SNAPKEEP_BOOT_STORE_H */
