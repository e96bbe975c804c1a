// SPDX-License-Identifier: GPL-2.0
/*
 * boot_store.c - make a store file and check a store's sectors.
 *
 * At boot the module writes the store as raw sectors of a device whose
 * file system is not mounted yet. Those sectors are the FIEMAP extents of
 * a file taken once, when tracking was enabled; the file is written (not
 * only fallocated: unwritten extents would read back as zeros through the
 * file system and their sectors may be shared by nothing else, but written
 * ones are plainly the file's) and immutable, so the file system neither
 * moves nor frees them while the file exists. Should the file still go
 * (root clears the flag and deletes it), its sectors no longer start with
 * a store: boot_store_probe() sees that and the module never writes
 * there.
 */
/* O_DIRECT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_log.h"
#include "boot_stamp.h"
#include "boot_store.h"

#define BOOT_SECTOR		512ULL
#define BOOT_FIEMAP_BATCH	256

int boot_store_offset(const struct boot_entry *e,
			     unsigned long long pos, unsigned long long *out)
{
	__u32 i;

	for (i = 0; i < e->count; i++) {
		unsigned long long len = e->ranges[i].count * BOOT_SECTOR;

		if (pos < len) {
			*out = e->ranges[i].start * BOOT_SECTOR + pos;
			return 0;
		}
		pos -= len;
	}
	return -ENOSPC;
}

/*
 * mkstore's read-back of the stamp page through the device: it must show
 * the fresh mark the file was written with.
 */
/*
 * The store device for reading with O_DIRECT (what is on the disk, not
 * what a cache kept), only if it is still the block device the entry
 * was resolved to; the fd, or -errno.
 */
static int boot_store_open(const struct boot_entry *e, dev_t store_dev)
{
	struct stat st;
	int fd;

	fd = open(e->store, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) ||
	    st.st_rdev != store_dev) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

int boot_store_probe_stamp(const struct boot_entry *e, dev_t store_dev)
{
	void *buf;
	int fd, ret;

	fd = boot_store_open(e, store_dev);
	if (fd < 0)
		return fd;
	if (posix_memalign(&buf, BOOT_STORE_PAGE, BOOT_STORE_PAGE)) {
		close(fd);
		return -ENOMEM;
	}
	if (pread(fd, buf, BOOT_STORE_PAGE, (off_t)(e->stamp * BOOT_SECTOR)) !=
	    BOOT_STORE_PAGE)
		ret = -EIO;
	else if (memcmp(buf, BOOT_STAMP_FRESH, sizeof(BOOT_STAMP_FRESH) - 1))
		ret = -EUCLEAN;
	else
		ret = 0;
	free(buf);
	close(fd);
	return ret;
}

int boot_store_probe(const struct boot_entry *e, dev_t store_dev)
{
	static const char magic[4] = { 'S', 'K', 'C', 'B' };
	unsigned long long off[2];
	void *buf;
	int fd, i, ret;

	for (i = 0; i < 2; i++)
		if (boot_store_offset(e, (unsigned long long)i *
				      BOOT_STORE_PAGE, &off[i]))
			return -ENOSPC;
	fd = boot_store_open(e, store_dev);
	if (fd < 0)
		return fd;
	if (posix_memalign(&buf, BOOT_STORE_PAGE, 2 * BOOT_STORE_PAGE)) {
		close(fd);
		return -ENOMEM;
	}
	ret = 0;
	for (i = 0; i < 2 && !ret; i++) {
		ssize_t n = pread(fd, (char *)buf + i * BOOT_STORE_PAGE,
				  BOOT_STORE_PAGE, (off_t)off[i]);

		if (n < 0)
			ret = -errno;
		else if (n != BOOT_STORE_PAGE)
			ret = -EIO;
	}
	if (!ret) {
		if (!memcmp(buf, magic, 4) ||
		    !memcmp((char *)buf + BOOT_STORE_PAGE, magic, 4))
			ret = BOOT_STORE_USED;
		else if (!memcmp(buf, BOOT_STORE_FRESH,
				 sizeof(BOOT_STORE_FRESH) - 1))
			ret = BOOT_STORE_FRESH_OK;
		else
			ret = BOOT_STORE_FOREIGN;
	}
	free(buf);
	close(fd);
	return ret;
}

