// SPDX-License-Identifier: GPL-2.0
/*
 * boot_stamp.c - the stamp of a seal: the device's file system counters,
 * recorded at shutdown and compared at the next attach (boot_stamp.h has
 * the layout and the reasons).
 *
 * Everything read here is hostile: the store's metadata and the stamp are
 * checked by magic, CRC32C, identity, generation and sequence; the device
 * is only read. The only write is the stamp page, and only over a page
 * that already is this store's stamp page: the fresh mark mkstore wrote,
 * or a valid stamp of the same identity. Anything else there means the
 * config's sector is not (or no longer) the store file's page.
 */
/* O_DIRECT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot_log.h"
#include "boot_stamp.h"
#include "boot_store.h"

#define BOOT_STAMP_MAGIC	"SKST"
#define BOOT_STAMP_VERSION	1
#define BOOT_STAMP_REC		128	/* offset of the record */
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

enum boot_fs_kind {
	BOOT_FS_UNKNOWN,
	BOOT_FS_EXT,
	BOOT_FS_XFS,
};

/* The store's metadata copy, as far as the stamp needs it. */
struct boot_meta {
	unsigned char generation[16];
	unsigned long long sequence;
	unsigned long long time;
	int sealed;
};

/* What a device's first 4 KiB say about its contents. */
struct boot_record {
	enum boot_fs_kind kind;
	unsigned int len;
	unsigned char bytes[1024];
};

/* ---- helpers ---- */

static unsigned int boot_crc_table[256];

