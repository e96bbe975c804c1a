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
#include <limits.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "boot_log.h"
#include "boot_stamp.h"
#include "boot_store.h"

#define BOOT_STAMP_MAGIC	"SKST"
#define BOOT_STAMP_VERSION	1
#define BOOT_STAMP_REC		128	/* offset of the regions */
/* Regions of 64 bytes that fit the page after the header. */
#define BOOT_STAMP_MAX		((BOOT_STORE_PAGE - BOOT_STAMP_REC) / 64)
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

enum boot_fs_kind {
	BOOT_FS_UNKNOWN,
	BOOT_FS_EXT,
	BOOT_FS_XFS,
	BOOT_FS_TABLE,		/* an MBR or GPT partition table */
};

/* The store's metadata copy, as far as the stamp needs it. */
struct boot_meta {
	unsigned char generation[16];
	unsigned long long sequence;
	unsigned long long time;
	int sealed;
};

/*
 * One region of the device: the device itself, its partition table, or
 * one partition. @crc covers what its kind changes on any read-write use
 * (a file system's superblock, the table's sectors); @v are the counters
 * the log names (ext: mount count, kbytes written, write time, mount
 * time, incompatible features << 16 | state; xfs: superblock LSN).
 */
struct boot_region {
	unsigned long long offset;
	unsigned int kind;
	unsigned int crc;
	unsigned long long v[5];
	unsigned int number;
};

/* What a device looks like at the seal or now. */
struct boot_layout {
	unsigned int count;
	int truncated;		/* more partitions than a stamp holds */
	int in_use;		/* mounted read-write at the seal */
	struct boot_region r[BOOT_STAMP_MAX];
};

/* ---- helpers ---- */

static unsigned int boot_crc_table[256];

static unsigned int boot_crc32c_update(unsigned int crc, const void *buf,
				       size_t len)
{
	const unsigned char *p = buf;
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
	return crc;
}

unsigned int boot_crc32c(const void *buf, size_t len)
{
	return ~boot_crc32c_update(~0U, buf, len);
}