static unsigned int boot_store_param(const char *name, unsigned int def)
{
	char path[128], text[32];
	unsigned long v;
	char *end;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/snapkeep/parameters/%s",
		 name);
	f = fopen(path, "re");
	if (!f)
		return def;
	if (!fgets(text, sizeof(text), f)) {
		fclose(f);
		return def;
	}
	fclose(f);
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || v == 0 || v > 1UL << 31)
		return def;
	return (unsigned int)v;
}

/* The module's sizing (cbt_map_new()), with the parameters it loaded with. */
unsigned long long boot_store_pages(unsigned long long bytes)
{
	unsigned int shift = boot_store_param("tracking_block_minimum_shift", 16);
	unsigned int max_shift = boot_store_param("tracking_block_maximum_shift", 26);
	unsigned int max_count = boot_store_param("tracking_block_maximum_count",
						  2097152);
	unsigned long long count;

	if (shift > 30 || max_shift > 30)
		shift = max_shift = 30;
	count = (bytes + (1ULL << shift) - 1) >> shift;
	while (count > max_count && shift < max_shift) {
		shift++;
		count = (bytes + (1ULL << shift) - 1) >> shift;
	}
	if (!count)
		count = 1;
	return 2 + (count + BOOT_STORE_PAGE - 1) / BOOT_STORE_PAGE;
}

/*
 * @pages pages: page 0 the store's fresh mark, the last @n the stamp pages
 * of @e[0..n-1] with theirs (the identity only helps a person reading it).
 */
static int boot_store_write(int fd, unsigned long long pages,
			    const struct boot_entry *e, unsigned int n)
{
	char page[BOOT_STORE_PAGE];
	unsigned long long i;

	for (i = 0; i < pages; i++) {
		const struct boot_entry *who = NULL;
		size_t done = 0;

		memset(page, 0, sizeof(page));
		if (i >= pages - n)
			who = &e[i - (pages - n)];
		else if (i == 0)
			who = &e[0];
		if (who)
			snprintf(page, sizeof(page), "%sidentity=%.*s\n",
				 i ? BOOT_STAMP_FRESH : BOOT_STORE_FRESH,
				 (int)who->identity_len, who->identity);
		while (done < sizeof(page)) {
			ssize_t w = write(fd, page + done, sizeof(page) - done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			done += (size_t)w;
		}
	}
	return fsync(fd) < 0 ? -errno : 0;
}

/* Extent flags whose sectors are not plainly this file's, at rest. */
#define BOOT_FIEMAP_BAD (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | \
			 FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED | \
			 FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE | \
			 FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_UNWRITTEN | \
			 FIEMAP_EXTENT_SHARED)

/* The file's extents, in file order, as sectors; merged when adjacent. */
static int boot_store_extents(int fd, unsigned long long bytes,
			      struct boot_entry *e)
{
	size_t size = sizeof(struct fiemap) +
		BOOT_FIEMAP_BATCH * sizeof(struct fiemap_extent);
	unsigned long long logical = 0;
	struct fiemap *fm;
	size_t cap = 16;
	int last = 0, ret = 0;

	fm = calloc(1, size);
	e->ranges = calloc(cap, sizeof(*e->ranges));
	e->count = 0;
	if (!fm || !e->ranges) {
		ret = -ENOMEM;
		goto out;
	}
	while (!last && logical < bytes) {
		__u32 i;

		memset(fm, 0, size);
		fm->fm_start = logical;
		fm->fm_length = bytes - logical;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = BOOT_FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			ret = -errno;
			goto out;
		}
		if (!fm->fm_mapped_extents) {
			ret = -ENODATA;
			goto out;
		}
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *x = &fm->fm_extents[i];
			struct snapkeep_sectors *r;

