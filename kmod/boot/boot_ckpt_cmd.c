// SPDX-License-Identifier: GPL-2.0
/*
 * boot_ckpt_cmd.c - `snapkeep-boot checkpoint ...`, the running system's
 * side of checkpoints (docs/kernel-module.md, "Checkpoints"):
 *
 *	checkpoint create --name NAME --file PATH --store-device DEV --pages N
 *		DEVICE=IDENTITY...
 *	checkpoint list
 *	checkpoint commit ID | abandon ID
 *	checkpoint remove [--force] ID
 *
 * create is all or nothing: the store file (made as mkstore makes one,
 * with one stamp page per device), its config lines, then the module's
 * CKPT_CREATE; when a step fails, what the earlier ones made is undone
 * (the config rewritten as it was, the file deleted). The lines are
 * written before the checkpoint exists, so a crash in between leaves a
 * store without a header, which the boot reports and `remove` (by the
 * file's path) cleans up; never an active checkpoint the boot would not
 * know.
 *
 * list prints what the app parses: one line per checkpoint, TAB-separated
 * key=value fields, name last. Everything read from a store is untrusted
 * (boot_ckpt_read() makes the name printable).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "snapkeep.h"
#include "boot_ckpt.h"
#include "boot_ckpt_cmd.h"
#include "boot_log.h"
#include "boot_store.h"

#define BOOT_CTL_PATH		"/dev/" SNAPKEEP_CTL_NAME
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
/* 3 header and metadata pages + 1 log page + 16 pages of a 64 KiB chunk. */
#define BOOT_CKPT_MIN_PAGES	20ULL
#define BOOT_CKPT_MAX_PAGES	(1ULL << 24)

static const char *const boot_ckpt_state_names[] = {
	[SNAPKEEP_CKPT_ACTIVE] = "active",
	[SNAPKEEP_CKPT_COMMITTED] = "committed",
	[SNAPKEEP_CKPT_ABANDONED] = "abandoned",
	[SNAPKEEP_CKPT_INVALID] = "invalid",
	[SNAPKEEP_CKPT_ROLLING_BACK] = "rolling-back",
	[SNAPKEEP_CKPT_ROLLED_BACK] = "rolled-back",
};

static const char *const boot_ckpt_reason_names[] = {
	[SNAPKEEP_CKPT_REASON_NONE] = "none",
	[SNAPKEEP_CKPT_REASON_FULL] = "full",
	[SNAPKEEP_CKPT_REASON_IO] = "io",
	[SNAPKEEP_CKPT_REASON_ABSENT] = "absent",
};

static const char *boot_ckpt_name_of(const char *const *names, size_t n,
				     unsigned int v)
{
	return v < n && names[v] ? names[v] : "unknown";
}

#define boot_ckpt_state_name(s) boot_ckpt_name_of(boot_ckpt_state_names, \
	ARRAY_SIZE(boot_ckpt_state_names), s)
#define boot_ckpt_reason_name(r) boot_ckpt_name_of(boot_ckpt_reason_names, \
	ARRAY_SIZE(boot_ckpt_reason_names), r)

/*
 * A name goes into the GRUB menu and the TAB-separated list: printable
 * ASCII without the characters a shell or grub.cfg quotes with.
 */
static int boot_ckpt_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (!len || len > SNAPKEEP_CKPT_NAME_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e ||
		    strchr("'\"\\`$", name[i]))
			return 0;
	return 1;
}

/* Printable ASCII without space: what a config token may hold. */
static int boot_ckpt_token_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* For list: bytes of unknown origin, TAB and control characters as '?'. */
static void boot_ckpt_print_safe(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e ?
			'?' : *s);
}

