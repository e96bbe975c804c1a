// SPDX-License-Identifier: GPL-2.0
/*
 * boot_ckpt.c - checkpoints at boot, without the module.
 *
 * The store's format is include/uapi/snapkeep_ckpt.h, the module's writer
 * kmod/ckpt_log.c. Everything read from the store is hostile input: every
 * page's magic, version, CRC and id, every entry's CRC, device, range and
 * place, every data block's CRC are checked, and the log must fill the
 * store exactly up to the tail the metadata names.
 *
 * Rollback: the WHOLE log is validated first, data included, and the
 * devices must be the checkpoint's (identity from the config, size and
 * logical block size as recorded); on any doubt nothing is written and
 * the reason is logged. Then the metadata says "rolling back" with a
 * cursor, the entries are written back newest first (so the oldest copy
 * of a chunk, the one of the checkpoint's instant, is written last), and
 * every BOOT_CKPT_CURSOR_EVERY entries the devices are flushed and the
 * cursor is persisted in the next metadata copy (alternating, so a torn
 * write keeps the previous one). A power cut resumes at the persisted
 * cursor: entries after it are written again, which gives the same bytes.
 * At the end the metadata says "rolled back".
 *
 * A store on the same disk as a device of the checkpoint (a file on its
 * file system; a partition of a checkpointed whole disk, or the reverse)
 * is never written back over: the sectors of the store's ranges are left
 * out of every entry (compared in disk sectors, partition starts from
 * /sys).
 */
/* O_DIRECT */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "snapkeep.h"
#include "boot_ckpt.h"
#include "boot_log.h"
#include "boot_stamp.h"
#include "boot_store.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PAGE		SNAPKEEP_CKPT_PAGE
#define SECTOR		512ULL
/* Entries written back between two persisted cursors. */
#define BOOT_CKPT_CURSOR_EVERY	32

_Static_assert(sizeof(struct snapkeep_ckpt_header) <= PAGE, "header");
_Static_assert(sizeof(struct snapkeep_ckpt_meta) == 88, "meta");
_Static_assert(sizeof(struct snapkeep_ckpt_entry) == 32, "entry");
_Static_assert(sizeof(struct snapkeep_ckpt_log) == 64, "log");

/**
 * struct ck - one checkpoint of the config, being validated or rolled back.
 * @e: its config lines, in device order (all name the same store).
 * @n: entries in @e.
 * @sfd: the store device, O_DIRECT, read-write for the rollback.
 * @pages: pages of the store (its ranges).
 * @h: the header.
 * @m: the newest valid metadata copy.
 * @entries: the whole log, in order.
 * @dfd: the devices, O_DIRECT.
 * @same: device i is on the store's disk (its store sectors are left out).
 * @shift: then, the store's first sector minus device i's, on that disk.
 * @page: a page buffer; @data: a chunk buffer (1 MiB, the largest chunk).
 * @id: the id, printed.
 * @name: the name, printed.
 * @cfg: the whole config (its change maps restart after a rollback).
 */
struct ck {
	const struct boot_entry *e[SNAPKEEP_CKPT_MAX_DEVICES];
	const struct boot_config *cfg;
	unsigned int n;
	int sfd;
	unsigned long long pages;
	struct snapkeep_ckpt_header h;
	struct snapkeep_ckpt_meta m;
	struct snapkeep_ckpt_entry *entries;
	int dfd[SNAPKEEP_CKPT_MAX_DEVICES];
	int same[SNAPKEEP_CKPT_MAX_DEVICES];
	long long shift[SNAPKEEP_CKPT_MAX_DEVICES];
	unsigned char *page;
	unsigned char *data;
	char id[37];
	char name[SNAPKEEP_CKPT_NAME_LEN + 1];
};

static const char *const boot_ckpt_states[] = {
	"none", "active", "committed", "abandoned", "invalid",
	"rolling back", "rolled back",
};

static const char *boot_ckpt_state(unsigned int s)
{
	return s < ARRAY_SIZE(boot_ckpt_states) ? boot_ckpt_states[s] :
						      "unknown";
}

static int boot_ckpt_same_store(const struct boot_entry *a,
				const struct boot_entry *b)
{
	return !strcmp(a->store, b->store) && a->count == b->count &&
	       !memcmp(a->ranges, b->ranges, a->count * sizeof(*a->ranges));
}

/* CRC32C of a page with its crc field (offset 8) taken as zero. */
static unsigned int boot_ckpt_page_crc(const unsigned char *p)
{
	static const unsigned char zero[4];
	unsigned int crc;

	crc = boot_crc32c(p, 8);
	crc = boot_crc32c_more(crc, zero, 4);
	return boot_crc32c_more(crc, p + 12, PAGE - 12);
}

static int boot_ckpt_page_ok(const unsigned char *p, unsigned int magic)
{
	const __le32 *w = (const __le32 *)p;

	return le32toh(w[0]) == magic &&
	       le32toh(w[1]) == SNAPKEEP_CKPT_VERSION &&
	       le32toh(w[2]) == boot_ckpt_page_crc(p);
}

static unsigned int boot_ckpt_entry_crc(const unsigned char id[16],
					const struct snapkeep_ckpt_entry *e)
{
	struct snapkeep_ckpt_entry copy = *e;

	copy.crc = 0;
	return boot_crc32c_more(boot_crc32c(id, 16), &copy, sizeof(copy));
}

static int boot_ckpt_io(struct ck *c, unsigned long long pg, void *buf,
			int write)
{
	unsigned long long off;
	ssize_t n;

	if (pg >= c->pages || boot_store_offset(c->e[0], pg * PAGE, &off))
		return -ENOSPC;
	n = write ? pwrite(c->sfd, buf, PAGE, (off_t)off) :
		    pread(c->sfd, buf, PAGE, (off_t)off);
	if (n < 0)
		return -errno;
	return n == PAGE ? 0 : -EIO;
}

