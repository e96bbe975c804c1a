// SPDX-License-Identifier: GPL-2.0
/*
 * boot_config.c - parse /etc/snapkeep/boot.conf (grammar in boot_config.h).
 *
 * The file decides which sectors the module writes, so it is read as
 * hostile input: root-owned and not writable by others, bounded in size,
 * no NUL bytes, and each line validated completely before it is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_config.h"
#include "boot_log.h"

/* Sectors of a 4096-byte store page: ranges are aligned to it. */
#define BOOT_PAGE_SECTORS	8

struct boot_parse {
	const char *name;
	unsigned int line;
};

static void boot_config_error(const struct boot_parse *p, const char *what,
			      const char *detail)
{
	boot_log(BOOT_LOG_ERR, "%s:%u: %s%s%s: line left out", p->name,
		 p->line, what, detail ? ": " : "", detail ? detail : "");
}

static int boot_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Printable ASCII without space: paths, identities, numbers. */
static int boot_token_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* Decimal, digits only (no sign, no spaces), no overflow. */
static int boot_parse_u64(const char *s, size_t len, __u64 *out)
{
	__u64 v = 0;
	size_t i;

	if (!len || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (__u64)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (__u64)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int boot_range_cmp(const void *a, const void *b)
{
	const struct snapkeep_sectors *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* "<s>+<n>[,<s>+<n>]..." into e->ranges; an error message or NULL. */
static const char *boot_parse_ranges(const char *s, size_t len,
				     struct boot_entry *e)
{
	struct snapkeep_sectors *sorted;
	size_t n = 1, i, at = 0;
	__u32 k;

	for (i = 0; i < len; i++)
		if (s[i] == ',')
			n++;
	if (n > SNAPKEEP_MAX_RANGES)
		return "more ranges than the module accepts";
	e->ranges = calloc(n, sizeof(*e->ranges));
	if (!e->ranges)
		return "out of memory";
	for (k = 0; k < n; k++) {
		size_t end = at, plus = 0;
		struct snapkeep_sectors *r = &e->ranges[k];

		while (end < len && s[end] != ',') {
			if (s[end] == '+' && !plus)
				plus = end;
			end++;
		}
		if (!plus)
			return "a range is not <start>+<count>";
		if (boot_parse_u64(s + at, plus - at, &r->start) ||
		    boot_parse_u64(s + plus + 1, end - plus - 1, &r->count))
			return "a range holds something else than two decimal numbers";
		if (!r->count)
			return "a range is empty";
		if (r->start % BOOT_PAGE_SECTORS || r->count % BOOT_PAGE_SECTORS)
			return "a range is not 4096-byte aligned";
		/* Sectors as bytes must fit a loff_t, start + count too. */
		if (r->start > (INT64_MAX >> 9) ||
		    r->count > (INT64_MAX >> 9) - r->start)
			return "a range lies beyond any device";
		at = end + 1;
	}
	e->count = (__u32)n;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return "out of memory";
	memcpy(sorted, e->ranges, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), boot_range_cmp);
	for (i = 1; i < n; i++) {
		if (sorted[i].start < sorted[i - 1].start + sorted[i - 1].count) {
			free(sorted);
			return "ranges overlap";
		}
	}
	free(sorted);
	return NULL;
}

static const char *boot_parse_path(const char *s, size_t len, char *out)
{
	if (len < 6 || strncmp(s, "/dev/", 5))
		return "not a path under /dev/";
	if (len >= BOOT_PATH_MAX)
		return "path too long";
	memcpy(out, s, len);
	out[len] = '\0';
	return NULL;
}

/* One line without its newline; 1 when an entry was added to @cfg. */
static int boot_parse_line(const struct boot_parse *p, const char *s,
			   size_t len, struct boot_config *cfg)
{
	struct boot_entry e = { .line = p->line };
	int have_id = 0, have_store = 0, have_ranges = 0, have_device = 0;
	const char *err = NULL;
	char detail[48] = "";
	size_t at = 0;
	unsigned int tok = 0, i;

	while (at < len && !err) {
		size_t start, end, klen, vlen;
		const char *t, *eq;

		while (at < len && boot_is_space(s[at]))
			at++;
		if (at == len)
			break;
		if (tok == 0 && s[at] == '#')
			return 0;
		start = at;
		while (at < len && !boot_is_space(s[at]))
			at++;
		end = at;
		t = s + start;
		if (!boot_token_ok(t, end - start)) {
			detail[0] = '\0';
			err = "control or non-ASCII characters";
			break;
		}
		snprintf(detail, sizeof(detail), "%.*s",
			 (int)(end - start < 40 ? end - start : 40), t);
		/* key=value: the key's and the value's length. */
		eq = memchr(t, '=', end - start);
		klen = eq ? (size_t)(eq - t) : end - start;
		vlen = eq ? end - start - klen - 1 : 0;
		if (tok == 0) {
			if (!eq && klen == 10 && !strncmp(t, "checkpoint", 10))
				e.kind = BOOT_ENTRY_CHECKPOINT;
			else if (klen != 5 || eq || strncmp(t, "track", 5))
				err = "unknown keyword (want \"track\" or \"checkpoint\")";
		} else if (tok == 1) {
			err = boot_parse_path(t, end - start, e.device);
			have_device = 1;
		} else if (!eq && klen == 8 && !strncmp(t, "nointent", 8)) {
			e.flags |= SNAPKEEP_PERSIST_NO_INTENT;
		} else if (!eq) {
			err = "unknown word";
		} else if (klen == 8 && !strncmp(t, "identity", 8)) {
			if (have_id++) {
				err = "identity given twice";
			} else if (!vlen || vlen > SNAPKEEP_PERSIST_IDENTITY_LEN) {
				err = "identity must be 1..64 characters";
			} else {
				memcpy(e.identity, eq + 1, vlen);
				e.identity_len = vlen;
			}
		} else if (klen == 5 && !strncmp(t, "store", 5)) {
			if (have_store++)
				err = "store given twice";
			else
				err = boot_parse_path(eq + 1, vlen, e.store);
		} else if (klen == 5 && !strncmp(t, "stamp", 5)) {
			if (e.has_stamp++)
				err = "stamp given twice";
			else if (boot_parse_u64(eq + 1, vlen, &e.stamp))
				err = "stamp is not a decimal number";
			else if (e.stamp % BOOT_PAGE_SECTORS)
				err = "stamp is not 4096-byte aligned";
			else if (e.stamp > (INT64_MAX >> 9) - BOOT_PAGE_SECTORS)
				err = "stamp lies beyond any device";
		} else if (klen == 4 && !strncmp(t, "file", 4)) {
			if (e.has_file++)
				err = "file given twice";
			else if (vlen < 2 || eq[1] != '/')
				err = "file is not an absolute path";
			else if (vlen >= BOOT_PATH_MAX)
				err = "file path too long";
			else
				memcpy(e.file, eq + 1, vlen);
		} else if (klen == 6 && !strncmp(t, "ranges", 6)) {
			if (have_ranges++)
				err = "ranges given twice";
			else
				err = boot_parse_ranges(eq + 1, vlen, &e);
		} else {
			err = "unknown key";
		}
		tok++;
	}
	if (!err && tok == 0)
		return 0;
	if (!err) {
		detail[0] = '\0';
		if (!have_device)
			err = "no device";
		else if (!have_id)
			err = "no identity=";
		else if (!have_store)
			err = "no store=";
		else if (!have_ranges)
			err = "no ranges=";
	}
	if (!err && e.kind == BOOT_ENTRY_CHECKPOINT && e.flags)
		err = "nointent is for track lines";
	/* The seal writes the stamp page: never a page of the map's. */
	for (i = 0; !err && e.has_stamp && i < e.count; i++) {
		if (e.stamp < e.ranges[i].start + e.ranges[i].count &&
		    e.ranges[i].start < e.stamp + BOOT_PAGE_SECTORS)
			err = "stamp overlaps the ranges";
	}
	for (i = 0; !err && i < cfg->count; i++) {
		if (cfg->entries[i].kind == e.kind &&
		    !strcmp(cfg->entries[i].device, e.device)) {
			snprintf(detail, sizeof(detail), "line %u",
				 cfg->entries[i].line);
			err = "device listed twice";
		}
	}
	if (!err && cfg->count >= BOOT_CONFIG_MAX_ENTRIES)
		err = "too many devices";
	if (err) {
		boot_config_error(p, err, detail[0] ? detail : NULL);
		free(e.ranges);
		cfg->errors++;
		return 0;
	}
	cfg->entries[cfg->count++] = e;
	return 1;
}

int boot_config_parse(const char *text, size_t len, const char *name,
		      struct boot_config *cfg)
{
	struct boot_parse p = { .name = name };
	size_t at = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (memchr(text, '\0', len)) {
		boot_log(BOOT_LOG_ERR, "%s: holds NUL bytes: not a config file",
			 name);
		return -EINVAL;
	}
	cfg->entries = calloc(BOOT_CONFIG_MAX_ENTRIES, sizeof(*cfg->entries));
	if (!cfg->entries)
		return -ENOMEM;
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len;

		p.line++;
		boot_parse_line(&p, text + at, end - at, cfg);
		at = end + 1;
	}
	return 0;
}

int boot_config_load(const char *path, int need_root_owner,
		     struct boot_config *cfg)
{
	struct stat st;
	char *text;
	size_t got = 0;
	int fd, ret;

	memset(cfg, 0, sizeof(*cfg));
	/* Not through a link: the file root wrote, not what it points to. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	ret = -EINVAL;
	if (!S_ISREG(st.st_mode)) {
		boot_log(BOOT_LOG_ERR, "%s: not a regular file", path);
		goto out_close;
	}
	/*
	 * Whoever may write this file chooses sectors the module
	 * overwrites: only root may.
	 */
	if (need_root_owner && (st.st_uid != 0 || (st.st_mode & 022))) {
		boot_log(BOOT_LOG_ERR,
			 "%s: must be owned by root and writable by root only (uid %u, mode %04o)",
			 path, (unsigned int)st.st_uid,
			 (unsigned int)(st.st_mode & 07777));
		ret = -EPERM;
		goto out_close;
	}
	if (st.st_size > BOOT_CONFIG_MAX_BYTES) {
		boot_log(BOOT_LOG_ERR, "%s: larger than %u bytes", path,
			 BOOT_CONFIG_MAX_BYTES);
		ret = -EFBIG;
		goto out_close;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		ret = -ENOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	ret = boot_config_parse(text, got, path, cfg);
out_free:
	free(text);
out_close:
	close(fd);
	return ret;
}

void boot_config_free(struct boot_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->count; i++)
		free(cfg->entries[i].ranges);
	free(cfg->entries);
	memset(cfg, 0, sizeof(*cfg));
}

int boot_config_write_entry(const struct boot_entry *e, FILE *out)
{
	__u32 i;

	fprintf(out, "%s %s identity=%.*s store=%s ranges=",
		e->kind == BOOT_ENTRY_CHECKPOINT ? "checkpoint" : "track", e->device,
		(int)e->identity_len, e->identity, e->store);
	for (i = 0; i < e->count; i++)
		fprintf(out, "%s%llu+%llu", i ? "," : "",
			(unsigned long long)e->ranges[i].start,
			(unsigned long long)e->ranges[i].count);
	if (e->has_stamp)
		fprintf(out, " stamp=%llu", (unsigned long long)e->stamp);
	if (e->has_file)
		fprintf(out, " file=%s", e->file);
	fprintf(out, "%s\n",
		e->flags & SNAPKEEP_PERSIST_NO_INTENT ? " nointent" : "");
	return ferror(out) ? -EIO : 0;
}

int boot_config_read_text(const char *path, char **text, size_t *len,
			  unsigned int *mode)
{
	struct stat st;
	size_t got = 0;
	int fd, ret = 0;

	*text = NULL;
	*len = 0;
	*mode = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > BOOT_CONFIG_MAX_BYTES) {
		close(fd);
		return -EINVAL;
	}
	*text = malloc((size_t)st.st_size + 1);
	if (!*text) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (ret) {
		free(*text);
		*text = NULL;
		return ret;
	}
	(*text)[got] = '\0';
	*len = got;
	*mode = st.st_mode & 07777;
	return 0;
}

int boot_config_save(const char *path, const char *text, size_t len,
		     unsigned int mode)
{
	char tmp[BOOT_PATH_MAX + 8], dir[BOOT_PATH_MAX + 8];
	size_t done = 0;
	int fd, dfd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -errno;
	/* Whoever may write it chooses sectors the module overwrites. */
	if (fchmod(fd, mode & 0755) < 0)
		ret = -errno;
	while (!ret && done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		else
			done += (size_t)n;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -EIO;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