static int boot_ckpt_ctl(void)
{
	int fd = open(BOOT_CTL_PATH, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/*
 * create and remove read, change and write the config: two at once would
 * lose one's lines (an active checkpoint the boot would not know). They
 * take turns on a lock of the config's directory; the fd, or -errno.
 */
static int boot_ckpt_lock(const char *config)
{
	char dir[BOOT_PATH_MAX + 8];
	int fd;

	snprintf(dir, sizeof(dir), "%s", config);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -2 : -errno;
	if (flock(fd, LOCK_EX) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static const char *boot_ckpt_create_why(int err)
{
	switch (err) {
	case EBUSY:
		return " (a device is in another checkpoint)";
	case ENOSPC:
		return " (the store is too small for one chunk's record)";
	case ELOOP:
		return " (the store is stacked on a device of the checkpoint)";
	case ETXTBSY:
		return " (the store file is in use by another checkpoint or map)";
	case EINVAL:
		return " (bad ranges, a file not on the store device, or logical blocks over 4096 bytes)";
	default:
		return "";
	}
}

/*
 * Undoes a create: the config back as it was (or gone, when it did not
 * exist), the store file deleted. Errors are reported, never hidden.
 */
static void boot_ckpt_undo(const char *config, const char *text, size_t len,
			   unsigned int mode, int config_written,
			   const char *file)
{
	int ret;

	if (config_written) {
		ret = text ? boot_config_save(config, text, len, mode) :
			     (unlink(config) < 0 ? -errno : 0);
		if (ret)
			boot_log(BOOT_LOG_ERR,
				 "%s: its new checkpoint lines could not be removed: %s (remove them by hand)",
				 config, strerror(-ret));
	}
	ret = boot_store_remove(file);
	if (ret)
		boot_log(BOOT_LOG_ERR,
			 "%s: could not be removed: %s (chattr -i, then delete it)",
			 file, strerror(-ret));
}

/* Whether the config names @dev (path @path) as a checkpoint's device. */
static const struct boot_entry *boot_ckpt_named(const struct boot_config *cfg,
						const char *path, dev_t dev)
{
	unsigned int i;
	struct stat st;

	for (i = 0; i < cfg->count; i++) {
		const struct boot_entry *e = &cfg->entries[i];

		if (e->kind != BOOT_ENTRY_CHECKPOINT)
			continue;
		if (!strcmp(e->device, path) ||
		    (stat(e->device, &st) == 0 && S_ISBLK(st.st_mode) &&
		     st.st_rdev == dev))
			return e;
	}
	return NULL;
}

/* The config's bytes with @lines appended (a header when it was empty). */
static char *boot_ckpt_new_text(const char *text, size_t len,
				const char *lines, size_t *out_len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *mem = open_memstream(&buf, &n);

	if (!mem)
		return NULL;
	if (!len)
		fputs("# snapkeep-boot: devices whose change maps outlive reboots, and checkpoints.\n"
		      "# Made by snapkeep-boot mkstore and checkpoint create; after a change run\n"
		      "# update-initramfs -u.\n", mem);
	fwrite(text, 1, len, mem);
	if (len && text[len - 1] != '\n')
		fputc('\n', mem);
	fputs(lines, mem);
	if (fclose(mem)) {
		free(buf);
		return NULL;
	}
	*out_len = n;
	return buf;
}

/*
 * Parses "DEVICE=IDENTITY" into @e (split at the first '=': a device is a
 * path under /dev/, an identity has no spaces); 0 or an error message.
 */
static const char *boot_ckpt_parse_dev(const char *arg, struct boot_entry *e)
{
	const char *eq = strchr(arg, '=');
	size_t dlen, ilen;

	if (!eq)
		return "want DEVICE=IDENTITY";
	dlen = (size_t)(eq - arg);
	ilen = strlen(eq + 1);
	if (dlen < 6 || strncmp(arg, "/dev/", 5) || dlen >= BOOT_PATH_MAX ||
	    !boot_ckpt_token_ok(arg, dlen))
		return "the device must be a path under /dev/ (printable, no spaces)";
	if (!ilen || ilen > SNAPKEEP_CKPT_IDENTITY_LEN ||
	    !boot_ckpt_token_ok(eq + 1, ilen))
		return "the identity must be 1..64 printable characters without spaces";
	memcpy(e->device, arg, dlen);
	e->device[dlen] = '\0';
	memcpy(e->identity, eq + 1, ilen);
	e->identity_len = ilen;
	return NULL;
}

static int boot_ckpt_create(const char *config, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "file", required_argument, NULL, 'f' },
		{ "store-device", required_argument, NULL, 's' },
		{ "pages", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct snapkeep_ckpt_dev devs[SNAPKEEP_CKPT_MAX_DEVICES];
	struct boot_entry e[SNAPKEEP_CKPT_MAX_DEVICES];
	const char *name = NULL, *file = NULL, *store = NULL, *err;
	char *text = NULL, *lines = NULL, *next = NULL, *end;
	size_t len = 0, lines_len = 0, next_len = 0;
	unsigned long long pages = 0;
	unsigned int i, k, n, mode = 0;
	struct snapkeep_ckpt_create arg;
	struct boot_config cfg, check;
	struct stat st, sst, fst;
	int c, ret, ctl = -1, fd = -1, lock = -1, written = 0, made = 0;
	char id[37];
	FILE *mem;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'p':
			pages = strtoull(optarg, &end, 10);
			if (end == optarg || *end || optarg[0] == '-')
				pages = 0;
			break;
		default:
			return 2;
		}
	}
	n = (unsigned int)(argc - optind);
	if (!name || !file || !store || !pages || !n) {
		boot_log(BOOT_LOG_ERR, "checkpoint create: --name, --file, --store-device, --pages and DEVICE=IDENTITY are needed");
		return 2;
	}
	if (!boot_ckpt_name_ok(name)) {
		boot_log(BOOT_LOG_ERR, "checkpoint create: the name must be 1..64 printable ASCII characters without ' \" \\ ` $");
		return 2;
	}
	if (pages < BOOT_CKPT_MIN_PAGES || pages > BOOT_CKPT_MAX_PAGES) {
		boot_log(BOOT_LOG_ERR, "checkpoint create: --pages: %llu..%llu",
			 BOOT_CKPT_MIN_PAGES, BOOT_CKPT_MAX_PAGES);
		return 2;
	}
	if (n > SNAPKEEP_CKPT_MAX_DEVICES) {
		boot_log(BOOT_LOG_ERR, "checkpoint create: 1..%u devices",
			 SNAPKEEP_CKPT_MAX_DEVICES);
		return 2;
	}
	if (file[0] != '/' || strlen(file) >= BOOT_PATH_MAX ||
	    !boot_ckpt_token_ok(file, strlen(file)) || strlen(store) < 6 ||
	    strncmp(store, "/dev/", 5) || strlen(store) >= BOOT_PATH_MAX ||
	    !boot_ckpt_token_ok(store, strlen(store))) {
		boot_log(BOOT_LOG_ERR, "checkpoint create: --file must be an absolute path and --store-device a path under /dev/ (printable, no spaces)");
		return 2;
	}
	memset(e, 0, sizeof(e));
	memset(devs, 0, sizeof(devs));
	for (i = 0; i < n; i++) {
		e[i].kind = BOOT_ENTRY_CHECKPOINT;
		err = boot_ckpt_parse_dev(argv[optind + i], &e[i]);
		if (err) {
			boot_log(BOOT_LOG_ERR, "checkpoint create: %s: %s",
				 argv[optind + i], err);
			return 2;
		}
		snprintf(e[i].store, sizeof(e[i].store), "%s", store);
		snprintf(e[i].file, sizeof(e[i].file), "%s", file);
		e[i].has_file = 1;
	}

	for (i = 0; i < n; i++) {
		if (stat(e[i].device, &st) < 0 || !S_ISBLK(st.st_mode)) {
			boot_log(BOOT_LOG_ERR, "checkpoint create: %s is not a block device",
				 e[i].device);
			return 1;
		}
		devs[i].dev.major = major(st.st_rdev);
		devs[i].dev.minor = minor(st.st_rdev);
		memcpy(devs[i].identity, e[i].identity, e[i].identity_len);
		for (k = 0; k < i; k++) {
			if (devs[k].dev.major == devs[i].dev.major &&
			    devs[k].dev.minor == devs[i].dev.minor) {
				boot_log(BOOT_LOG_ERR, "checkpoint create: %s is given twice",
					 e[i].device);
				return 2;
			}
		}
	}
	if (stat(store, &sst) < 0 || !S_ISBLK(sst.st_mode)) {
		boot_log(BOOT_LOG_ERR, "checkpoint create: %s is not a block device",
			 store);
		return 1;
	}

	/* No directory yet: nobody else can be writing the config. */
	lock = boot_ckpt_lock(config);
	if (lock < 0 && lock != -2) {
		boot_log(BOOT_LOG_ERR, "%s: cannot lock its directory: %s: no checkpoint made",
			 config, strerror(-lock));
		return 1;
	}
	ret = boot_config_read_text(config, &text, &len, &mode);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s: no checkpoint made", config,
			 strerror(-ret));
		if (lock >= 0)
			close(lock);
		return 1;
	}
	ret = boot_config_parse(text ? text : "", len, config, &cfg);
	if (ret) {
		free(text);
		if (lock >= 0)
			close(lock);
		return 1;
	}
	/* One checkpoint per device: the user ends the old one first. */
	for (i = 0; i < n; i++) {
		const struct boot_entry *old;

		old = boot_ckpt_named(&cfg, e[i].device,
				      makedev(devs[i].dev.major, devs[i].dev.minor));
		if (old) {
			boot_log(BOOT_LOG_ERR,
				 "checkpoint create: %s is in a checkpoint already (%s line %u): commit or abandon it and remove it first",
				 e[i].device, config, old->line);
			boot_config_free(&cfg);
			free(text);
			if (lock >= 0)
				close(lock);
			return 1;
		}
	}

	/* Without the module nothing is made. */
	ctl = boot_ckpt_ctl();
	if (ctl < 0) {
		ret = ctl;
		boot_log(BOOT_LOG_ERR, "%s: %s (is the snapkeep module loaded?): no checkpoint made",
			 BOOT_CTL_PATH, strerror(-ret));
		goto out;
	}
	ret = boot_store_create_n(file, pages, sst.st_rdev, e, n);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: cannot make the store: %s", file,
			 strerror(-ret));
		goto out;
	}
	made = 1;
	/* Read back through the device: the ranges must show the file. */
	ret = boot_store_probe(&e[0], sst.st_rdev);
	for (i = 0; ret == BOOT_STORE_FRESH_OK && i < n; i++)
		if (boot_store_probe_stamp(&e[i], sst.st_rdev))
			ret = BOOT_STORE_FOREIGN;
	if (ret != BOOT_STORE_FRESH_OK) {
		boot_log(BOOT_LOG_ERR,
			 "%s: its sectors on %s do not read back as the file (%d): no checkpoint made",
			 file, store, ret);
		ret = -EIO;
		goto out;
	}

	mem = open_memstream(&lines, &lines_len);
	if (!mem) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		boot_config_write_entry(&e[i], mem);
	if (fclose(mem)) {
		ret = -ENOMEM;
		goto out;
	}
	next = boot_ckpt_new_text(text, len, lines, &next_len);
	if (!next) {
		ret = -ENOMEM;
		goto out;
	}
	/* The new lines as the boot will read them, before they are kept. */
	ret = boot_config_parse(next, next_len, "new config", &check);
	if (!ret && (check.count != cfg.count + n ||
		     check.errors != cfg.errors)) {
		boot_log(BOOT_LOG_ERR,
			 "checkpoint create: the new lines do not parse (%u of %u kept; too many devices in %s?)",
			 check.count - cfg.count, n, config);
		ret = -EINVAL;
	}
	boot_config_free(&check);
	if (ret)
		goto out;
	ret = boot_config_save(config, next, next_len,
			       text ? mode & ~022U : 0644);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s", config, strerror(-ret));
		goto out;
	}
	written = 1;

	/* The module pins the file through this descriptor while attached. */
	fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
		ret = fd < 0 ? -errno : -EINVAL;
		boot_log(BOOT_LOG_ERR, "%s: cannot open the store file: %s",
			 file, strerror(-ret));
		goto out;
	}
	memset(&arg, 0, sizeof(arg));
	arg.count = n;
	arg.devs = (__u64)(uintptr_t)devs;
	arg.store_dev.major = major(fst.st_dev);
	arg.store_dev.minor = minor(fst.st_dev);
	arg.fd = fd;
	arg.range_count = e[0].count;
	arg.ranges = (__u64)(uintptr_t)e[0].ranges;
	memcpy(arg.name, name, strlen(name));
	if (ioctl(ctl, SNAPKEEP_IOCTL_CKPT_CREATE, &arg) < 0) {
		ret = -errno;
		boot_log(BOOT_LOG_ERR,
			 "checkpoint %s: the module refused it: %s%s: nothing kept",
			 name, strerror(-ret), boot_ckpt_create_why(-ret));
		goto out;
	}
	snprintf(id, sizeof(id),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 arg.id.b[0], arg.id.b[1], arg.id.b[2], arg.id.b[3],
		 arg.id.b[4], arg.id.b[5], arg.id.b[6], arg.id.b[7],
		 arg.id.b[8], arg.id.b[9], arg.id.b[10], arg.id.b[11],
		 arg.id.b[12], arg.id.b[13], arg.id.b[14], arg.id.b[15]);
	boot_log(BOOT_LOG_NOTICE,
		 "checkpoint %s (%s): created on %u device(s), store %s (%llu pages, %u range(s)) added to %s; run update-initramfs -u",
		 name, id, n, file, pages, e[0].count, config);
	printf("id=%s\n", id);
	ret = 0;