static void boot_ckpt_close(struct ck *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		if (c->dfd[i] >= 0)
			close(c->dfd[i]);
	if (c->sfd >= 0)
		close(c->sfd);
	free(c->entries);
	free(c->page);
	free(c->data);
	c->entries = NULL;
	c->page = NULL;
	c->data = NULL;
	c->sfd = -1;
}

/* Opens the store; header and newest metadata into @c. Reason in @why. */
static int boot_ckpt_open(struct ck *c, int writable, char *why, size_t len)
{
	const struct snapkeep_ckpt_meta *m;
	unsigned int i, found = 0;
	struct stat st;
	int ret;

	c->sfd = -1;
	for (i = 0; i < SNAPKEEP_CKPT_MAX_DEVICES; i++)
		c->dfd[i] = -1;
	c->pages = 0;
	for (i = 0; i < c->e[0]->count; i++)
		c->pages += c->e[0]->ranges[i].count * SECTOR / PAGE;
	if (posix_memalign((void **)&c->page, PAGE, PAGE) ||
	    posix_memalign((void **)&c->data, PAGE, 1U << 20))
		return -ENOMEM;
	c->sfd = open(c->e[0]->store, (writable ? O_RDWR : O_RDONLY) |
		      O_DIRECT | O_CLOEXEC);
	if (c->sfd < 0 || fstat(c->sfd, &st) < 0 || !S_ISBLK(st.st_mode)) {
		ret = c->sfd < 0 ? -errno : -ENOTBLK;
		snprintf(why, len, "cannot open the store device %s: %s",
			 c->e[0]->store, strerror(-ret));
		return ret;
	}
	ret = boot_ckpt_io(c, 0, c->page, 0);
	if (ret) {
		snprintf(why, len, "cannot read the store: %s", strerror(-ret));
		return ret;
	}
	if (!boot_ckpt_page_ok(c->page, SNAPKEEP_CKPT_HEADER_MAGIC)) {
		snprintf(why, len, "the store holds no valid checkpoint header (magic, version or CRC)");
		return -EUCLEAN;
	}
	memcpy(&c->h, c->page, sizeof(c->h));
	snprintf(c->id, sizeof(c->id),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 c->h.id[0], c->h.id[1], c->h.id[2], c->h.id[3], c->h.id[4],
		 c->h.id[5], c->h.id[6], c->h.id[7], c->h.id[8], c->h.id[9],
		 c->h.id[10], c->h.id[11], c->h.id[12], c->h.id[13],
		 c->h.id[14], c->h.id[15]);
	memcpy(c->name, c->h.name, SNAPKEEP_CKPT_NAME_LEN);
	c->name[SNAPKEEP_CKPT_NAME_LEN] = '\0';
	for (i = 0; c->name[i]; i++)
		if (c->name[i] < 0x20 || c->name[i] > 0x7e)
			c->name[i] = '?';
	if (le64toh(c->h.store_pages) != c->pages) {
		snprintf(why, len, "the header is of a store of %llu pages, the config names %llu",
			 (unsigned long long)le64toh(c->h.store_pages), c->pages);
		return -EUCLEAN;
	}
	if (le32toh(c->h.chunk_shift) < 12 || le32toh(c->h.chunk_shift) > 20) {
		snprintf(why, len, "the header names a chunk size of 2^%u bytes",
			 le32toh(c->h.chunk_shift));
		return -EUCLEAN;
	}
	m = (const struct snapkeep_ckpt_meta *)c->page;
	for (i = 1; i <= 2; i++) {
		ret = boot_ckpt_io(c, i, c->page, 0);
		if (ret) {
			snprintf(why, len, "cannot read metadata copy %u: %s",
				 i, strerror(-ret));
			return ret;
		}
		if (!boot_ckpt_page_ok(c->page, SNAPKEEP_CKPT_META_MAGIC) ||
		    memcmp(m->id, c->h.id, 16))
			continue;
		if (!found++ || le64toh(m->sequence) > le64toh(c->m.sequence))
			c->m = *m;
	}
	if (!found) {
		snprintf(why, len, "neither metadata copy is valid (magic, CRC or id)");
		return -EUCLEAN;
	}
	return 0;
}

/* A number from a /sys file; 0 when it cannot be read. */
static int boot_ckpt_sys(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return 0;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	return ok;
}

/* The disk of a block device and its first sector on it (0: the disk). */
static void boot_ckpt_disk_of(dev_t rdev, dev_t *disk, unsigned long long *start)
{
	char path[96], text[64];
	unsigned int ma, mi;

	*disk = rdev;
	*start = 0;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition",
		 major(rdev), minor(rdev));
	if (!boot_ckpt_sys(path, text, sizeof(text)))
		return;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/start", major(rdev),
		 minor(rdev));
	if (boot_ckpt_sys(path, text, sizeof(text)))
		*start = strtoull(text, NULL, 10);
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev", major(rdev),
		 minor(rdev));
	if (boot_ckpt_sys(path, text, sizeof(text)) &&
	    sscanf(text, "%u:%u", &ma, &mi) == 2)
		*disk = makedev(ma, mi);
}