/* Continues: boot_crc32c_more(boot_crc32c(a), b) is the CRC of a + b. */
unsigned int boot_crc32c_more(unsigned int crc, const void *buf, size_t len)
{
	return ~boot_crc32c_update(~crc, buf, len);
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

/* ---- mounted read-write? ---- */

/* The sysfs directory of a block device number, resolved; 0 or -1. */
static int boot_sysfs_dir(unsigned int maj, unsigned int min, char *out,
			  size_t len)
{
	char link[64];

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", maj, min);
	if (!realpath(link, out))
		return -1;
	out[len - 1] = '\0';
	return 0;
}

/*
 * 1 when the device or one of its partitions is mounted read-write now
 * (/proc/self/mountinfo). At the seal that means the file system goes on
 * writing after it. Stacked devices (LVM, LUKS) are not followed.
 */
static int boot_mounted_rw(const char *device)
{
	char dev_dir[PATH_MAX], dir[PATH_MAX], line[4096], opts[256];
	unsigned int maj, min;
	struct stat st;
	int found = 0;
	size_t n;
	FILE *f;

	if (stat(device, &st) < 0 || !S_ISBLK(st.st_mode) ||
	    boot_sysfs_dir(major(st.st_rdev), minor(st.st_rdev), dev_dir,
			   sizeof(dev_dir)))
		return 0;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	n = strlen(dev_dir);
	while (!found && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint options ... */
		if (sscanf(line, "%*u %*u %u:%u %*s %*s %255s", &maj, &min,
			   opts) != 3)
			continue;
		if (strncmp(opts, "rw", 2) || (opts[2] && opts[2] != ','))
			continue;
		if (boot_sysfs_dir(maj, min, dir, sizeof(dir)))
			continue;
		/* The device itself, or a partition (a subdirectory of it). */
		if (!strcmp(dir, dev_dir) ||
		    (!strncmp(dir, dev_dir, n) && dir[n] == '/' &&
		     !strchr(dir + n + 1, '/')))
			found = 1;
	}
	fclose(f);
	return found;
}

/* ---- the device's layout ---- */

/* @page (4 KiB read at @off) as a file system region, if it is one. */
static int boot_region_fs(const unsigned char *p, unsigned long long off,
			  struct boot_region *r)
{
	const unsigned char *sb = p + 1024;

	memset(r, 0, sizeof(*r));
	r->offset = off;
	if (le(sb + 0x38, 2) == 0xef53) {
		r->kind = BOOT_FS_EXT;
		r->crc = boot_crc32c(sb, 1024);
		r->v[0] = le(sb + 0x34, 2);		/* s_mnt_count */
		r->v[1] = le(sb + 0x178, 8);		/* s_kbytes_written */
		r->v[2] = le(sb + 0x30, 4);		/* s_wtime */
		r->v[3] = le(sb + 0x2c, 4);		/* s_mtime */
		r->v[4] = le(sb + 0x60, 4) << 16 | le(sb + 0x3a, 2);
		return 1;
	}
	if (!memcmp(p, "XFSB", 4)) {
		r->kind = BOOT_FS_XFS;
		r->crc = boot_crc32c(p, 512);
		r->v[0] = be(p + 240, 8);		/* sb_lsn (v5) */
		return 1;
	}
	return 0;
}

/* Reads and examines the partition at @off (bytes) of @size bytes. */
static int boot_region_read(int fd, void *page, unsigned long long off,
			    unsigned long long dev_bytes, unsigned int number,
			    struct boot_region *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->offset = off;
	r->number = number;
	if (off > dev_bytes || dev_bytes - off < BOOT_STORE_PAGE)
		return 0;	/* beyond the device: unknown */
	ret = boot_pread_page(fd, page, off);
	if (ret)
		return ret;
	boot_region_fs(page, off, r);
	r->number = number;
	return 0;
}

/* Adds a partition region; the stamp holds BOOT_STAMP_MAX regions. */
static int boot_layout_add(struct boot_layout *l, int fd, void *page,
			   unsigned long long off, unsigned long long dev_bytes,
			   unsigned int number)
{
	if (l->count >= BOOT_STAMP_MAX) {
		l->truncated = 1;
		return 0;
	}
	return boot_region_read(fd, page, off, dev_bytes, number,
				&l->r[l->count++]);
}

#define BOOT_GPT_MAX_ENTRIES	256
#define BOOT_EBR_MAX		64

/* A GPT: header at LBA 1, its entries; @crc continues over both. */
static int boot_layout_gpt(struct boot_layout *l, int fd, void *page,
			   unsigned int lbs, unsigned long long dev_bytes)
{
	unsigned long long entries_lba, first, last, off;
	unsigned int n, size, i, crc = l->r[0].crc;
	unsigned char *p = page, *ents;
	size_t bytes, got;
	int ret;

	ret = boot_pread_page(fd, page, lbs);
	if (ret)
		return ret;
	if (memcmp(p, "EFI PART", 8))
		return 0;	/* protective MBR without a GPT: the table only */
	entries_lba = le(p + 72, 8);
	n = (unsigned int)le(p + 80, 4);
	size = (unsigned int)le(p + 84, 4);
	crc = boot_crc32c_update(crc, p, lbs < BOOT_STORE_PAGE ? lbs : BOOT_STORE_PAGE);
	bytes = (size_t)n * size;
	/* Whole pages, O_DIRECT: 256 * 1024 bytes at most. */
	got = (bytes + BOOT_STORE_PAGE - 1) / BOOT_STORE_PAGE * BOOT_STORE_PAGE;
	if (n > BOOT_GPT_MAX_ENTRIES || size < 128 || size > 1024 || size % 8 ||
	    entries_lba > dev_bytes / lbs ||
	    dev_bytes - entries_lba * lbs < got) {
		l->truncated = 1;
		l->r[0].crc = crc;
		return 0;
	}
	if (posix_memalign((void **)&ents, BOOT_STORE_PAGE, got ? got : BOOT_STORE_PAGE))
		return -ENOMEM;
	for (i = 0; i < got / BOOT_STORE_PAGE; i++) {
		ret = boot_pread_page(fd, ents + (size_t)i * BOOT_STORE_PAGE,
				      entries_lba * lbs +
				      (unsigned long long)i * BOOT_STORE_PAGE);
		if (ret) {
			free(ents);
			return ret;
		}
	}
	l->r[0].crc = boot_crc32c_update(crc, ents, bytes);
	for (i = 0; i < n && !ret; i++) {
		const unsigned char *e = ents + (size_t)i * size;
		static const unsigned char zero[16];

		if (!memcmp(e, zero, 16))
			continue;
		first = le(e + 32, 8);
		last = le(e + 40, 8);
		if (last < first || first > dev_bytes / lbs)
			continue;
		off = first * lbs;
		ret = boot_layout_add(l, fd, page, off, dev_bytes, i + 1);
	}
	free(ents);
	return ret;
}

/* MBR primaries 1-4, logical partitions 5... through the EBR chain. */
static int boot_layout_mbr(struct boot_layout *l, int fd, void *page,
			   const unsigned char *mbr, unsigned int lbs,
			   unsigned long long dev_bytes)
{
	unsigned long long ext = 0, ebr, start;
	unsigned int i, k, number = 5;
	unsigned char *p = page;
	unsigned char sector[512];
	int ret = 0;

	for (i = 0; i < 4 && !ret; i++) {
		const unsigned char *e = mbr + 446 + 16 * i;
		unsigned int type = e[4];

		start = le(e + 8, 4);
		if (!type || !le(e + 12, 4))
			continue;
		if (type == 0x05 || type == 0x0f || type == 0x85) {
			if (!ext)
				ext = start;
			continue;
		}
		ret = boot_layout_add(l, fd, page, start * lbs, dev_bytes, i + 1);
	}
	/* Logical partitions: each EBR names one and the next EBR. */
	for (ebr = ext, k = 0; ebr && !ret && k < BOOT_EBR_MAX; k++) {
		if (ebr > dev_bytes / lbs)
			break;
		ret = boot_pread_page(fd, page, ebr * lbs);
		if (ret || le(p + 510, 2) != 0xaa55)
			break;
		memcpy(sector, p, sizeof(sector));
		l->r[0].crc = boot_crc32c_update(l->r[0].crc, sector, sizeof(sector));
		if (sector[446 + 4] && le(sector + 446 + 12, 4))
			ret = boot_layout_add(l, fd, page,
					      (ebr + le(sector + 446 + 8, 4)) * lbs,
					      dev_bytes, number++);
		start = le(sector + 462 + 8, 4);
		ebr = sector[462 + 4] && start ? ext + start : 0;
	}
	if (k == BOOT_EBR_MAX)
		l->truncated = 1;
	return ret;
}

/*
 * The device's layout: one file system on the whole device, or its
 * partition table and each partition, or unknown contents.
 */
static int boot_layout_read(const char *device, void *page,
			    struct boot_layout *l)
{
	unsigned long long dev_bytes = 0;
	unsigned char mbr[512];
	unsigned char *p = page;
	int fd, ret, lbs = 0, i, sane = 1;

	memset(l, 0, sizeof(*l));
	fd = boot_open_dev(device, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	if (ioctl(fd, BLKGETSIZE64, &dev_bytes) < 0 ||
	    ioctl(fd, BLKSSZGET, &lbs) < 0) {
		ret = -errno;
		goto out;
	}
	ret = boot_pread_page(fd, page, 0);
	if (ret)
		goto out;
	l->count = 1;
	if (boot_region_fs(p, 0, &l->r[0]))
		goto out;
	memcpy(mbr, p, sizeof(mbr));
	for (i = 0; i < 4; i++)
		if (mbr[446 + 16 * i] & 0x7f)	/* boot flag 0x00 or 0x80 */
			sane = 0;
	if (le(mbr + 510, 2) != 0xaa55 || !sane ||
	    (lbs != 512 && lbs != BOOT_STORE_PAGE))
		goto out;	/* unknown contents */
	l->r[0].kind = BOOT_FS_TABLE;
	l->r[0].crc = boot_crc32c_update(~0U, mbr, sizeof(mbr));
	if (mbr[446 + 4] == 0xee)
		ret = boot_layout_gpt(l, fd, page, (unsigned int)lbs, dev_bytes);
	else
		ret = boot_layout_mbr(l, fd, page, mbr, (unsigned int)lbs,
				      dev_bytes);
out:
	close(fd);
	return ret;
}

static const char *boot_kind_name(const struct boot_region *r)
{
	switch (r->kind) {
	case BOOT_FS_XFS:
		return "xfs";
	case BOOT_FS_TABLE:
		return "a partition table";
	case BOOT_FS_EXT:
		if ((r->v[4] >> 16) & 0x40)	/* INCOMPAT_EXTENTS */
			return "ext4";
		return "ext2/3";
	default:
		return "unknown contents";
	}
}

/* "partition 2 (ext4)" or "ext4" for the device itself. */
static void boot_region_name(const struct boot_region *r, char *out,
			     size_t len)
{
	if (r->number)
		snprintf(out, len, "partition %u (%s)", r->number,
			 boot_kind_name(r));
	else
		snprintf(out, len, "%s", boot_kind_name(r));
}

/*
 * Compares two layouts: BOOT_STAMP_SAME, _UNCHECKED (same, but some part
 * has no counters) or _WRITTEN, with the first difference in @why.
 */
static enum boot_stamp_verdict boot_layout_cmp(const struct boot_layout *was,
					       const struct boot_layout *now,
					       const char *when, char *why,
					       size_t len)
{
	static const char *const ext[] = {
		"mount count", "kbytes written", "write time", "mount time",
		"features/state",
	};
	const struct boot_region *unknown = NULL;
	char name[64], name2[64];
	unsigned int i, k;

	/*
	 * In use at the seal: its writes after the seal need not reach any
	 * superblock before a crash, so equal counters prove nothing.
	 */
	if (was->in_use) {
		snprintf(why, len,
			 "the device was mounted read-write at the seal of %s: writes after it cannot be ruled out",
			 when);
		return BOOT_STAMP_WRITTEN;
	}
	for (i = 0; i < was->count; i++) {
		if (was->r[i].kind != BOOT_FS_EXT ||
		    !((was->r[i].v[4] >> 16) & 0x4))	/* INCOMPAT_RECOVER */
			continue;
		boot_region_name(&was->r[i], name, sizeof(name));
		snprintf(why, len,
			 "%s was in use (its journal needed recovery) at the seal of %s: writes after it cannot be ruled out",
			 name, when);
		return BOOT_STAMP_WRITTEN;
	}

	if (was->count != now->count || was->r[0].kind != now->r[0].kind ||
	    (was->r[0].kind == BOOT_FS_TABLE && was->r[0].crc != now->r[0].crc)) {
		boot_region_name(&was->r[0], name, sizeof(name));
		boot_region_name(&now->r[0], name2, sizeof(name2));
		if (was->r[0].kind == BOOT_FS_TABLE &&
		    now->r[0].kind == BOOT_FS_TABLE)
			snprintf(why, len,
				 "the partition table changed since the seal of %s",
				 when);
		else
			snprintf(why, len,
				 "the device held %s at the seal of %s, now %s",
				 name, when, name2);
		return BOOT_STAMP_WRITTEN;
	}
	for (i = 0; i < was->count; i++) {
		const struct boot_region *a = &was->r[i], *b = &now->r[i];

		boot_region_name(a, name, sizeof(name));
		if (a->kind != b->kind || a->offset != b->offset ||
		    a->number != b->number) {
			boot_region_name(b, name2, sizeof(name2));
			snprintf(why, len, "%s at the seal of %s is now %s",
				 name, when, name2);
			return BOOT_STAMP_WRITTEN;
		}
		for (k = 0; a->kind == BOOT_FS_EXT && k < 5; k++) {
			if (a->v[k] != b->v[k]) {
				snprintf(why, len,
					 "%s %s %llu -> %llu since the seal of %s",
					 name, ext[k], a->v[k], b->v[k], when);
				return BOOT_STAMP_WRITTEN;
			}
		}
		if (a->kind == BOOT_FS_XFS && a->v[0] != b->v[0]) {
			snprintf(why, len,
				 "%s superblock log sequence %llu:%llu -> %llu:%llu since the seal of %s",
				 name, a->v[0] >> 32, a->v[0] & 0xffffffffULL,
				 b->v[0] >> 32, b->v[0] & 0xffffffffULL, when);
			return BOOT_STAMP_WRITTEN;
		}
		if (a->crc != b->crc) {
			snprintf(why, len, "%s superblock changed since the seal of %s",
				 name, when);
			return BOOT_STAMP_WRITTEN;
		}
		if (a->kind == BOOT_FS_UNKNOWN && !unknown)
			unknown = a;
	}
	if (unknown || was->truncated || now->truncated) {
		if (unknown && unknown->number)
			snprintf(why, len,
				 "partition %u holds unknown contents (no ext2/3/4 or xfs superblock): writes to it cannot be checked",
				 unknown->number);
		else if (unknown)
			snprintf(why, len,
				 "unknown contents (no partition table, ext2/3/4 or xfs superblock): writes cannot be checked");
		else
			snprintf(why, len,
				 "a partition table not read whole (more partitions than a stamp holds, or a bad table): writes to the rest cannot be checked");
		return BOOT_STAMP_UNCHECKED;
	}
	if (was->r[0].kind == BOOT_FS_TABLE)
		snprintf(why, len,
			 "the partition table and %u file system(s) unchanged since the seal of %s",
			 was->count - 1, when);
	else
		snprintf(why, len, "%s unchanged since the seal of %s",
			 boot_kind_name(&was->r[0]), when);
	return BOOT_STAMP_SAME;
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

/* 1 when @p is a void stamp (a rollback's), its reason NUL-terminated. */
static int boot_stamp_voided(const unsigned char *p)
{
	return !memcmp(p, BOOT_STAMP_VOID, sizeof(BOOT_STAMP_VOID) - 1) &&
	       memchr(p, '\0', BOOT_STORE_PAGE);
}

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
	       le(p + 12, 4) >= 1 && le(p + 12, 4) <= BOOT_STAMP_MAX &&
	       le(p + 112, 4) <= 1 && le(p + 116, 4) <= 1;
}

/*
 * The page's text when it holds no stamp to compare with: NULL when it
 * does (a valid stamp of @e), else why not.
 */
static const char *boot_stamp_none(const struct boot_entry *e,
				   const unsigned char *p)
{
	if (boot_stamp_voided(p))
		return (const char *)p + sizeof(BOOT_STAMP_VOID) - 1;
	if (!memcmp(p, BOOT_STAMP_FRESH, sizeof(BOOT_STAMP_FRESH) - 1))
		return "never stamped";
	if (!boot_stamp_valid(e, p))
		return "the page holds no valid stamp (corrupt or foreign)";
	return NULL;
}

static void boot_stamp_encode(unsigned char *p, const struct boot_layout *l)
{
	unsigned int i, k;

	put_le(p + 12, l->count, 4);
	put_le(p + 112, (unsigned int)l->truncated, 4);
	put_le(p + 116, (unsigned int)l->in_use, 4);
	for (i = 0; i < l->count; i++) {
		unsigned char *q = p + BOOT_STAMP_REC + 64 * i;
		const struct boot_region *r = &l->r[i];

		put_le(q, r->offset, 8);
		put_le(q + 8, r->kind, 4);
		put_le(q + 12, r->crc, 4);
		for (k = 0; k < 5; k++)
			put_le(q + 16 + 8 * k, r->v[k], 8);
		put_le(q + 56, r->number, 4);
	}
}

static void boot_stamp_decode(const unsigned char *p, struct boot_layout *l)
{
	unsigned int i, k;

	memset(l, 0, sizeof(*l));
	l->count = (unsigned int)le(p + 12, 4);
	l->truncated = (int)le(p + 112, 4);
	l->in_use = (int)le(p + 116, 4);
	for (i = 0; i < l->count; i++) {
		const unsigned char *q = p + BOOT_STAMP_REC + 64 * i;
		struct boot_region *r = &l->r[i];

		r->offset = le(q, 8);
		r->kind = (unsigned int)le(q + 8, 4);
		r->crc = (unsigned int)le(q + 12, 4);
		for (k = 0; k < 5; k++)
			r->v[k] = le(q + 16 + 8 * k, 8);
		r->number = (unsigned int)le(q + 56, 4);
	}
}

/*
 * The device against the stamp page of @e: a map's (bound to its sealed
 * metadata copy; no provable stamp restarts it) or with @ckpt_id a
 * checkpoint's (bound to its id; no stamp of it is only "not checked": a
 * checkpoint is made invalid on proof alone).
 */
static enum boot_stamp_verdict boot_stamp_cmp_seal(const struct boot_entry *e,
						   const unsigned char *ckpt_id,
						   char *why, size_t len)
{
	enum boot_stamp_verdict v = ckpt_id ? BOOT_STAMP_UNCHECKED :
					      BOOT_STAMP_WRITTEN;
	struct boot_layout *was = NULL, *now = NULL;
	unsigned long long off = e->stamp * 512ULL, seq = 0;
	const unsigned char *gen = ckpt_id;
	struct boot_meta m;
	const char *none;
	char when[32];
	void *page = NULL;
	unsigned char *p;
	int fd, ret;

	if (!e->has_stamp) {
		snprintf(why, len, ckpt_id ? "no stamp page in the config" :
			 "the store has no stamp page (made before it existed: make it again with mkstore)");
		return BOOT_STAMP_UNCHECKED;
	}
	was = malloc(sizeof(*was));
	now = malloc(sizeof(*now));
	if (!was || !now ||
	    posix_memalign(&page, BOOT_STORE_PAGE, BOOT_STORE_PAGE)) {
		snprintf(why, len, "out of memory");
		page = NULL;
		goto out;
	}
	p = page;
	fd = boot_open_dev(e->store, O_RDONLY, 0);
	if (fd < 0) {
		snprintf(why, len, "cannot read the stamp on %s: %s", e->store,
			 strerror(-fd));
		goto out;
	}
	ret = boot_pread_page(fd, page, off);
	if (ret) {
		close(fd);
		snprintf(why, len, "cannot read the stamp: %s", strerror(-ret));
		goto out;
	}
	if (ckpt_id) {
		close(fd);
		none = boot_stamp_none(e, p);
		if (none) {
			snprintf(why, len, "no stamp to compare with: %s", none);
			goto out;
		}
		boot_stamp_when(le(p + 40, 8), when);
		goto bound;
	}
	/* A rollback wrote the device: restart, sealed or not. */
	if (boot_stamp_voided(p)) {
		close(fd);
		snprintf(why, len, "%s",
			 (const char *)p + sizeof(BOOT_STAMP_VOID) - 1);
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
	seq = m.sequence;
	gen = m.generation;
bound:
	if (le(p + 16, 8) != seq || memcmp(p + 24, gen, 16)) {
		if (ckpt_id)
			snprintf(why, len,
				 "the stamp belongs to another checkpoint");
		else
			snprintf(why, len,
				 "the stamp belongs to an older seal (sequence %llu, the seal of %s is %llu): writes after it cannot be ruled out",
				 le(p + 16, 8), when, seq);
		goto out;
	}
	boot_stamp_decode(p, was);
	ret = boot_layout_read(e->device, page, now);
	if (ret) {
		snprintf(why, len, "cannot read %s: %s", e->device,
			 strerror(-ret));
		goto out;
	}
	v = boot_layout_cmp(was, now, when, why, len);
out:
	free(page);
	free(was);
	free(now);
	return v;
}

enum boot_stamp_verdict boot_stamp_check(const struct boot_entry *e,
					 char *why, size_t len)
{
	return boot_stamp_cmp_seal(e, NULL, why, len);
}

/*
 * 1 when the page may be written over: the store's own (never stamped, a
 * stamp of this identity, or voided), never sectors that became something
 * else.
 */
static int boot_stamp_ours(const struct boot_entry *e, const unsigned char *p)
{
	return !memcmp(p, BOOT_STAMP_FRESH, sizeof(BOOT_STAMP_FRESH) - 1) ||
	       boot_stamp_voided(p) || boot_stamp_valid(e, p);
}

/* A stamp of @l bound to @seq and @gen: a map's seal, or a checkpoint's id. */
static void boot_stamp_fill(unsigned char *p, const struct boot_entry *e,
			    unsigned long long seq, const unsigned char gen[16],
			    const struct boot_layout *l)
{
	memset(p, 0, BOOT_STORE_PAGE);
	memcpy(p, BOOT_STAMP_MAGIC, 4);
	put_le(p + 4, BOOT_STAMP_VERSION, 4);
	put_le(p + 16, seq, 8);
	memcpy(p + 24, gen, 16);
	put_le(p + 40, (unsigned long long)time(NULL), 8);
	memcpy(p + 48, e->identity, e->identity_len);
	boot_stamp_encode(p, l);
	put_le(p + 8, boot_page_crc(p), 4);
}

/* Writes the stamp page and flushes it (O_DIRECT alone is not durable). */
static int boot_stamp_put(int fd, const unsigned char *p,
			  unsigned long long off)
{
	if (pwrite(fd, p, BOOT_STORE_PAGE, (off_t)off) != BOOT_STORE_PAGE)
		return errno ? -errno : -EIO;
	return fsync(fd) < 0 ? -errno : 0;
}

/*
 * The seal's stamp of @e: bound to the map's sealed metadata copy, or with
 * @ckpt_id to a checkpoint. In use at the seal (mounted read-write, or an
 * ext journal needing recovery), a map's stamp says so (its next attach
 * restarts); a checkpoint's page is voided instead (returns 1): a
 * checkpoint is never condemned on what proves nothing.
 */
static int boot_stamp_seal(const struct boot_entry *e,
			   const unsigned char *ckpt_id)
{
	unsigned long long off = e->stamp * 512ULL, seq = 0;
	const unsigned char *gen = ckpt_id;
	char reason[96], when[32];
	struct boot_layout *l;
	struct boot_meta m;
	unsigned char *p;
	unsigned int i;
	void *page;
	int fd, ret;

	if (!e->has_stamp)
		return 0;
	l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (posix_memalign(&page, BOOT_STORE_PAGE, BOOT_STORE_PAGE)) {
		free(l);
		return -ENOMEM;
	}
	p = page;
	/* The device first: the layout must be what it is after the seal. */
	ret = boot_layout_read(e->device, page, l);
	if (ret)
		goto out_free;
	l->in_use = boot_mounted_rw(e->device);
	for (i = 0; ckpt_id && i < l->count; i++)
		if (l->r[i].kind == BOOT_FS_EXT &&
		    ((l->r[i].v[4] >> 16) & 0x4))	/* INCOMPAT_RECOVER */
			l->in_use = 1;
	if (l->in_use && !ckpt_id)
		boot_log(BOOT_LOG_WARN,
			 "%s: mounted read-write at the seal: the next attach restarts its map",
			 e->device);
	fd = boot_open_dev(e->store, O_RDWR, 0);
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	if (!ckpt_id) {
		ret = boot_meta_read(e, fd, page, &m);
		if (!ret && !m.sealed)
			ret = -EUCLEAN;
		if (ret) {
			boot_log(BOOT_LOG_ERR,
				 "%s: the store's newest metadata is not a seal of this device (%s): no stamp written",
				 e->device, strerror(-ret));
			goto out_close;
		}
		seq = m.sequence;
		gen = m.generation;
	}
	ret = boot_pread_page(fd, page, off);
	if (ret)
		goto out_close;
	if (!boot_stamp_ours(e, p)) {
		boot_log(BOOT_LOG_ERR,
			 "%s: sector %llu of %s is not this store's stamp page: nothing written there%s",
			 e->device, (unsigned long long)e->stamp, e->store,
			 ckpt_id ? "" : " (the next boot restarts the map; make the store again with mkstore)");
		ret = -EUCLEAN;
		goto out_close;
	}
	if (l->in_use && ckpt_id) {
		/*
		 * Its later writes are saved, but need not reach a superblock
		 * before the power goes: equal counters would prove nothing,
		 * and different ones would condemn the checkpoint wrongly.
		 */
		boot_stamp_when((unsigned long long)time(NULL), when);
		snprintf(reason, sizeof(reason),
			 "in use (mounted read-write) at the seal of %s", when);
		memset(p, 0, BOOT_STORE_PAGE);
		snprintf((char *)p, BOOT_STORE_PAGE, "%s%s", BOOT_STAMP_VOID,
			 reason);
		ret = boot_stamp_put(fd, p, off);
		if (!ret)
			ret = 1;
		goto out_close;
	}
	boot_stamp_fill(p, e, seq, gen, l);
	ret = boot_stamp_put(fd, p, off);
out_close:
	close(fd);
out_free:
	free(page);
	free(l);
	return ret;
}

int boot_stamp_write(const struct boot_entry *e)
{
	return boot_stamp_seal(e, NULL);
}

int boot_stamp_void(const struct boot_entry *e, const char *reason)
{
	unsigned long long off = e->stamp * 512ULL;
	unsigned char *p;
	void *page;
	int fd, ret;

	if (!e->has_stamp)
		return -ENOENT;
	if (posix_memalign(&page, BOOT_STORE_PAGE, BOOT_STORE_PAGE))
		return -ENOMEM;
	p = page;
	fd = boot_open_dev(e->store, O_RDWR, 0);
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	ret = boot_pread_page(fd, page, off);
	if (ret)
		goto out_close;
	/* Only a page that is provably the store's is written over. */
	if (!boot_stamp_ours(e, p)) {
		ret = -EUCLEAN;
		goto out_close;
	}
	memset(p, 0, BOOT_STORE_PAGE);
	snprintf((char *)p, BOOT_STORE_PAGE, "%s%s", BOOT_STAMP_VOID, reason);
	/* Durable before the first byte is written back. */
	ret = boot_stamp_put(fd, p, off);
out_close:
	close(fd);
out_free:
	free(page);
	return ret;
}

int boot_stamp_touch(const struct boot_entry *e)
{
	unsigned long long off = e->stamp * 512ULL;
	void *page;
	int fd, ret;

	if (!e->has_stamp)
		return 0;
	if (posix_memalign(&page, BOOT_STORE_PAGE, BOOT_STORE_PAGE))
		return -ENOMEM;
	fd = boot_open_dev(e->store, O_RDWR, 0);
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	ret = boot_pread_page(fd, page, off);
	if (!ret && !boot_stamp_ours(e, page))
		ret = -EUCLEAN;
	if (!ret)
		ret = boot_stamp_put(fd, page, off);
	close(fd);
out_free:
	free(page);
	return ret;
}

/* ---- checkpoint devices ---- */

int boot_stamp_write_ckpt(const struct boot_entry *e,
			  const unsigned char id[16])
{
	return boot_stamp_seal(e, id);
}

enum boot_stamp_verdict boot_stamp_check_ckpt(const struct boot_entry *e,
					      const unsigned char id[16],
					      char *why, size_t len)
{
	return boot_stamp_cmp_seal(e, id, why, len);
}