out:
	if (ret && made)
		boot_ckpt_undo(config, text, len, mode, written, file);
	if (fd >= 0)
		close(fd);
	if (ctl >= 0)
		close(ctl);
	if (lock >= 0)
		close(lock);
	for (i = 0; i < n; i++)
		free(e[i].ranges);
	boot_config_free(&cfg);
	free(next);
	free(lines);
	free(text);
	return ret ? 1 : 0;
}

static int boot_ckpt_list(const char *config, int argc)
{
	struct boot_ckpt_lines l[SNAPKEEP_CKPT_MAX_DEVICES];
	struct boot_ckpt_view v;
	struct boot_config cfg;
	unsigned int n, i, k;
	char why[512];
	int ret;

	if (argc != 1)
		return 2;
	ret = boot_config_load(config, 0, &cfg);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s", config, strerror(-ret));
		return 1;
	}
	n = boot_ckpt_lines(&cfg, l, SNAPKEEP_CKPT_MAX_DEVICES);
	for (i = 0; i < n; i++) {
		const char *file = "";

		for (k = 0; k < l[i].n && !file[0]; k++)
			if (l[i].e[k]->has_file)
				file = l[i].e[k]->file;
		fputs("store=", stdout);
		boot_ckpt_print_safe(l[i].e[0]->store);
		fputs("\tfile=", stdout);
		boot_ckpt_print_safe(file);
		fputs("\tdevices=", stdout);
		for (k = 0; k < l[i].n; k++) {
			if (k)
				putchar(',');
			boot_ckpt_print_safe(l[i].e[k]->device);
		}
		why[0] = '\0';
		if (boot_ckpt_read(&l[i], &v, why, sizeof(why))) {
			fputs("\terror=", stdout);
			boot_ckpt_print_safe(why[0] ? why : "unreadable");
			putchar('\n');
			continue;
		}
		printf("\tid=%s\tstate=%s\treason=%s\tcreated=%llu\tentries=%llu\tused=%llu\tpages=%llu\tattached=%s\tname=",
		       v.id, boot_ckpt_state_name(v.state),
		       boot_ckpt_reason_name(v.reason), v.created, v.entries,
		       v.used, v.pages, v.attached ? "yes" : "no");
		boot_ckpt_print_safe(v.name);
		putchar('\n');
	}
	boot_config_free(&cfg);
	return 0;
}