/* The devices: as the checkpoint recorded them, and as the config names. */
static int boot_ckpt_devices(struct ck *c, int writable, char *why,
			     size_t len)
{
	unsigned long long sstart, dstart;
	struct stat sst, dst;
	dev_t sdisk, ddisk;
	unsigned int i;

	if (le32toh(c->h.nr_devices) != c->n) {
		snprintf(why, len, "the checkpoint has %u device(s), the config names %u",
			 le32toh(c->h.nr_devices), c->n);
		return -EXDEV;
	}
	if (fstat(c->sfd, &sst) < 0)
		return -errno;
	boot_ckpt_disk_of(sst.st_rdev, &sdisk, &sstart);
	for (i = 0; i < c->n; i++) {
		const struct snapkeep_ckpt_device *d = &c->h.devices[i];
		unsigned long long bytes = 0;
		char ident[SNAPKEEP_CKPT_IDENTITY_LEN] = { 0 };
		int lbs = 0;

		memcpy(ident, c->e[i]->identity, c->e[i]->identity_len);
		if (memcmp(ident, d->identity, sizeof(ident))) {
			snprintf(why, len, "device %u (%s) has identity %.*s in the config, %.64s in the checkpoint",
				 i, c->e[i]->device, (int)c->e[i]->identity_len,
				 c->e[i]->identity, (const char *)d->identity);
			return -EXDEV;
		}
		/*
		 * O_EXCL for writing: refused while a file system (or
		 * anything else) holds the device, e.g. mounted in a rescue
		 * shell: writing under it would corrupt both.
		 */
		c->dfd[i] = open(c->e[i]->device, (writable ? O_RDWR | O_EXCL :
						   O_RDONLY) |
				 O_DIRECT | O_CLOEXEC);
		if (c->dfd[i] < 0 || fstat(c->dfd[i], &dst) < 0 ||
		    !S_ISBLK(dst.st_mode) ||
		    ioctl(c->dfd[i], BLKGETSIZE64, &bytes) < 0 ||
		    ioctl(c->dfd[i], BLKSSZGET, &lbs) < 0) {
			snprintf(why, len, "cannot open %s: %s%s", c->e[i]->device,
				 strerror(errno ? errno : ENOTBLK),
				 errno == EBUSY ? " (mounted or in use: unmount it first)" : "");
			return -ENODEV;
		}
		if (bytes / SECTOR != le64toh(d->capacity) ||
		    (unsigned int)lbs != le32toh(d->logical_block_size)) {
			snprintf(why, len, "%s has %llu sectors of %d bytes, the checkpoint was made of %llu of %u",
				 c->e[i]->device, bytes / SECTOR, lbs,
				 (unsigned long long)le64toh(d->capacity),
				 le32toh(d->logical_block_size));
			return -EXDEV;
		}
		boot_ckpt_disk_of(dst.st_rdev, &ddisk, &dstart);
		c->same[i] = ddisk == sdisk;
		c->shift[i] = (long long)sstart - (long long)dstart;
	}
	return 0;
}

/* Reads entry @k's data into @c->data and checks it; its bytes. */
static int boot_ckpt_read_data(struct ck *c, unsigned long long k,
			       unsigned int *bytes)
{
	const struct snapkeep_ckpt_entry *e = &c->entries[k];
	unsigned int len = le32toh(e->sectors) * SECTOR;
	unsigned long long pg = le64toh(e->store_page);
	unsigned int done;
	int ret;

	for (done = 0; done < len; done += PAGE) {
		ret = boot_ckpt_io(c, pg++, c->data + done, 0);
		if (ret)
			return ret;
	}
	if (boot_crc32c(c->data, len) != le32toh(e->data_crc))
		return -EUCLEAN;
	*bytes = len;
	return 0;
}

/* The whole log, data included; any doubt is a refusal. */
static int boot_ckpt_validate(struct ck *c, char *why, size_t len)
{
	unsigned long long rec, pg = SNAPKEEP_CKPT_FIRST_RECORD, k = 0;
	unsigned long long records = le64toh(c->m.records);
	unsigned long long entries = le64toh(c->m.entries);
	unsigned long long tail = le64toh(c->m.tail);
	unsigned int chunk = 1U << (le32toh(c->h.chunk_shift) - 9);
	const struct snapkeep_ckpt_log *lp = (const void *)c->page;
	int ret;

	if (tail < SNAPKEEP_CKPT_FIRST_RECORD || tail > c->pages ||
	    records > tail || entries > tail * SNAPKEEP_CKPT_LOG_ENTRIES) {
		snprintf(why, len, "the metadata is out of range (records %llu, entries %llu, tail %llu)",
			 records, entries, tail);
		return -EUCLEAN;
	}
	c->entries = calloc(entries ? entries : 1, sizeof(*c->entries));
	if (!c->entries) {
		snprintf(why, len, "no memory for the %llu entries of the log",
			 entries);
		return -ENOMEM;
	}
	for (rec = 0; rec < records; rec++) {
		const struct snapkeep_ckpt_entry *e;
		unsigned int i, count;

		ret = boot_ckpt_io(c, pg, c->page, 0);
		if (ret) {
			snprintf(why, len, "cannot read log record %llu: %s",
				 rec, strerror(-ret));
			return ret;
		}
		count = le32toh(lp->count);
		if (!boot_ckpt_page_ok(c->page, SNAPKEEP_CKPT_LOG_MAGIC) ||
		    memcmp(lp->id, c->h.id, 16) ||
		    le64toh(lp->record) != rec ||
		    le64toh(lp->first_entry) != k || !count ||
		    count > SNAPKEEP_CKPT_LOG_ENTRIES || k + count > entries) {
			snprintf(why, len, "log record %llu (store page %llu) does not check (magic, CRC, id or numbering)",
				 rec, pg);
			return -EUCLEAN;
		}
		e = (const void *)(lp + 1);
		pg++;
		for (i = 0; i < count; i++, e++, k++) {
			unsigned int dev = le32toh(e->device);
			unsigned int sectors = le32toh(e->sectors);

			if (le32toh(e->crc) != boot_ckpt_entry_crc(c->h.id, e) ||
			    dev >= c->n || !sectors || sectors > chunk ||
			    le64toh(e->sector) + sectors >
			    le64toh(c->h.devices[dev].capacity) ||
			    le64toh(e->store_page) != pg ||
			    pg + (sectors + 7) / 8 > tail) {
				snprintf(why, len, "log entry %llu (record %llu) does not check (CRC, device, range or place)",
					 k, rec);
				return -EUCLEAN;
			}
			c->entries[k] = *e;
			pg += (sectors + 7) / 8;
		}
	}
	if (pg != tail || k != entries) {
		snprintf(why, len, "the log ends at page %llu with %llu entries, the metadata says %llu and %llu",
			 pg, k, tail, entries);
		return -EUCLEAN;
	}
	for (k = 0; k < entries; k++) {
		unsigned int bytes;

		ret = boot_ckpt_read_data(c, k, &bytes);
		if (ret) {
			snprintf(why, len, "the saved data of entry %llu %s", k,
				 ret == -EUCLEAN ? "does not match its CRC" :
				 "cannot be read");
			return -EUCLEAN;
		}
	}
	return 0;
}