			/* A hole or a reordering: not one store. */
			if (x->fe_logical != logical ||
			    (x->fe_flags & BOOT_FIEMAP_BAD) ||
			    x->fe_physical % BOOT_STORE_PAGE ||
			    x->fe_length % BOOT_STORE_PAGE || !x->fe_length) {
				ret = -EINVAL;
				goto out;
			}
			r = e->count ? &e->ranges[e->count - 1] : NULL;
			if (r && (r->start + r->count) * BOOT_SECTOR ==
			    x->fe_physical) {
				r->count += x->fe_length / BOOT_SECTOR;
			} else {
				if (e->count == cap) {
					struct snapkeep_sectors *more;

					if (cap >= SNAPKEEP_MAX_RANGES) {
						ret = -E2BIG;
						goto out;
					}
					more = realloc(e->ranges, 2 * cap *
						       sizeof(*more));
					if (!more) {
						ret = -ENOMEM;
						goto out;
					}
					e->ranges = more;
					cap *= 2;
				}
				r = &e->ranges[e->count++];
				r->start = x->fe_physical / BOOT_SECTOR;
				r->count = x->fe_length / BOOT_SECTOR;
			}
			logical += x->fe_length;
			if (x->fe_flags & FIEMAP_EXTENT_LAST)
				last = 1;
		}
	}
	if (logical < bytes)
		ret = -ENODATA;
out:
	free(fm);
	return ret;
}

/*
 * The file's last @n pages become the stamp pages of @e[0..n-1], out of
 * the store's ranges (which @pages store pages keep), and every entry
 * gets its own copy of those ranges.
 */
static int boot_store_split(struct boot_entry *e, unsigned int n,
			    unsigned long long pages)
{
	unsigned long long off, keep = pages * BOOT_STORE_PAGE / BOOT_SECTOR;
	unsigned int i;
	__u32 k;

	for (i = 0; i < n; i++) {
		if (boot_store_offset(&e[0], (pages + i) * BOOT_STORE_PAGE, &off))
			return -EINVAL;
		e[i].stamp = off / BOOT_SECTOR;
		e[i].has_stamp = 1;
	}
	for (k = 0; k < e[0].count && keep; k++) {
		if (e[0].ranges[k].count >= keep) {
			e[0].ranges[k].count = keep;
			keep = 0;
		} else {
			keep -= e[0].ranges[k].count;
		}
	}
	if (keep || !k)
		return -EINVAL;
	e[0].count = k;
	for (i = 1; i < n; i++) {
		e[i].ranges = malloc(k * sizeof(*e[i].ranges));
		if (!e[i].ranges)
			return -ENOMEM;
		memcpy(e[i].ranges, e[0].ranges, k * sizeof(*e[i].ranges));
		e[i].count = k;
	}
	return 0;
}

static void boot_store_free_ranges(struct boot_entry *e, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		free(e[i].ranges);
		e[i].ranges = NULL;
		e[i].count = 0;
	}
}

int boot_store_create_n(const char *path, unsigned long long pages,
			dev_t store_dev, struct boot_entry *e, unsigned int n)
{
	unsigned long long total = pages + n;
	struct stat st;
	int fd, ret, flags;

	if (!n || !pages)
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	/* FIEMAP's sectors are of the file system's device, and only that. */
	if (st.st_dev != store_dev) {
		boot_log(BOOT_LOG_ERR, "%s is not on the store device %s",
			 path, e[0].store);
		ret = -EXDEV;
		goto out_unlink;
	}
	ret = boot_store_write(fd, total, e, n);
	if (ret)
		goto out_unlink;
	ret = boot_store_extents(fd, total * BOOT_STORE_PAGE, &e[0]);
	if (ret) {
		boot_log(BOOT_LOG_ERR,
			 "%s: its extents cannot hold a store (holes, shared, inline or unwritten blocks, or file system blocks under 4 KiB): %s",
			 path, strerror(-ret));
		goto out_unlink;
	}
	ret = boot_store_split(e, n, pages);
	if (ret)
		goto out_unlink;
	/*
	 * Immutable: no write, truncate, hole punch, move or delete by the
	 * file system while the flag is set, so the sectors stay the file's.
	 */
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	flags |= FS_IMMUTABLE_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	close(fd);
	return 0;

out_unlink:
	boot_store_free_ranges(e, n);
	unlink(path);
	close(fd);
	return ret;
}

int boot_store_create(const char *path, unsigned long long pages,
		      dev_t store_dev, struct boot_entry *e)
{
	return boot_store_create_n(path, pages, store_dev, e, 1);
}

int boot_store_remove(const char *path)
{
	int fd, flags, ret = 0;

	/* Not through a link: the file the config names, nothing else. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    (flags & FS_IMMUTABLE_FL)) {
		flags &= ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
			ret = -errno;
	}
	close(fd);
	if (!ret && unlink(path) < 0)
		ret = -errno;
	return ret;
}