static int boot_ckpt_end(int argc, char **argv, int commit)
{
	struct snapkeep_uuid u;
	int ctl, ret;

	if (argc != 2)
		return 2;
	if (boot_ckpt_parse_id(argv[1], u.b)) {
		boot_log(BOOT_LOG_ERR, "%s: not a checkpoint id", argv[1]);
		return 2;
	}
	ctl = boot_ckpt_ctl();
	if (ctl < 0) {
		boot_log(BOOT_LOG_ERR,
			 "%s: %s (is the snapkeep module loaded?): nothing %s",
			 BOOT_CTL_PATH, strerror(-ctl),
			 commit ? "committed" : "abandoned");
		return 1;
	}
	ret = ioctl(ctl, commit ? SNAPKEEP_IOCTL_CKPT_COMMIT :
		    SNAPKEEP_IOCTL_CKPT_ABANDON, &u) < 0 ? -errno : 0;
	close(ctl);
	if (ret == -ENOENT) {
		boot_log(BOOT_LOG_ERR,
			 "checkpoint %s: not attached in the running kernel (only an attached checkpoint can be %s; see checkpoint list)",
			 argv[1], commit ? "committed" : "abandoned");
		return 1;
	}
	if (ret) {
		boot_log(BOOT_LOG_ERR, "checkpoint %s: %s failed: %s%s",
			 argv[1], commit ? "commit" : "abandon", strerror(-ret),
			 ret == -EIO ? " (the store did not take the new state; it stays active)" : "");
		return 1;
	}
	boot_log(BOOT_LOG_NOTICE, "checkpoint %s: %s", argv[1],
		 commit ? "committed" : "abandoned");
	return 0;
}