static int boot_ckpt_write_meta(struct ck *c, unsigned int state,
				unsigned long long cursor)
{
	struct snapkeep_ckpt_meta *m = (void *)c->page;
	unsigned long long seq = le64toh(c->m.sequence) + 1;
	int ret;

	memset(c->page, 0, PAGE);
	*m = c->m;
	m->sequence = htole64(seq);
	m->state = htole32(state);
	m->cursor = htole64(cursor);
	m->time = htole64((unsigned long long)time(NULL));
	m->crc = 0;
	m->crc = htole32(boot_ckpt_page_crc(c->page));
	ret = boot_ckpt_io(c, (seq & 1) ? 1 : 2, c->page, 1);
	if (!ret && fsync(c->sfd) < 0)
		ret = -errno;
	if (!ret)
		c->m = *m;
	return ret;
}

static int boot_ckpt_sync_devices(struct ck *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		if (fsync(c->dfd[i]) < 0)
			return -errno;
	return 0;
}

/* Writes @bytes at @sector of device @i, leaving out the store's sectors. */
static int boot_ckpt_write_back(struct ck *c, unsigned int i,
				unsigned long long sector, unsigned int bytes)
{
	unsigned long long s = sector, end = sector + bytes / SECTOR;

	while (s < end) {
		unsigned long long stop = end, skip = 0;
		unsigned int r;

		for (r = 0; c->same[i] && r < c->e[0]->count; r++) {
			long long a0 = (long long)c->e[0]->ranges[r].start +
				       c->shift[i];
			long long b0 = a0 + (long long)c->e[0]->ranges[r].count;
			unsigned long long a, b;

			/* In the device's sectors; a range before it: none. */
			if (b0 <= 0)
				continue;
			a = a0 < 0 ? 0 : (unsigned long long)a0;
			b = (unsigned long long)b0;
			if (s >= a && s < b && b > skip)
				skip = b < end ? b : end;
			else if (a > s && a < stop)
				stop = a;
		}
		if (skip) {
			s = skip;
			continue;
		}
		if (pwrite(c->dfd[i], c->data + (s - sector) * SECTOR,
			   (stop - s) * SECTOR, (off_t)(s * SECTOR)) !=
		    (ssize_t)((stop - s) * SECTOR))
			return errno ? -errno : -EIO;
		s = stop;
	}
	return 0;
}

/*
 * Before the first byte is written back: the rollback writes the devices
 * while no change map watches them (or one left unsealed would continue
 * under write intent), so every map of the config on a disk the rollback
 * writes must restart at its next attach, whatever its seal says. Its
 * stamp page is voided, durably. A map that cannot be told (a store
 * without a stamp page, a failed write) refuses the rollback: it would
 * hide the rolled-back chunks from the next incremental backup. Done
 * again after the last entry (@again): a store file on a rolled-back
 * device may have had its stamp page written back to an older one.
 */
static int boot_ckpt_void_maps(struct ck *c, int again, char *why,
			       size_t len)
{
	char reason[160];
	unsigned long long start;
	dev_t disk, cdisk[SNAPKEEP_CKPT_MAX_DEVICES];
	unsigned int i, k;
	struct stat st;
	int ret;

	for (k = 0; k < c->n; k++) {
		if (stat(c->e[k]->device, &st) < 0)
			return -errno;
		boot_ckpt_disk_of(st.st_rdev, &cdisk[k], &start);
	}
	snprintf(reason, sizeof(reason),
		 "rolled back to checkpoint %s (%s) while no map watched",
		 c->name, c->id);
	for (i = 0; c->cfg && i < c->cfg->count; i++) {
		const struct boot_entry *m = &c->cfg->entries[i];

		if (m->kind != BOOT_ENTRY_TRACK)
			continue;
		/* A map whose device is missing restarts anyway. */
		if (stat(m->device, &st) < 0 || !S_ISBLK(st.st_mode))
			continue;
		boot_ckpt_disk_of(st.st_rdev, &disk, &start);
		for (k = 0; k < c->n; k++)
			if (cdisk[k] == disk)
				break;
		if (k == c->n)
			continue;
		ret = boot_stamp_void(m, reason);
		if (ret == -ENOENT) {
			snprintf(why, len, "the change map of %.200s (config line %u) has no stamp page, so its next attach could not know the rollback wrote the disk: make its store again with mkstore, or remove its line",
				 m->device, m->line);
			return -EUCLEAN;
		}
		if (ret) {
			snprintf(why, len, "cannot tell the change map of %.120s that the rollback writes its disk (stamp page on %.120s: %s)",
				 m->device, m->store, strerror(-ret));
			return ret;
		}
		if (!again)
			boot_log(BOOT_LOG_NOTICE,
				 "%s: its change map restarts at the next attach (the rollback writes its disk)",
				 m->device);
	}
	return 0;
}