unsigned int boot_crc32c(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	unsigned int crc = ~0U;
	size_t i;

	if (!boot_crc_table[1]) {
		unsigned int n, k, c;

		for (n = 0; n < 256; n++) {
			c = n;
			for (k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
			boot_crc_table[n] = c;
		}
	}
	for (i = 0; i < len; i++)
		crc = boot_crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static unsigned long long le(const unsigned char *p, unsigned int n)
{
	unsigned long long v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static unsigned long long be(const unsigned char *p, unsigned int n)
{
	unsigned long long v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_le(unsigned char *p, unsigned long long v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* A page's CRC32C with its field at offset 8 taken as zero. */
static unsigned int boot_page_crc(const unsigned char *page)
{
	unsigned char *copy = malloc(BOOT_STORE_PAGE);
	unsigned int crc;

	if (!copy)
		return 0;
	memcpy(copy, page, BOOT_STORE_PAGE);
	memset(copy + 8, 0, 4);
	crc = boot_crc32c(copy, BOOT_STORE_PAGE);
	free(copy);
	return crc;
}

/* Opens a block device for direct I/O; its number must be @want if set. */
static int boot_open_dev(const char *path, int flags, dev_t want)
{
	struct stat st;
	int fd = open(path, flags | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) ||
	    (want && st.st_rdev != want)) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

static int boot_pread_page(int fd, void *buf, unsigned long long off)
{
	ssize_t n = pread(fd, buf, BOOT_STORE_PAGE, (off_t)off);

	if (n < 0)
		return -errno;
	return n == BOOT_STORE_PAGE ? 0 : -EIO;
}

/* ---- the store's metadata (cbt_store.h's layout) ---- */

/* The newest valid metadata copy of the store, or -ENOENT. */
static int boot_meta_read(const struct boot_entry *e, int fd, void *page,
			  struct boot_meta *m)
{
	unsigned long long off;
	unsigned char *p = page;
	int i, found = 0, ret;

	for (i = 0; i < 2; i++) {
		if (boot_store_offset(e, (unsigned long long)i * BOOT_STORE_PAGE,
				      &off))
			return -ENOSPC;
		ret = boot_pread_page(fd, p, off);
		if (ret)
			return ret;
		if (memcmp(p, "SKCB", 4) || le(p + 8, 4) != boot_page_crc(p))
			continue;
		/* Only a version-1 copy of this device is worth stamping. */
		if (le(p + 4, 4) != 1 ||
		    memcmp(p + 96, e->identity, SNAPKEEP_PERSIST_IDENTITY_LEN))
			continue;
		if (found && le(p + 16, 8) <= m->sequence)
			continue;
		found = 1;
		memcpy(m->generation, p + 48, 16);
		m->sequence = le(p + 16, 8);
		m->time = le(p + 72, 8);
		m->sealed = le(p + 12, 4) & 1;
	}
	return found ? 0 : -ENOENT;
}

/* ---- the device's record ---- */

static int boot_record_read(const char *device, void *page,
			    struct boot_record *r)
{
	unsigned char *p = page;
	int fd, ret;

	fd = boot_open_dev(device, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	ret = boot_pread_page(fd, p, 0);
	close(fd);
	if (ret)
		return ret;
	memset(r, 0, sizeof(*r));
	if (le(p + 1024 + 0x38, 2) == 0xef53) {
		r->kind = BOOT_FS_EXT;
		r->len = 1024;
		memcpy(r->bytes, p + 1024, 1024);
	} else if (!memcmp(p, "XFSB", 4)) {
		r->kind = BOOT_FS_XFS;
		r->len = 512;
		memcpy(r->bytes, p, 512);
	}
	return 0;
}

static const char *boot_kind_name(enum boot_fs_kind kind,
				  const unsigned char *sb)
{
	if (kind == BOOT_FS_XFS)
		return "xfs";
	if (kind != BOOT_FS_EXT)
		return "unknown contents";
	if (le(sb + 0x60, 4) & 0x40)		/* INCOMPAT_EXTENTS */
		return "ext4";
	return le(sb + 0x5c, 4) & 0x4 ? "ext3" : "ext2";	/* HAS_JOURNAL */
}

/* The first counter that moved between @was and @now, for the log. */
static void boot_record_diff(const struct boot_record *was,
			     const struct boot_record *now, const char *when,
			     char *why, size_t len)
{
	static const struct {
		const char *name;
		unsigned int off, size;
	} ext[] = {
		{ "mount count", 0x34, 2 },
		{ "kbytes written", 0x178, 8 },
		{ "write time", 0x30, 4 },
		{ "mount time", 0x2c, 4 },
		{ "state", 0x3a, 2 },
		{ "incompatible features", 0x60, 4 },
	};
	const char *name = boot_kind_name(was->kind, was->bytes);
	unsigned int i;

	if (was->kind != now->kind) {
		snprintf(why, len, "the device held %s at the seal of %s, now %s",
			 name, when, boot_kind_name(now->kind, now->bytes));
		return;
	}
	if (was->kind == BOOT_FS_EXT) {
		for (i = 0; i < ARRAY_SIZE(ext); i++) {
			unsigned long long a = le(was->bytes + ext[i].off,
						  ext[i].size);
			unsigned long long b = le(now->bytes + ext[i].off,
						  ext[i].size);

			if (a != b) {
				snprintf(why, len,
					 "%s %s %llu -> %llu since the seal of %s",
					 name, ext[i].name, a, b, when);
				return;
			}
		}
	} else if (was->kind == BOOT_FS_XFS &&
		   be(was->bytes + 240, 8) != be(now->bytes + 240, 8)) {
		snprintf(why, len,
			 "xfs superblock log sequence %llu:%llu -> %llu:%llu since the seal of %s",
			 be(was->bytes + 240, 4), be(was->bytes + 244, 4),
			 be(now->bytes + 240, 4), be(now->bytes + 244, 4), when);
		return;
	}
	snprintf(why, len, "%s superblock changed since the seal of %s", name,
		 when);
}

static void boot_stamp_when(unsigned long long secs, char out[32])
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (!secs || !gmtime_r(&t, &tm) ||
	    !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "(unknown time)");
}

/* ---- the stamp page ---- */

/* 1 when @p is a valid stamp of this entry's identity. */
static int boot_stamp_valid(const struct boot_entry *e,
			    const unsigned char *p)
{
	unsigned char id[SNAPKEEP_PERSIST_IDENTITY_LEN] = { 0 };

	memcpy(id, e->identity, e->identity_len);
	return !memcmp(p, BOOT_STAMP_MAGIC, 4) &&
	       le(p + 4, 4) == BOOT_STAMP_VERSION &&
	       le(p + 8, 4) == boot_page_crc(p) &&
	       !memcmp(p + 48, id, sizeof(id)) &&
	       le(p + 12, 4) <= BOOT_FS_XFS &&
	       le(p + 112, 4) <= 1024;
}

enum boot_stamp_verdict boot_stamp_check(const struct boot_entry *e,
					 char *why, size_t len)
{
	struct boot_record was, now;
	unsigned long long off;
	struct boot_meta m;
	char when[32];
	void *page;
	unsigned char *p;
	int fd, ret;
	enum boot_stamp_verdict v = BOOT_STAMP_WRITTEN;

	if (!e->has_stamp) {
		snprintf(why, len,
			 "the store has no stamp page (made before it existed: make it again with mkstore)");
		return BOOT_STAMP_UNCHECKED;
	}
	if (posix_memalign(&page, BOOT_STORE_PAGE, BOOT_STORE_PAGE)) {
		snprintf(why, len, "out of memory");
		return BOOT_STAMP_WRITTEN;
	}
	p = page;
	fd = boot_open_dev(e->store, O_RDONLY, 0);
	if (fd < 0) {
		snprintf(why, len, "cannot read the stamp on %s: %s", e->store,
			 strerror(-fd));
		goto out;
	}
	ret = boot_meta_read(e, fd, page, &m);
	if (ret == -ENOENT || (!ret && !m.sealed)) {
		/*
		 * No seal to compare with: the module restarts (no valid
		 * copy) or continues under write intent after a crash, when
		 * no stamp can exist. Either way not checkable here.
		 */
		close(fd);
		snprintf(why, len, "the store is not sealed: nothing to compare");
		v = BOOT_STAMP_UNCHECKED;
		goto out;
	}
	if (ret) {
		close(fd);
		snprintf(why, len, "cannot read the store's metadata: %s",
			 strerror(-ret));
		goto out;
	}
	boot_stamp_when(m.time, when);
	off = e->stamp * 512ULL;
	ret = boot_pread_page(fd, page, off);
	close(fd);
	if (ret) {
		snprintf(why, len, "cannot read the stamp: %s", strerror(-ret));
		goto out;
	}
	if (!boot_stamp_valid(e, p)) {
		snprintf(why, len,
			 "the seal of %s left no valid stamp (missing, corrupt or foreign): writes after it cannot be ruled out",
			 when);
		goto out;
	}
	if (le(p + 16, 8) != m.sequence || memcmp(p + 24, m.generation, 16)) {
		snprintf(why, len,
			 "the stamp belongs to an older seal (sequence %llu, the seal of %s is %llu): writes after it cannot be ruled out",
			 le(p + 16, 8), when, m.sequence);
		goto out;
	}
	memset(&was, 0, sizeof(was));
	was.kind = (enum boot_fs_kind)le(p + 12, 4);
	was.len = (unsigned int)le(p + 112, 4);
	memcpy(was.bytes, p + BOOT_STAMP_REC, was.len);
	ret = boot_record_read(e->device, page, &now);
	if (ret) {
		snprintf(why, len, "cannot read %s: %s", e->device,
			 strerror(-ret));
		goto out;
	}
	if (was.kind != now.kind || was.len != now.len ||
	    memcmp(was.bytes, now.bytes, was.len)) {
		boot_record_diff(&was, &now, when, why, len);
		goto out;
	}
	if (was.kind == BOOT_FS_UNKNOWN) {
		snprintf(why, len,
			 "unknown contents (no ext2/3/4 or xfs superblock): writes while the module was absent cannot be checked");
		v = BOOT_STAMP_UNCHECKED;
		goto out;
	}
	snprintf(why, len, "%s unchanged since the seal of %s",
		 boot_kind_name(was.kind, was.bytes), when);
	v = BOOT_STAMP_SAME;
out:
	free(page);
	return v;
}

int boot_stamp_write(const struct boot_entry *e)
{
	struct boot_record rec;
	struct boot_meta m;
	unsigned long long off = e->stamp * 512ULL;
	unsigned char *p;
	void *page;
	int fd, ret;

	if (!e->has_stamp)
		return 0;
	if (posix_memalign(&page, BOOT_STORE_PAGE, BOOT_STORE_PAGE))
		return -ENOMEM;
	p = page;
	/* The device first: the record must be what it is after the seal. */
	ret = boot_record_read(e->device, page, &rec);
	if (ret)
		goto out_free;
	fd = boot_open_dev(e->store, O_RDWR, 0);
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	ret = boot_meta_read(e, fd, page, &m);
	if (!ret && !m.sealed)
		ret = -EUCLEAN;
	if (ret) {
		boot_log(BOOT_LOG_ERR,
			 "%s: the store's newest metadata is not a seal of this device (%s): no stamp written",
			 e->device, strerror(-ret));
		goto out_close;
	}
	ret = boot_pread_page(fd, page, off);
	if (ret)
		goto out_close;
	if (memcmp(p, BOOT_STAMP_FRESH, sizeof(BOOT_STAMP_FRESH) - 1) &&
	    !boot_stamp_valid(e, p)) {
		boot_log(BOOT_LOG_ERR,
			 "%s: sector %llu of %s is not this store's stamp page: nothing written there (the next boot restarts the map)",
			 e->device, (unsigned long long)e->stamp, e->store);
		ret = -EUCLEAN;
		goto out_close;
	}
	memset(p, 0, BOOT_STORE_PAGE);
	memcpy(p, BOOT_STAMP_MAGIC, 4);
	put_le(p + 4, BOOT_STAMP_VERSION, 4);
	put_le(p + 12, rec.kind, 4);
	put_le(p + 16, m.sequence, 8);
	memcpy(p + 24, m.generation, 16);
	put_le(p + 40, (unsigned long long)time(NULL), 8);
	memcpy(p + 48, e->identity, e->identity_len);
	put_le(p + 112, rec.len, 4);
	memcpy(p + BOOT_STAMP_REC, rec.bytes, rec.len);
	put_le(p + 8, boot_page_crc(p), 4);
	if (pwrite(fd, p, BOOT_STORE_PAGE, (off_t)off) != BOOT_STORE_PAGE) {
		ret = errno ? -errno : -EIO;
		goto out_close;
	}
	/* O_DIRECT is not durable by itself: flush the device's cache. */
	if (fsync(fd) < 0)
		ret = -errno;
out_close:
	close(fd);
out_free:
	free(page);
	return ret;
}