/* @text without the lines numbered in @l (1-based, as the parser counts). */
static char *boot_ckpt_drop_lines(const char *text, size_t len,
				  const struct boot_ckpt_lines *l,
				  size_t *out_len)
{
	unsigned int line = 0, k;
	size_t at = 0;
	char *buf = NULL;
	FILE *mem = open_memstream(&buf, out_len);

	if (!mem)
		return NULL;
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		int drop = 0;

		line++;
		for (k = 0; k < l->n; k++)
			if (l->e[k]->line == line)
				drop = 1;
		if (!drop)
			fwrite(text + at, 1, end - at, mem);
		at = end;
	}
	if (fclose(mem)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int boot_ckpt_remove(const char *config, int argc, char **argv)
{
	struct boot_ckpt_lines l[SNAPKEEP_CKPT_MAX_DEVICES];
	const struct boot_ckpt_lines *hit = NULL;
	struct boot_ckpt_view v, hv;
	const char *want, *file = "";
	char *text = NULL, *next = NULL, why[512] = "", hwhy[512] = "";
	unsigned int n, i, k, mode = 0;
	int force = 0, by_id, readable = 0, lock, ret;
	unsigned char id[16];
	struct boot_config cfg;
	size_t len = 0, next_len = 0;
	struct stat st, sst;

	if (argc == 3 && !strcmp(argv[1], "--force"))
		force = 1;
	else if (argc != 2)
		return 2;
	want = argv[argc - 1];
	by_id = !boot_ckpt_parse_id(want, id);
	lock = boot_ckpt_lock(config);
	if (lock < 0) {
		boot_log(BOOT_LOG_ERR, "%s: cannot lock its directory: %s", config,
			 strerror(lock == -2 ? ENOENT : -lock));
		return 1;
	}
	ret = boot_config_read_text(config, &text, &len, &mode);
	if (!ret && !text)
		ret = -ENOENT;
	if (!ret)
		ret = boot_config_parse(text, len, config, &cfg);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s", config, strerror(-ret));
		free(text);
		close(lock);
		return 1;
	}
	memset(&hv, 0, sizeof(hv));
	n = boot_ckpt_lines(&cfg, l, SNAPKEEP_CKPT_MAX_DEVICES);
	for (i = 0; i < n && !hit; i++) {
		const char *f = "";
		int ok;

		for (k = 0; k < l[i].n && !f[0]; k++)
			if (l[i].e[k]->has_file)
				f = l[i].e[k]->file;
		why[0] = '\0';
		ok = !boot_ckpt_read(&l[i], &v, why, sizeof(why));
		if ((by_id && ok && !memcmp(v.raw_id, id, 16)) ||
		    (!by_id && f[0] && !strcmp(f, want))) {
			hit = &l[i];
			hv = v;
			readable = ok;
			file = f;
			snprintf(hwhy, sizeof(hwhy), "%s", why);
		}
	}
	ret = 1;
	if (!hit) {
		boot_log(BOOT_LOG_ERR, "%s: no checkpoint %s %s in %s", want,
			 by_id ? "with this id" : "with this store file",
			 by_id ? "(an unreadable one is removed by its store file's path)" : "",
			 config);
		goto out;
	}
	if (readable && hv.attached) {
		boot_log(BOOT_LOG_ERR,
			 "checkpoint %s (%s) is attached in the running kernel: commit or abandon it first",
			 hv.name, hv.id);
		goto out;
	}
	if (readable && (hv.state == SNAPKEEP_CKPT_ACTIVE ||
			 hv.state == SNAPKEEP_CKPT_ROLLING_BACK) && !force) {
		boot_log(BOOT_LOG_ERR,
			 "checkpoint %s (%s) is %s: commit or abandon it first (or, when it cannot be attached, remove it with --force: it can then never be rolled back)",
			 hv.name, hv.id, boot_ckpt_state_name(hv.state));
		goto out;
	}
	next = boot_ckpt_drop_lines(text, len, hit, &next_len);
	if (!next) {
		boot_log(BOOT_LOG_ERR, "out of memory");
		goto out;
	}
	ret = boot_config_save(config, next, next_len, mode & ~022U);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s: nothing removed", config,
			 strerror(-ret));
		ret = 1;
		goto out;
	}
	printf("removed %u line(s) of checkpoint %s (%s) from %s\n", hit->n,
	       readable ? hv.id : "(unreadable)",
	       readable ? boot_ckpt_state_name(hv.state) : hwhy, config);
	ret = 0;
	if (!file[0]) {
		printf("no store file recorded (file=): its sectors on %s stay in use\n",
		       hit->e[0]->store);
		goto out;
	}
	/* Only a file on the store device: the one its lines were made of. */
	if (lstat(file, &st) < 0) {
		printf("store file %s: gone already (%s)\n", file,
		       strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) ||
	    (stat(hit->e[0]->store, &sst) == 0 && S_ISBLK(sst.st_mode) &&
	     st.st_dev != sst.st_rdev)) {
		boot_log(BOOT_LOG_ERR, "%s: not a file on %s: left in place",
			 file, hit->e[0]->store);
		ret = 1;
		goto out;
	}
	ret = boot_store_remove(file);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: cannot be removed: %s", file,
			 strerror(-ret));
		ret = 1;
		goto out;
	}
	printf("removed store file %s\n", file);
	boot_log(BOOT_LOG_INFO, "checkpoint %s: removed from %s, store file %s deleted",
		 readable ? hv.id : want, config, file);
out:
	boot_config_free(&cfg);
	free(next);
	free(text);
	close(lock);
	return ret;
}

int boot_ckpt_cmd(const char *config, int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "create"))
		return boot_ckpt_create(config, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return boot_ckpt_list(config, argc - 1);
	if (!strcmp(argv[1], "commit"))
		return boot_ckpt_end(argc - 1, argv + 1, 1);
	if (!strcmp(argv[1], "abandon"))
		return boot_ckpt_end(argc - 1, argv + 1, 0);
	if (!strcmp(argv[1], "remove"))
		return boot_ckpt_remove(config, argc - 1, argv + 1);
	return 2;
}