/* After validation: writes the log back, resumable. */
static int boot_ckpt_apply(struct ck *c, char *why, size_t len)
{
	unsigned long long entries = le64toh(c->m.entries);
	unsigned long long cursor = 0, i;
	const char *cut = getenv("SNAPKEEP_BOOT_TEST_CUT_AFTER");
	long long cut_after = cut ? atoll(cut) : -1;
	int ret;

	if (le32toh(c->m.state) == SNAPKEEP_CKPT_ROLLING_BACK) {
		cursor = le64toh(c->m.cursor);
		if (cursor > entries) {
			snprintf(why, len, "the rollback cursor (%llu) is past the log's %llu entries",
				 cursor, entries);
			return -EUCLEAN;
		}
		boot_log(BOOT_LOG_NOTICE,
			 "checkpoint %s (%s): resuming the rollback at entry %llu of %llu",
			 c->name, c->id, cursor, entries);
	} else {
		ret = boot_ckpt_write_meta(c, SNAPKEEP_CKPT_ROLLING_BACK, 0);
		if (ret) {
			snprintf(why, len, "cannot write the store's metadata: %s",
				 strerror(-ret));
			return ret;
		}
	}
	for (i = cursor; i < entries; i++) {
		unsigned long long k = entries - 1 - i;
		const struct snapkeep_ckpt_entry *e = &c->entries[k];
		unsigned int bytes;

		ret = boot_ckpt_read_data(c, k, &bytes);
		if (!ret)
			ret = boot_ckpt_write_back(c, le32toh(e->device),
						   le64toh(e->sector), bytes);
		if (ret) {
			snprintf(why, len, "entry %llu: %s (the rollback resumes at entry %llu next time)",
				 k, strerror(-ret),
				 (unsigned long long)le64toh(c->m.cursor));
			return ret;
		}
		/* Tests: a power cut after this many entries. */
		if (cut_after >= 0 && (long long)(i + 1 - cursor) >= cut_after)
			_exit(9);
		if ((i + 1) % BOOT_CKPT_CURSOR_EVERY == 0 && i + 1 < entries) {
			ret = boot_ckpt_sync_devices(c);
			if (!ret)
				ret = boot_ckpt_write_meta(c,
					SNAPKEEP_CKPT_ROLLING_BACK, i + 1);
			if (ret) {
				snprintf(why, len, "cannot persist the cursor: %s",
					 strerror(-ret));
				return ret;
			}
		}
	}
	ret = boot_ckpt_sync_devices(c);
	if (ret) {
		snprintf(why, len, "cannot flush the devices: %s",
			 strerror(-ret));
		return ret;
	}
	ret = boot_ckpt_void_maps(c, 1, why, len);
	if (ret)
		return ret;
	ret = boot_ckpt_write_meta(c, SNAPKEEP_CKPT_ROLLED_BACK, entries);
	if (ret)
		snprintf(why, len, "cannot record the end of the rollback: %s",
			 strerror(-ret));
	return ret;
}

/* Whether the running module has this checkpoint attached. */
static int boot_ckpt_attached(const struct ck *c)
{
	struct snapkeep_uuid ids[64];
	struct snapkeep_list l = { .count = 64, .items = (__u64)(uintptr_t)ids };
	int fd, found = 0;
	unsigned int i;

	fd = open("/dev/" SNAPKEEP_CTL_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (ioctl(fd, SNAPKEEP_IOCTL_CKPT_LIST, &l) == 0)
		for (i = 0; i < l.count && i < 64; i++)
			if (!memcmp(ids[i].b, c->h.id, 16))
				found = 1;
	close(fd);
	return found;
}

/* Why an invalid checkpoint is invalid, in words. */
static const char *boot_ckpt_reason(const struct ck *c)
{
	switch (le32toh(c->m.reason)) {
	case SNAPKEEP_CKPT_REASON_FULL:
		return "its store became full, later writes were not saved";
	case SNAPKEEP_CKPT_REASON_ABSENT:
		return "its devices were written while no module saved them (a boot without the module), so a rollback would mix two states";
	default:
		return "store or device I/O failed, later writes were not saved";
	}
}

/*
 * Were the devices written since the last seal while no module saved
 * their old data (another kernel, snapkeep_boot=off)? Each device line
 * with a stamp page is compared (ext2/3/4, xfs, partition tables; other
 * contents cannot be checked). 1 with the reason in @why, else 0.
 */
static int boot_ckpt_absent(const struct ck *c, char *why, size_t len)
{
	char reason[384];
	unsigned int i;

	for (i = 0; i < c->n; i++) {
		const struct boot_entry *e = c->e[i];

		if (!e->has_stamp)
			continue;
		reason[0] = '\0';
		switch (boot_stamp_check_ckpt(e, c->h.id, reason, sizeof(reason))) {
		case BOOT_STAMP_WRITTEN:
			snprintf(why, len, "%.100s was written while no module saved it: %s",
				 e->device, reason);
			return 1;
		case BOOT_STAMP_SAME:
			boot_log(BOOT_LOG_INFO,
				 "checkpoint %s: %s: not written since the seal",
				 c->name, e->device);
			break;
		default:
			boot_log(BOOT_LOG_INFO,
				 "checkpoint %s: %s: writes while the module was absent NOT CHECKED: %s",
				 c->name, e->device, reason);
		}
	}
	return 0;
}

/*
 * A stamp is compared once: voided after the check, so that after a crash
 * (no seal, no new stamp) the next attach does not compare with a stamp
 * the saved writes of this boot have since made stale.
 */
static void boot_ckpt_void_stamps(const struct ck *c, const char *reason)
{
	unsigned int i;
	int ret;

	for (i = 0; i < c->n; i++) {
		if (!c->e[i]->has_stamp)
			continue;
		ret = boot_stamp_void(c->e[i], reason);
		if (ret)
			boot_log(BOOT_LOG_WARN,
				 "checkpoint %s: %s: its stamp page on %s could not be voided: %s",
				 c->name, c->e[i]->device, c->e[i]->store,
				 strerror(-ret));
	}
}

/*
 * Rolls one checkpoint back (or only validates it): 0 done or nothing to
 * do, 1 refused, -errno failed midway.
 */
static int boot_ckpt_rollback(struct ck *c, int check_only)
{
	char why[512] = "";
	unsigned int state;
	int ret;

	ret = boot_ckpt_open(c, !check_only, why, sizeof(why));
	if (ret)
		goto refuse;
	if (boot_ckpt_attached(c)) {
		snprintf(why, sizeof(why), "the checkpoint is attached in the running kernel (its writes would be saved into the log being rolled back): roll back at boot, before it is re-attached, or from a rescue system");
		ret = -EBUSY;
		goto refuse;
	}
	state = le32toh(c->m.state);
	if (state == SNAPKEEP_CKPT_ROLLED_BACK) {
		boot_log(BOOT_LOG_INFO, "checkpoint %s (%s): rolled back already",
			 c->name, c->id);
		boot_ckpt_close(c);
		return 0;
	}
	if (state == SNAPKEEP_CKPT_INVALID) {
		snprintf(why, sizeof(why), "the checkpoint is invalid: %s",
			 boot_ckpt_reason(c));
		ret = -ESTALE;
		goto refuse;
	}
	/* Writes no module saved would leave a mix of two states. */
	if (state == SNAPKEEP_CKPT_ACTIVE && boot_ckpt_absent(c, why, sizeof(why))) {
		ret = -ESTALE;
		goto refuse;
	}
	if (state != SNAPKEEP_CKPT_ACTIVE && state != SNAPKEEP_CKPT_ROLLING_BACK) {
		snprintf(why, sizeof(why), "the checkpoint is %s",
			 boot_ckpt_state(state));
		ret = -ESTALE;
		goto refuse;
	}
	ret = boot_ckpt_devices(c, !check_only, why, sizeof(why));
	if (!ret)
		ret = boot_ckpt_validate(c, why, sizeof(why));
	if (ret)
		goto refuse;
	if (check_only) {
		boot_log(BOOT_LOG_INFO,
			 "checkpoint %s (%s): the log checks: %llu entries in %llu records, %s",
			 c->name, c->id, (unsigned long long)le64toh(c->m.entries),
			 (unsigned long long)le64toh(c->m.records),
			 boot_ckpt_state(state));
		boot_ckpt_close(c);
		return 0;
	}
	ret = boot_ckpt_void_maps(c, 0, why, sizeof(why));
	if (ret)
		goto refuse;
	/* Compared once: the rollback changes the devices from here on. */
	if (state == SNAPKEEP_CKPT_ACTIVE)
		boot_ckpt_void_stamps(c, "used by the rollback");
	ret = boot_ckpt_apply(c, why, sizeof(why));
	if (ret) {
		boot_log(BOOT_LOG_ERR, "checkpoint %s (%s): rollback stopped: %s",
			 c->name, c->id, why);
		boot_ckpt_close(c);
		return ret;
	}
	boot_log(BOOT_LOG_NOTICE,
		 "checkpoint %s (%s): rolled back: %llu chunk(s) written back to %u device(s)",
		 c->name, c->id, (unsigned long long)le64toh(c->m.entries), c->n);
	boot_ckpt_close(c);
	return 0;

refuse:
	boot_log(BOOT_LOG_ERR,
		 "checkpoint %s (%s) on %s: rollback refused: %s: nothing was written",
		 c->name[0] ? c->name : "?", c->id[0] ? c->id : "?",
		 c->e[0]->store, why);
	boot_ckpt_close(c);
	return 1;
}

/* The checkpoints of @cfg, grouped by store; how many. */
static unsigned int boot_ckpt_group(const struct boot_config *cfg,
				    struct ck *cks, unsigned int max)
{
	unsigned int i, k, n = 0;

	for (i = 0; i < cfg->count; i++) {
		const struct boot_entry *e = &cfg->entries[i];

		if (e->kind != BOOT_ENTRY_CHECKPOINT)
			continue;
		for (k = 0; k < n; k++)
			if (boot_ckpt_same_store(cks[k].e[0], e))
				break;
		if (k == n) {
			if (n == max)
				continue;
			memset(&cks[n], 0, sizeof(cks[n]));
			cks[n].cfg = cfg;
			n++;
		}
		if (cks[k].n < SNAPKEEP_CKPT_MAX_DEVICES)
			cks[k].e[cks[k].n++] = e;
	}
	return n;
}

/* At boot: the devices of @c may still be appearing (udev). */
static void boot_ckpt_wait(const struct ck *c, int seconds)
{
	int left = seconds * 10;
	unsigned int i;
	struct stat st;

	while (left-- > 0) {
		for (i = 0; i < c->n; i++)
			if (stat(c->e[i]->device, &st) < 0)
				break;
		if (i == c->n && stat(c->e[0]->store, &st) == 0)
			return;
		usleep(100000);
	}
}

int boot_ckpt_parse_id(const char *text, unsigned char id[16])
{
	unsigned int i, k = 0;

	if (strlen(text) != 36)
		return -EINVAL;
	for (i = 0; i < 36; i++) {
		int v;
		char ch = text[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (ch != '-')
				return -EINVAL;
			continue;
		}
		if (ch >= '0' && ch <= '9')
			v = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			v = ch - 'A' + 10;
		else
			return -EINVAL;
		if (k % 2)
			id[k / 2] |= (unsigned char)v;
		else
			id[k / 2] = (unsigned char)(v << 4);
		k++;
	}
	return 0;
}

/* Whether the store of @c holds the checkpoint @id (read only). */
static int boot_ckpt_has_id(struct ck *c, const unsigned char id[16])
{
	char why[512];
	int same;

	same = !boot_ckpt_open(c, 0, why, sizeof(why)) &&
	       !memcmp(c->h.id, id, 16);
	boot_ckpt_close(c);
	return same;
}

unsigned int boot_ckpt_lines(const struct boot_config *cfg,
			     struct boot_ckpt_lines *out, unsigned int max)
{
	static struct ck cks[SNAPKEEP_CKPT_MAX_DEVICES];
	unsigned int n, i;

	n = boot_ckpt_group(cfg, cks, max < SNAPKEEP_CKPT_MAX_DEVICES ?
			    max : SNAPKEEP_CKPT_MAX_DEVICES);
	for (i = 0; i < n; i++) {
		memcpy(out[i].e, cks[i].e, sizeof(out[i].e));
		out[i].n = cks[i].n;
	}
	return n;
}

int boot_ckpt_read(const struct boot_ckpt_lines *l, struct boot_ckpt_view *v,
		   char *why, size_t len)
{
	struct ck *c;
	int ret;

	memset(v, 0, sizeof(*v));
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	memcpy(c->e, l->e, sizeof(c->e));
	c->n = l->n;
	ret = boot_ckpt_open(c, 0, why, len);
	if (!ret) {
		memcpy(v->raw_id, c->h.id, 16);
		memcpy(v->id, c->id, sizeof(v->id));
		memcpy(v->name, c->name, sizeof(v->name));
		v->state = le32toh(c->m.state);
		v->reason = le32toh(c->m.reason);
		v->created = le64toh(c->h.created);
		v->entries = le64toh(c->m.entries);
		v->used = le64toh(c->m.tail);
		v->pages = c->pages;
		v->attached = boot_ckpt_attached(c);
	}
	boot_ckpt_close(c);
	free(c);
	return ret;
}

int boot_ckpt_cmd_rollback(const char *config, int argc, char **argv)
{
	static struct ck cks[SNAPKEEP_CKPT_MAX_DEVICES];
	const char *store = NULL;
	struct boot_config cfg;
	unsigned int n, i, done = 0, failed = 0;
	int check = 0, wait = 0, by_id = 0, ret;
	unsigned char id[16];

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--check")) {
			check = 1;
		} else if (!strcmp(argv[i], "--wait") && i + 1 < (unsigned int)argc) {
			wait = atoi(argv[++i]);
			if (wait < 0 || wait > 300)
				return 2;
		} else if (!store && argv[i][0] != '-')
			store = argv[i];
		else
			return 2;
	}
	/* Two checkpoints may have their store files on one device. */
	by_id = store && !boot_ckpt_parse_id(store, id);
	ret = boot_config_load(config, 1, &cfg);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s: nothing rolled back", config,
			 strerror(-ret));
		return 1;
	}
	n = boot_ckpt_group(&cfg, cks, SNAPKEEP_CKPT_MAX_DEVICES);
	for (i = 0; i < n; i++) {
		if (store && !by_id && strcmp(cks[i].e[0]->store, store))
			continue;
		if (wait)
			boot_ckpt_wait(&cks[i], wait);
		if (by_id && !boot_ckpt_has_id(&cks[i], id))
			continue;
		done++;
		if (boot_ckpt_rollback(&cks[i], check))
			failed++;
	}
	if (!done)
		boot_log(BOOT_LOG_ERR, "%s: no checkpoint%s%s", config,
			 !store ? "" : by_id ? " with id " : " on ",
			 store ? store : "");
	boot_config_free(&cfg);
	return failed || !done ? 1 : 0;
}

void boot_ckpt_status(const struct boot_config *cfg)
{
	static struct ck cks[SNAPKEEP_CKPT_MAX_DEVICES];
	unsigned int n, i, k;
	char why[512];

	n = boot_ckpt_group(cfg, cks, SNAPKEEP_CKPT_MAX_DEVICES);
	for (i = 0; i < n; i++) {
		struct ck *c = &cks[i];

		printf("checkpoint store=%s devices=", c->e[0]->store);
		for (k = 0; k < c->n; k++)
			printf("%s%s", k ? "," : "", c->e[k]->device);
		why[0] = '\0';
		if (boot_ckpt_open(c, 0, why, sizeof(why))) {
			printf(" unreadable: %s\n", why);
		} else {
			printf(" name=%s id=%s state=%s entries=%llu records=%llu used=%llu/%llu pages attached=%s\n",
			       c->name, c->id,
			       boot_ckpt_state(le32toh(c->m.state)),
			       (unsigned long long)le64toh(c->m.entries),
			       (unsigned long long)le64toh(c->m.records),
			       (unsigned long long)le64toh(c->m.tail), c->pages,
			       boot_ckpt_attached(c) ? "yes" : "no");
		}
		boot_ckpt_close(c);
	}
}

/*
 * Its devices were written unsaved: the store says so (invalid, reason
 * absent), so no rollback ever writes that mix, and the app can tell.
 */
static void boot_ckpt_invalidate(struct ck *c, const char *why)
{
	char err[256] = "";
	int ret;

	ret = boot_ckpt_open(c, 1, err, sizeof(err));
	if (!ret && le32toh(c->m.state) == SNAPKEEP_CKPT_ACTIVE) {
		c->m.reason = htole32(SNAPKEEP_CKPT_REASON_ABSENT);
		ret = boot_ckpt_write_meta(c, SNAPKEEP_CKPT_INVALID, 0);
		if (ret)
			snprintf(err, sizeof(err), "%s", strerror(-ret));
	}
	boot_log(BOOT_LOG_ERR,
		 "checkpoint %s (%s): %s: made invalid%s%s (a rollback would mix two states); its devices are NOT protected on this boot",
		 c->name, c->id, why, ret ? ", but the store could not say so: " : "",
		 ret ? err : "");
	boot_ckpt_close(c);
}

/* Re-attaches an active checkpoint (or finishes a rollback cut short). */
static int boot_ckpt_attach_one(int ctl, struct ck *c)
{
	struct snapkeep_ckpt_dev devs[SNAPKEEP_CKPT_MAX_DEVICES];
	struct snapkeep_ckpt_create arg;
	char why[512] = "";
	unsigned int i, state;
	struct stat st;
	int ret;

	ret = boot_ckpt_open(c, 0, why, sizeof(why));
	if (ret) {
		boot_log(BOOT_LOG_ERR,
			 "checkpoint on %s: not attached: %s: its devices are NOT protected on this boot",
			 c->e[0]->store, why);
		boot_ckpt_close(c);
		return 1;
	}
	state = le32toh(c->m.state);
	boot_ckpt_close(c);
	if (state == SNAPKEEP_CKPT_ROLLING_BACK) {
		boot_log(BOOT_LOG_NOTICE,
			 "checkpoint %s (%s): a rollback was cut short: finishing it",
			 c->name, c->id);
		return boot_ckpt_rollback(c, 0) ? 1 : 0;
	}
	if (state == SNAPKEEP_CKPT_INVALID) {
		boot_log(BOOT_LOG_WARN,
			 "checkpoint %s (%s): invalid, nothing to attach: %s",
			 c->name, c->id, boot_ckpt_reason(c));
		return 0;
	}
	if (state != SNAPKEEP_CKPT_ACTIVE) {
		boot_log(BOOT_LOG_INFO, "checkpoint %s (%s): %s, nothing to attach",
			 c->name, c->id, boot_ckpt_state(state));
		return 0;
	}
	/* The initramfs attached it, and the service asks again. */
	if (boot_ckpt_attached(c)) {
		boot_log(BOOT_LOG_INFO, "checkpoint %s (%s): attached already",
			 c->name, c->id);
		return 0;
	}
	if (boot_ckpt_absent(c, why, sizeof(why))) {
		boot_ckpt_invalidate(c, why);
		return 1;
	}
	boot_ckpt_void_stamps(c, "compared by the attach");
	memset(&arg, 0, sizeof(arg));
	memset(devs, 0, sizeof(devs));
	for (i = 0; i < c->n; i++) {
		if (stat(c->e[i]->device, &st) < 0 || !S_ISBLK(st.st_mode)) {
			boot_log(BOOT_LOG_ERR,
				 "checkpoint %s (%s): %s is missing: not attached, its devices are NOT protected on this boot",
				 c->name, c->id, c->e[i]->device);
			return 1;
		}
		devs[i].dev.major = major(st.st_rdev);
		devs[i].dev.minor = minor(st.st_rdev);
		memcpy(devs[i].identity, c->e[i]->identity,
		       c->e[i]->identity_len);
	}
	if (stat(c->e[0]->store, &st) < 0)
		return 1;
	arg.count = c->n;
	arg.flags = SNAPKEEP_CKPT_RESUME;
	arg.devs = (__u64)(uintptr_t)devs;
	arg.store_dev.major = major(st.st_rdev);
	arg.store_dev.minor = minor(st.st_rdev);
	arg.fd = -1;
	arg.range_count = c->e[0]->count;
	arg.ranges = (__u64)(uintptr_t)c->e[0]->ranges;
	if (ioctl(ctl, SNAPKEEP_IOCTL_CKPT_CREATE, &arg) < 0) {
		ret = errno;
		boot_log(BOOT_LOG_ERR,
			 "checkpoint %s (%s): re-attach failed: %s%s: its devices are NOT protected on this boot",
			 c->name, c->id, strerror(ret),
			 ret == EUCLEAN ? " (the log does not check)" :
			 ret == EXDEV ? " (other devices than the checkpoint's)" :
			 ret == EBUSY ? " (attached already?)" : "");
		return 1;
	}
	boot_log(BOOT_LOG_NOTICE,
		 "checkpoint %s (%s): re-attached, %llu chunk(s) saved so far",
		 c->name, c->id, (unsigned long long)le64toh(c->m.entries));
	return 0;
}

unsigned int boot_ckpt_attach_all(int ctl, const struct boot_config *cfg)
{
	static struct ck cks[SNAPKEEP_CKPT_MAX_DEVICES];
	unsigned int n, i, failed = 0;

	n = boot_ckpt_group(cfg, cks, SNAPKEEP_CKPT_MAX_DEVICES);
	for (i = 0; i < n; i++)
		failed += boot_ckpt_attach_one(ctl, &cks[i]);
	return failed;
}

void boot_ckpt_seal_all(const struct boot_config *cfg)
{
	static struct ck cks[SNAPKEEP_CKPT_MAX_DEVICES];
	unsigned int n, i, k;
	char why[512];
	int ret;

	n = boot_ckpt_group(cfg, cks, SNAPKEEP_CKPT_MAX_DEVICES);
	for (i = 0; i < n; i++) {
		struct ck *c = &cks[i];

		why[0] = '\0';
		ret = boot_ckpt_open(c, 0, why, sizeof(why));
		if (ret || le32toh(c->m.state) != SNAPKEEP_CKPT_ACTIVE ||
		    !boot_ckpt_attached(c)) {
			boot_ckpt_close(c);
			continue;
		}
		for (k = 0; k < c->n; k++) {
			if (!c->e[k]->has_stamp)
				continue;
			ret = boot_stamp_write_ckpt(c->e[k], c->h.id);
			if (ret < 0)
				boot_log(BOOT_LOG_ERR,
					 "checkpoint %s: %s: stamp not written: %s (the next attach cannot check for writes while the module is absent)",
					 c->name, c->e[k]->device, strerror(-ret));
			else
				boot_log(BOOT_LOG_INFO, "checkpoint %s: %s: %s",
					 c->name, c->e[k]->device, ret ?
					 "in use at the seal: no stamp (the next attach cannot check for writes while the module is absent)" :
					 "stamped");
		}
		boot_ckpt_close(c);
	}
}
