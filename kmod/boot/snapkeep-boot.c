// SPDX-License-Identifier: GPL-2.0
/*
 * snapkeep-boot - attach and seal persistent change maps around a boot.
 *
 * Runs where there is no node and no service: in the initramfs, before any
 * file system is mounted (attach), and in systemd-shutdown, after every
 * file system is unmounted or read-only (seal). docs/kernel-module.md,
 * "Boot integration", tells the whole story.
 *
 * Global options, before the command: --config PATH (default
 * /etc/snapkeep/boot.conf), --no-kmsg (messages to stderr only; attach,
 * seal, mkstore, rollback and checkpoint (but list) also write them to
 * the kernel log).
 *
 *	snapkeep-boot [--config PATH] attach [--wait SECONDS]
 *	snapkeep-boot seal
 *	snapkeep-boot [--config PATH] status
 *	snapkeep-boot [--config PATH] check
 *	snapkeep-boot [--config PATH] mkstore --device DEV --identity ID
 *		--store-device DEV --file PATH [--pages N] [--nointent]
 *	snapkeep-boot [--config PATH] rollback [--check] [--wait S] [STORE|ID]
 *	snapkeep-boot [--config PATH] checkpoint create --name NAME
 *		--file PATH --store-device DEV --pages N DEVICE=IDENTITY...
 *	snapkeep-boot [--config PATH] checkpoint list
 *	snapkeep-boot [--config PATH] checkpoint commit|abandon ID
 *	snapkeep-boot [--config PATH] checkpoint remove [--force] ID
 *
 * attach also re-attaches the active checkpoints of the config (and
 * finishes a rollback a power cut interrupted); rollback writes the old
 * data of checkpoints back (boot_ckpt.c); checkpoint makes, lists, ends
 * and removes them while the system runs (boot_ckpt_cmd.c).
 *
 * attach compares each sealed store's stamp (boot_stamp.h) with the device
 * and asks the module for a new generation (reason "absent") when the
 * device was written after the seal; seal writes the stamps after the
 * module's seals. A map whose device a checkpoint holds (DETACH refused)
 * is sealed in place instead (ABI 1.6), after the checkpoints' stamps,
 * and stamped the same way.
 *
 * Exit status: 0 when everything listed was done, 1 when something was not
 * (each reported on its own line), 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
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

#include "boot_ckpt.h"
#include "boot_ckpt_cmd.h"
#include "boot_config.h"
#include "boot_log.h"
#include "boot_stamp.h"
#include "boot_store.h"

#define BOOT_CTL_PATH	"/dev/" SNAPKEEP_CTL_NAME
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *boot_config_path = BOOT_CONFIG_PATH;

static const char *const boot_reason_names[] = {
	[SNAPKEEP_PERSIST_REASON_NONE] = "none",
	[SNAPKEEP_PERSIST_REASON_NEW] = "new",
	[SNAPKEEP_PERSIST_REASON_CORRUPT] = "corrupt",
	[SNAPKEEP_PERSIST_REASON_IDENTITY] = "identity",
	[SNAPKEEP_PERSIST_REASON_SIZE] = "size",
	[SNAPKEEP_PERSIST_REASON_UNCLEAN] = "unclean",
	[SNAPKEEP_PERSIST_REASON_VERSION] = "version",
	[SNAPKEEP_PERSIST_REASON_GEOMETRY] = "geometry",
	[SNAPKEEP_PERSIST_REASON_ABSENT] = "absent",
};

static const char *const boot_reason_texts[] = {
	[SNAPKEEP_PERSIST_REASON_NONE] = "continued",
	[SNAPKEEP_PERSIST_REASON_NEW] = "the store was never used",
	[SNAPKEEP_PERSIST_REASON_CORRUPT] = "no valid metadata copy, or the map does not match its checksum",
	[SNAPKEEP_PERSIST_REASON_IDENTITY] = "the store belongs to another device",
	[SNAPKEEP_PERSIST_REASON_SIZE] = "the device's size or logical block size changed",
	[SNAPKEEP_PERSIST_REASON_UNCLEAN] = "not sealed and not covered by write intent",
	[SNAPKEEP_PERSIST_REASON_VERSION] = "a store format this module cannot read",
	[SNAPKEEP_PERSIST_REASON_GEOMETRY] = "another tracking block size",
	[SNAPKEEP_PERSIST_REASON_ABSENT] = "written while the module was absent",
};

static const char *boot_reason(__u32 r, int text)
{
	if (r >= ARRAY_SIZE(boot_reason_names))
		return "unknown";
	return text ? boot_reason_texts[r] : boot_reason_names[r];
}

static void boot_uuid(const struct snapkeep_uuid *u, char out[37])
{
	const __u8 *b = u->b;

	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void boot_time(__u64 secs, char out[32])
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (!secs || !gmtime_r(&t, &tm) ||
	    !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "(unknown time)");
}

/* The kernel's name of a device number ("vdb"), for messages. */
static void boot_dev_name(__u32 major, __u32 minor, char *out, size_t len)
{
	char link[64], target[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major, minor);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0) {
		snprintf(out, len, "%u:%u", major, minor);
		return;
	}
	target[n] = '\0';
	snprintf(out, len, "%s", basename(target));
}

static int boot_ctl_open(void)
{
	int fd = open(BOOT_CTL_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return fd;
}

static int boot_info2(int ctl, __u32 major, __u32 minor,
		      struct snapkeep_tracker_info2 *info)
{
	memset(info, 0, sizeof(*info));
	info->info.dev.major = major;
	info->info.dev.minor = minor;
	return ioctl(ctl, SNAPKEEP_IOCTL_TRACKER_INFO2, info) < 0 ? -errno : 0;
}

/*
 * The line a boot leaves in the kernel log for each tracked device. @why:
 * what the stamp check found (for reason absent and unverified maps).
 */
static void boot_report(const char *name, const struct snapkeep_tracker_info2 *i,
			const char *why)
{
	const struct snapkeep_dev *d = &i->info.dev;
	char gen[37], when[32];

	boot_uuid(&i->info.generation, gen);
	boot_time(i->found_time, when);
	if (!(i->persist_flags & SNAPKEEP_PERSIST_ATTACHED)) {
		boot_log(BOOT_LOG_WARN,
			 "%s (%u:%u): tracked without a store: its map will not outlive this boot",
			 name, d->major, d->minor);
	} else if (!(i->persist_flags & SNAPKEEP_PERSIST_CONTINUED)) {
		boot_log(BOOT_LOG_WARN,
			 "%s (%u:%u): NEW generation %s, reason %s (%s): the next backup reads the whole device",
			 name, d->major, d->minor, gen,
			 boot_reason(i->persist_reason, 0),
			 i->persist_reason == SNAPKEEP_PERSIST_REASON_ABSENT &&
			 why[0] ? why : boot_reason(i->persist_reason, 1));
	} else if (i->persist_flags & SNAPKEEP_PERSIST_UNCLEAN) {
		boot_log(BOOT_LOG_NOTICE,
			 "%s (%u:%u): map continued, unclean: not sealed, covered by write intent (last written %s, sequence %llu): generation %s, number %u",
			 name, d->major, d->minor, when,
			 (unsigned long long)i->found_sequence, gen,
			 i->info.number);
	} else {
		boot_log(BOOT_LOG_NOTICE,
			 "%s (%u:%u): map continued, sealed %s (sequence %llu): generation %s, number %u",
			 name, d->major, d->minor, when,
			 (unsigned long long)i->found_sequence, gen,
			 i->info.number);
	}
	if ((i->persist_flags & SNAPKEEP_PERSIST_CONTINUED) && why[0])
		boot_log(i->persist_flags & SNAPKEEP_PERSIST_UNVERIFIED ?
			 BOOT_LOG_WARN : BOOT_LOG_INFO,
			 "%s: writes while the module was absent: %s%s", name,
			 i->persist_flags & SNAPKEEP_PERSIST_UNVERIFIED ?
			 "NOT CHECKED, " : "none, ", why);
}

/*
 * ABI minor of the loaded module: 1.4 knows SNAPKEEP_PERSIST_RESTART and
 * SNAPKEEP_PERSIST_UNCHECKED; 1.3 refuses them (-EINVAL).
 */
static unsigned int boot_abi_minor(int ctl)
{
	struct snapkeep_version v;

	memset(&v, 0, sizeof(v));
	if (ioctl(ctl, SNAPKEEP_IOCTL_VERSION, &v) < 0 ||
	    v.abi_major != SNAPKEEP_ABI_MAJOR)
		return 0;
	return v.abi_minor;
}

static int boot_attach_one(int ctl, unsigned int abi_minor,
			   const struct boot_entry *e)
{
	enum boot_stamp_verdict verdict = BOOT_STAMP_UNCHECKED;
	struct snapkeep_attach_persistent arg;
	struct snapkeep_tracker_info2 info;
	struct stat dst, sst;
	char why[256] = "";
	int state, ret;

	if (stat(e->device, &dst) < 0) {
		ret = -errno;
		boot_log(BOOT_LOG_ERR,
			 "%s: %s: not tracked on this boot (its map starts a new generation when it is attached again)",
			 e->device, strerror(-ret));
		return ret;
	}
	if (!S_ISBLK(dst.st_mode)) {
		boot_log(BOOT_LOG_ERR, "%s: not a block device: not tracked",
			 e->device);
		return -ENOTBLK;
	}
	if (stat(e->store, &sst) < 0 || !S_ISBLK(sst.st_mode)) {
		ret = errno ? -errno : -ENOTBLK;
		boot_log(BOOT_LOG_ERR,
			 "%s: its store device %s is missing or not a block device: not tracked",
			 e->device, e->store);
		return ret;
	}
	/*
	 * The module would write every page of a store it cannot continue:
	 * make sure the sectors are still a store before it may.
	 */
	state = boot_store_probe(e, sst.st_rdev);
	if (state < 0) {
		boot_log(BOOT_LOG_ERR,
			 "%s: cannot read its store on %s: %s: not tracked",
			 e->device, e->store, strerror(-state));
		return state;
	}
	if (state == BOOT_STORE_FOREIGN) {
		boot_log(BOOT_LOG_ERR,
			 "%s: the sectors named as its store on %s do not hold a snapkeep store (was the store file deleted or moved?): not tracked, nothing written; make a new store with mkstore",
			 e->device, e->store);
		return -EUCLEAN;
	}
	/*
	 * Tracked already (the initramfs attached it, and the helper asks
	 * again at its start): nothing to check, its map is live.
	 */
	if (!boot_info2(ctl, major(dst.st_rdev), minor(dst.st_rdev), &info)) {
		boot_log(BOOT_LOG_INFO, "%s: tracked already", e->device);
		boot_report(e->device, &info, "");
		return 0;
	}
	/*
	 * A store the module used: was the device written since its seal,
	 * while no module watched? A fresh store restarts anyway.
	 */
	if (state == BOOT_STORE_USED)
		verdict = boot_stamp_check(e, why, sizeof(why));
	else
		why[0] = '\0';
	memset(&arg, 0, sizeof(arg));
	arg.dev.major = major(dst.st_rdev);
	arg.dev.minor = minor(dst.st_rdev);
	arg.store_dev.major = major(sst.st_rdev);
	arg.store_dev.minor = minor(sst.st_rdev);
	arg.fd = -1;
	arg.count = e->count;
	arg.ranges = (__u64)(uintptr_t)e->ranges;
	memcpy(arg.identity, e->identity, e->identity_len);
	arg.flags = e->flags;
	if (verdict == BOOT_STAMP_WRITTEN && abi_minor < 4) {
		/* Continuing would hide the writes: better no tracker at all. */
		boot_log(BOOT_LOG_ERR,
			 "%s: %s; the loaded module (ABI 1.%u) cannot restart the map on request: not tracked",
			 e->device, why, abi_minor);
		return -EOPNOTSUPP;
	}
	if (verdict == BOOT_STAMP_WRITTEN)
		arg.flags |= SNAPKEEP_PERSIST_RESTART;
	else if (verdict == BOOT_STAMP_UNCHECKED && abi_minor >= 4 && why[0])
		arg.flags |= SNAPKEEP_PERSIST_UNCHECKED;
	if (ioctl(ctl, SNAPKEEP_IOCTL_ATTACH_PERSISTENT, &arg) < 0) {
		ret = -errno;
		if (ret != -EEXIST) {
			boot_log(BOOT_LOG_ERR, "%s: attach failed: %s",
				 e->device, strerror(-ret));
			return ret;
		}
		boot_log(BOOT_LOG_INFO, "%s: tracked already", e->device);
	}
	ret = boot_info2(ctl, arg.dev.major, arg.dev.minor, &info);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: attached, but no tracker info: %s",
			 e->device, strerror(-ret));
		return ret;
	}
	boot_report(e->device, &info, why);
	return 0;
}

static int boot_wait_devices(const struct boot_config *cfg, int seconds)
{
	int left = seconds * 10;

	while (left-- > 0) {
		unsigned int i, missing = 0;
		struct stat st;

		for (i = 0; i < cfg->count; i++)
			if (stat(cfg->entries[i].device, &st) < 0 ||
			    stat(cfg->entries[i].store, &st) < 0)
				missing++;
		if (!missing)
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

static int boot_cmd_attach(int argc, char **argv)
{
	struct boot_config cfg;
	unsigned int i, failed = 0, tracks = 0, ckpt_failed;
	int ctl, ret, wait = 0;

	if (argc == 3 && !strcmp(argv[1], "--wait")) {
		wait = atoi(argv[2]);
		if (wait < 0 || wait > 300)
			return 2;
	} else if (argc != 1) {
		return 2;
	}
	ret = boot_config_load(boot_config_path, 1, &cfg);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s: nothing attached",
			 boot_config_path, strerror(-ret));
		return 1;
	}
	ctl = boot_ctl_open();
	if (ctl < 0) {
		boot_log(BOOT_LOG_ERR,
			 "%s: %s (is the snapkeep module loaded?): nothing attached",
			 BOOT_CTL_PATH, strerror(-ctl));
		boot_config_free(&cfg);
		return 1;
	}
	if (wait)
		boot_wait_devices(&cfg, wait);
	/* One device missing or refused never keeps the others untracked. */
	for (i = 0; i < cfg.count; i++) {
		if (cfg.entries[i].kind != BOOT_ENTRY_TRACK)
			continue;
		tracks++;
		if (boot_attach_one(ctl, boot_abi_minor(ctl), &cfg.entries[i]))
			failed++;
	}
	/* Checkpoints: rollbacks cut short finish, active ones re-attach. */
	ckpt_failed = boot_ckpt_attach_all(ctl, &cfg);
	boot_log(failed || ckpt_failed || cfg.errors ? BOOT_LOG_WARN :
		 BOOT_LOG_INFO,
		 "attach: %u of %u device(s) tracked, %u checkpoint(s) not attached, %u config line(s) left out",
		 tracks - failed, tracks, ckpt_failed, cfg.errors);
	failed += ckpt_failed;
	close(ctl);
	boot_config_free(&cfg);
	return failed || cfg.errors ? 1 : 0;
}

/* The devices the module tracks now (malloc'd); count in *n. */
static struct snapkeep_dev *boot_list_trackers(int ctl, __u32 *n)
{
	struct snapkeep_list l;
	struct snapkeep_dev *devs = NULL;
	int tries;

	/* Trackers may come between the two calls: ask until it fits. */
	for (tries = 0; tries < 8; tries++) {
		__u32 cap = devs ? l.count : 0;

		memset(&l, 0, sizeof(l));
		l.count = cap;
		l.items = (__u64)(uintptr_t)devs;
		if (ioctl(ctl, SNAPKEEP_IOCTL_LIST_TRACKERS, &l) < 0) {
			free(devs);
			return NULL;
		}
		if (devs && l.count <= cap) {
			*n = l.count;
			return devs;
		}
		free(devs);
		devs = calloc(l.count + 1, sizeof(*devs));
		if (!devs)
			return NULL;
	}
	free(devs);
	errno = EAGAIN;
	return NULL;
}

static int boot_detach(int ctl, const struct snapkeep_dev *d)
{
	return ioctl(ctl, SNAPKEEP_IOCTL_DETACH, d) < 0 ? -errno : 0;
}

/* The config entry of device @d, or NULL. */
static const struct boot_entry *boot_config_find(const struct boot_config *cfg,
						 const struct snapkeep_dev *d)
{
	unsigned int i;
	struct stat st;

	for (i = 0; cfg && i < cfg->count; i++)
		if (cfg->entries[i].kind == BOOT_ENTRY_TRACK &&
		    stat(cfg->entries[i].device, &st) == 0 &&
		    S_ISBLK(st.st_mode) && major(st.st_rdev) == d->major &&
		    minor(st.st_rdev) == d->minor)
			return &cfg->entries[i];
	return NULL;
}

/* boot_seal_one(): DETACH refused, a checkpoint holds the device. */
#define BOOT_SEAL_HELD	1

static int boot_seal_one(int ctl, const struct snapkeep_dev *d,
			 const struct boot_config *cfg)
{
	const struct boot_entry *e;
	struct snapkeep_tracker_info2 info;
	char name[64], gen[37];
	int ret;

	boot_dev_name(d->major, d->minor, name, sizeof(name));
	ret = boot_info2(ctl, d->major, d->minor, &info);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (!(info.persist_flags & SNAPKEEP_PERSIST_ATTACHED))
		return 0;
	ret = boot_detach(ctl, d);
	/* Busy: a snapshot (now: the info may predate it) or a checkpoint. */
	if (ret == -EBUSY && !boot_info2(ctl, d->major, d->minor, &info) &&
	    (info.info.flags & SNAPKEEP_TRACKER_IN_SNAPSHOT)) {
		/*
		 * A backup's snapshot still holds the device: it cannot
		 * outlive this shutdown anyway, and the seal must be last.
		 */
		boot_uuid(&info.info.snapshot, gen);
		boot_log(BOOT_LOG_WARN, "%s: destroying snapshot %s to seal its map",
			 name, gen);
		if (ioctl(ctl, SNAPKEEP_IOCTL_DESTROY, &info.info.snapshot) < 0 &&
		    errno != ENOENT)
			boot_log(BOOT_LOG_ERR, "%s: destroy: %s", name,
				 strerror(errno));
		ret = boot_detach(ctl, d);
	}
	/* Detached meanwhile by somebody else: sealed by that detach. */
	if (ret == -ENOENT)
		return 0;
	/* A checkpoint holds it: sealed in place later (boot_seal_held()). */
	if (ret == -EBUSY && (info.persist_flags & SNAPKEEP_PERSIST_INTENT) &&
	    boot_abi_minor(ctl) >= 6)
		return BOOT_SEAL_HELD;
	if (ret) {
		boot_log(BOOT_LOG_ERR,
			 "%s: detach failed: %s: not sealed (the next boot continues only under write intent)",
			 name, strerror(-ret));
		return ret;
	}
	boot_uuid(&info.info.generation, gen);
	boot_log(BOOT_LOG_NOTICE, "%s (%u:%u): sealed: generation %s, number %u%s",
		 name, d->major, d->minor, gen, info.info.number,
		 info.persist_flags & SNAPKEEP_PERSIST_FAILED ?
		 " (its store had failed: the next attach restarts)" : "");
	if (info.persist_flags & SNAPKEEP_PERSIST_FAILED)
		return 0;
	/* Then the stamp the next attach compares with. */
	e = boot_config_find(cfg, d);
	if (!e) {
		boot_log(BOOT_LOG_WARN,
			 "%s: not in %s: no stamp (the next attach cannot check for writes while the module is absent)",
			 name, boot_config_path);
		return 0;
	}
	if (!e->has_stamp)
		return 0;
	ret = boot_stamp_write(e);
	if (ret) {
		boot_log(BOOT_LOG_ERR,
			 "%s: stamp not written: %s (the next attach restarts the map)",
			 name, strerror(-ret));
		return ret;
	}
	boot_log(BOOT_LOG_INFO, "%s: stamped", name);
	return 0;
}

/*
 * The maps DETACH could not seal because a checkpoint holds their device
 * (@held[i] set), after the checkpoints' stamps: each store sealed in
 * place (SEAL_IN_PLACE: the tracker goes on, and a write to a cell not
 * yet durable unseals it again first), then stamped as after a detach.
 * The stamp pages are written back as they are before any seal, so a
 * stamp page on a tracked device does not unseal its map when the stamp
 * is written. Returns how many were not sealed or not stamped.
 */
static int boot_seal_held(int ctl, const struct snapkeep_dev *devs,
			  const char *held, __u32 n,
			  const struct boot_config *cfg)
{
	struct snapkeep_tracker_info2 info;
	const struct boot_entry *e;
	char name[64], gen[37];
	int failed = 0, ret;
	char *sealed;
	__u32 i;

	sealed = calloc(n + 1, 1);
	if (!sealed)
		return (int)n;
	for (i = 0; i < n; i++) {
		if (!held[i])
			continue;
		e = boot_config_find(cfg, &devs[i]);
		ret = e ? boot_stamp_touch(e) : 0;
		if (ret)
			boot_log(BOOT_LOG_WARN,
				 "%s: its stamp page could not be written before the seal: %s",
				 e->device, strerror(-ret));
	}
	for (i = 0; i < n; i++) {
		struct snapkeep_tracker_seal arg;

		if (!held[i])
			continue;
		boot_dev_name(devs[i].major, devs[i].minor, name,
			      sizeof(name));
		memset(&arg, 0, sizeof(arg));
		arg.dev = devs[i];
		ret = ioctl(ctl, SNAPKEEP_IOCTL_SEAL_IN_PLACE, &arg) < 0 ?
		      -errno : 0;
		/* Sealed in place before, nothing unsealed it since. */
		if (ret == -EALREADY)
			ret = 0;
		if (ret) {
			boot_log(BOOT_LOG_ERR,
				 "%s: a checkpoint holds it and it could not be sealed in place: %s: not sealed (the next boot continues only under write intent)",
				 name, strerror(-ret));
			failed++;
			continue;
		}
		sealed[i] = 1;
		if (boot_info2(ctl, devs[i].major, devs[i].minor, &info))
			memset(&info, 0, sizeof(info));
		boot_uuid(&info.info.generation, gen);
		boot_log(BOOT_LOG_NOTICE,
			 "%s (%u:%u): sealed in place (a checkpoint holds it, it stays tracked): generation %s, number %u",
			 name, devs[i].major, devs[i].minor, gen,
			 info.info.number);
	}
	for (i = 0; i < n; i++) {
		if (!sealed[i])
			continue;
		boot_dev_name(devs[i].major, devs[i].minor, name,
			      sizeof(name));
		e = boot_config_find(cfg, &devs[i]);
		if (!e) {
			boot_log(BOOT_LOG_WARN,
				 "%s: not in %s: no stamp (the next attach cannot check for writes while the module is absent)",
				 name, boot_config_path);
			continue;
		}
		if (!e->has_stamp)
			continue;
		ret = boot_stamp_write(e);
		if (ret) {
			boot_log(BOOT_LOG_ERR,
				 "%s: stamp not written: %s (the next attach restarts the map)",
				 name, strerror(-ret));
			failed++;
			continue;
		}
		/* A write since the seal unsealed it: intent covers it. */
		if (!boot_info2(ctl, devs[i].major, devs[i].minor, &info) &&
		    !(info.persist_flags & SNAPKEEP_PERSIST_SEALED))
			boot_log(BOOT_LOG_WARN,
				 "%s: stamped, but written since its seal: the next boot continues it under write intent",
				 name);
		else
			boot_log(BOOT_LOG_INFO, "%s: stamped", name);
	}
	free(sealed);
	return failed;
}

static int boot_cmd_seal(int argc, char **argv)
{
	struct snapkeep_dev *devs;
	struct boot_config cfg;
	__u32 i, n = 0;
	int ctl, failed = 0, have_cfg, ret;
	char *held;

	(void)argv;
	if (argc != 1)
		return 2;
	ctl = boot_ctl_open();
	if (ctl < 0) {
		/* Not loaded: no tracker, nothing to seal. */
		if (ctl == -ENOENT || ctl == -ENODEV || ctl == -ENXIO)
			return 0;
		boot_log(BOOT_LOG_ERR, "%s: %s: nothing sealed", BOOT_CTL_PATH,
			 strerror(-ctl));
		return 1;
	}
	devs = boot_list_trackers(ctl, &n);
	if (!devs) {
		boot_log(BOOT_LOG_ERR, "cannot list trackers: %s: nothing sealed",
			 strerror(errno));
		close(ctl);
		return 1;
	}
	/* Without the config every map is still sealed, only not stamped. */
	have_cfg = !boot_config_load(boot_config_path, 1, &cfg);
	if (!have_cfg)
		boot_log(BOOT_LOG_WARN, "%s: cannot be read: no stamps written",
			 boot_config_path);
	held = calloc(n + 1, 1);
	for (i = 0; i < n; i++) {
		ret = boot_seal_one(ctl, &devs[i], have_cfg ? &cfg : NULL);
		if (ret == BOOT_SEAL_HELD && held)
			held[i] = 1;
		else if (ret)
			failed++;
	}
	/*
	 * The checkpoints' stamps, then the maps they hold sealed in place:
	 * nothing the tool writes after a seal in place reaches a cell its
	 * seal does not cover.
	 */
	if (have_cfg)
		boot_ckpt_seal_all(&cfg);
	if (held)
		failed += boot_seal_held(ctl, devs, held, n,
					 have_cfg ? &cfg : NULL);
	if (have_cfg)
		boot_config_free(&cfg);
	free(held);
	free(devs);
	close(ctl);
	return failed ? 1 : 0;
}

static int boot_cmd_status(int argc, char **argv)
{
	struct snapkeep_dev *devs = NULL;
	struct boot_config cfg;
	__u32 i, n = 0;
	unsigned int k;
	int ctl, ret;

	(void)argv;
	if (argc != 1)
		return 2;
	ctl = boot_ctl_open();
	if (ctl >= 0)
		devs = boot_list_trackers(ctl, &n);
	else
		printf("module: not loaded (%s)\n", strerror(-ctl));
	for (i = 0; devs && i < n; i++) {
		struct snapkeep_tracker_info2 info;
		char name[64], gen[37], when[32];

		boot_dev_name(devs[i].major, devs[i].minor, name, sizeof(name));
		if (boot_info2(ctl, devs[i].major, devs[i].minor, &info))
			continue;
		boot_uuid(&info.info.generation, gen);
		boot_time(info.found_time, when);
		printf("tracker %s %u:%u generation=%s number=%u persistent=%s",
		       name, devs[i].major, devs[i].minor, gen, info.info.number,
		       info.persist_flags & SNAPKEEP_PERSIST_ATTACHED ? "yes" : "no");
		if (info.persist_flags & SNAPKEEP_PERSIST_ATTACHED)
			printf(" continued=%s unclean=%s intent=%s failed=%s unverified=%s reason=%s found=%s sequence=%llu",
			       info.persist_flags & SNAPKEEP_PERSIST_CONTINUED ? "yes" : "no",
			       info.persist_flags & SNAPKEEP_PERSIST_UNCLEAN ? "yes" : "no",
			       info.persist_flags & SNAPKEEP_PERSIST_INTENT ? "yes" : "no",
			       info.persist_flags & SNAPKEEP_PERSIST_FAILED ? "yes" : "no",
			       info.persist_flags & SNAPKEEP_PERSIST_UNVERIFIED ? "yes" : "no",
			       boot_reason(info.persist_reason, 0), when,
			       (unsigned long long)info.sequence);
		if (info.persist_flags & SNAPKEEP_PERSIST_SEALED)
			printf(" sealed=in-place");
		printf("\n");
	}
	ret = boot_config_load(boot_config_path, 0, &cfg);
	if (ret) {
		printf("config %s: %s\n", boot_config_path, strerror(-ret));
	} else {
		for (k = 0; k < cfg.count; k++) {
			const struct boot_entry *e = &cfg.entries[k];
			struct stat st;
			int on = 0;

			if (e->kind != BOOT_ENTRY_TRACK)
				continue;

			if (stat(e->device, &st) == 0 && S_ISBLK(st.st_mode))
				for (i = 0; devs && i < n; i++)
					if (devs[i].major == major(st.st_rdev) &&
					    devs[i].minor == minor(st.st_rdev))
						on = 1;
			printf("config %s identity=%.*s attached=%s\n", e->device,
			       (int)e->identity_len, e->identity, on ? "yes" : "no");
		}
		boot_ckpt_status(&cfg);
		boot_config_free(&cfg);
	}
	free(devs);
	if (ctl >= 0)
		close(ctl);
	return 0;
}

static int boot_cmd_check(int argc, char **argv)
{
	struct boot_config cfg;
	int ret;

	(void)argv;
	if (argc != 1)
		return 2;
	ret = boot_config_load(boot_config_path, 0, &cfg);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s", boot_config_path,
			 strerror(-ret));
		return 1;
	}
	printf("%s: %u device(s), %u line(s) left out\n", boot_config_path,
	       cfg.count, cfg.errors);
	ret = cfg.errors ? 1 : 0;
	boot_config_free(&cfg);
	return ret;
}

/* Writes @text plus @line to the config through a renamed temporary file. */
static int boot_config_append(const char *text, size_t len, unsigned int mode,
			      const char *line)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *mem = open_memstream(&buf, &n);
	int ret;

	if (!mem)
		return -ENOMEM;
	if (!len)
		fputs("# snapkeep-boot: devices whose change maps outlive reboots.\n"
		      "# Made by snapkeep-boot mkstore; after a change run update-initramfs -u.\n",
		      mem);
	fwrite(text, 1, len, mem);
	if (len && text[len - 1] != '\n')
		fputc('\n', mem);
	fputs(line, mem);
	if (fclose(mem)) {
		free(buf);
		return -ENOMEM;
	}
	/* Whoever may write it chooses sectors the module overwrites. */
	ret = boot_config_save(boot_config_path, buf, n,
			       text ? mode & ~022U : 0644);
	free(buf);
	return ret;
}

static int boot_cmd_mkstore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "identity", required_argument, NULL, 'i' },
		{ "store-device", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "pages", required_argument, NULL, 'p' },
		{ "nointent", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *device = NULL, *identity = NULL, *store = NULL, *file = NULL;
	unsigned long long pages = 0, bytes = 0;
	struct boot_config cfg, one;
	struct boot_entry e;
	struct stat dst, sst;
	char *text = NULL, *line = NULL, *end;
	size_t len = 0, line_len = 0;
	unsigned int mode = 0;
	int c, fd, ret, nointent = 0;
	FILE *mem;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'i':
			identity = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'p':
			pages = strtoull(optarg, &end, 10);
			if (end == optarg || *end)
				return 2;
			break;
		case 'n':
			nointent = 1;
			break;
		default:
			return 2;
		}
	}
	if (!device || !identity || !store || !file || optind != argc)
		return 2;
	if (stat(device, &dst) < 0 || !S_ISBLK(dst.st_mode) ||
	    stat(store, &sst) < 0 || !S_ISBLK(sst.st_mode)) {
		boot_log(BOOT_LOG_ERR, "%s and %s must be block devices",
			 device, store);
		return 1;
	}
	fd = open(device, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
		boot_log(BOOT_LOG_ERR, "%s: cannot read its size: %s", device,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	if (!pages)
		pages = boot_store_pages(bytes);
	if (pages < 3 || pages > (1ULL << 20)) {
		boot_log(BOOT_LOG_ERR, "--pages: 3..1048576");
		return 2;
	}

	/*
	 * Validate the entry as the boot will read it, with a one-page
	 * placeholder range, before anything is created.
	 */
	memset(&e, 0, sizeof(e));
	snprintf(e.device, sizeof(e.device), "%s", device);
	snprintf(e.store, sizeof(e.store), "%s", store);
	e.identity_len = strnlen(identity, SNAPKEEP_PERSIST_IDENTITY_LEN + 1);
	if (e.identity_len > SNAPKEEP_PERSIST_IDENTITY_LEN ||
	    strlen(device) >= BOOT_PATH_MAX || strlen(store) >= BOOT_PATH_MAX) {
		boot_log(BOOT_LOG_ERR, "identity over 64 bytes or path too long");
		return 2;
	}
	memcpy(e.identity, identity, e.identity_len);
	e.flags = nointent ? SNAPKEEP_PERSIST_NO_INTENT : 0;
	e.count = 1;
	e.ranges = &(struct snapkeep_sectors){ .start = 0, .count = 8 };
	mem = open_memstream(&line, &line_len);
	if (!mem || boot_config_write_entry(&e, mem) || fclose(mem))
		return 1;
	ret = boot_config_parse(line, line_len, "new entry", &one);
	free(line);
	line = NULL;
	if (ret || one.errors) {
		boot_config_free(&one);
		return 2;
	}
	boot_config_free(&one);
	ret = boot_config_read_text(boot_config_path, &text, &len, &mode);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s", boot_config_path, strerror(-ret));
		return 1;
	}
	if (len) {
		ret = boot_config_parse(text, len, boot_config_path, &cfg);
		for (c = 0; !ret && c < (int)cfg.count; c++) {
			if (cfg.entries[c].kind == BOOT_ENTRY_TRACK &&
			    !strcmp(cfg.entries[c].device, device)) {
				boot_log(BOOT_LOG_ERR,
					 "%s: listed already (line %u): remove that line and its store first",
					 device, cfg.entries[c].line);
				ret = -EEXIST;
			}
		}
		boot_config_free(&cfg);
		if (ret) {
			free(text);
			return 1;
		}
	}

	e.ranges = NULL;
	ret = boot_store_create(file, pages, sst.st_rdev, &e);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: cannot make the store: %s", file,
			 strerror(-ret));
		goto out;
	}
	/* Read back through the device: the ranges must show the file. */
	ret = boot_store_probe(&e, sst.st_rdev);
	if (ret == BOOT_STORE_FRESH_OK && boot_store_probe_stamp(&e, sst.st_rdev))
		ret = BOOT_STORE_FOREIGN;
	if (ret != BOOT_STORE_FRESH_OK) {
		boot_log(BOOT_LOG_ERR,
			 "%s: its sectors on %s do not read back as the file (%d): not added",
			 file, store, ret);
		ret = -EIO;
		goto out;
	}
	mem = open_memstream(&line, &line_len);
	if (!mem || boot_config_write_entry(&e, mem) || fclose(mem)) {
		ret = -ENOMEM;
		goto out;
	}
	ret = boot_config_append(text, len, mode, line);
	if (ret) {
		boot_log(BOOT_LOG_ERR, "%s: %s", boot_config_path, strerror(-ret));
		goto out;
	}
	printf("%s", line);
	boot_log(BOOT_LOG_INFO,
		 "%s: store %s (%llu pages, %u range(s)) added to %s; run update-initramfs -u",
		 device, file, pages, e.count, boot_config_path);
out:
	free(line);
	free(text);
	free(e.ranges);
	return ret ? 1 : 0;
}

static void boot_usage(FILE *out)
{
	fprintf(out,
		"usage: snapkeep-boot [--config PATH] [--no-kmsg] COMMAND\n"
		"  attach [--wait SECONDS]  attach every device of the config (at boot)\n"
		"  seal                     seal every persistent map (at shutdown)\n"
		"  status                   trackers and config entries\n"
		"  check                    parse the config, report bad lines\n"
		"  mkstore --device DEV --identity ID --store-device DEV --file PATH\n"
		"          [--pages N] [--nointent]\n"
		"                           make a store file (and its stamp page) and add\n"
		"                           it to the config\n"
		"  rollback [--check] [--wait SECONDS] [STORE|ID]\n"
		"                           validate the whole log of every checkpoint\n"
		"                           of the config (or those on STORE, their\n"
		"                           store= device, or the one with id ID) and\n"
		"                           write the old data back (resumable); --check\n"
		"                           only validates\n"
		"  checkpoint create --name NAME --file PATH --store-device DEV --pages N\n"
		"          DEVICE=IDENTITY...\n"
		"                           make a store file, add its lines to the\n"
		"                           config and start the checkpoint (id=ID)\n"
		"  checkpoint list          the config's checkpoints, TAB-separated\n"
		"  checkpoint commit ID | checkpoint abandon ID\n"
		"                           end an attached checkpoint\n"
		"  checkpoint remove [--force] ID\n"
		"                           remove an ended checkpoint's lines and store\n"
		"                           file (ID: its id, or the file's path when\n"
		"                           its store is unreadable)\n");
}

int main(int argc, char **argv)
{
	const char *cmd;
	int ret, no_kmsg = 0;

	for (;;) {
		if (argc >= 3 && !strcmp(argv[1], "--config")) {
			boot_config_path = argv[2];
			argc -= 2;
			argv += 2;
		} else if (argc >= 2 && !strcmp(argv[1], "--no-kmsg")) {
			no_kmsg = 1;
			argc--;
			argv++;
		} else {
			break;
		}
	}
	if (argc < 2) {
		boot_usage(stderr);
		return 2;
	}
	cmd = argv[1];
	argc--;
	argv++;
	/*
	 * The boot and shutdown commands log to the kernel log too; the
	 * others answer a person at a terminal.
	 */
	if (!no_kmsg && (!strcmp(cmd, "attach") || !strcmp(cmd, "seal") ||
			 !strcmp(cmd, "mkstore") || !strcmp(cmd, "rollback") ||
			 (!strcmp(cmd, "checkpoint") && argc >= 2 &&
			  strcmp(argv[1], "list"))))
		boot_log_open();
	if (!strcmp(cmd, "attach"))
		ret = boot_cmd_attach(argc, argv);
	else if (!strcmp(cmd, "seal"))
		ret = boot_cmd_seal(argc, argv);
	else if (!strcmp(cmd, "status"))
		ret = boot_cmd_status(argc, argv);
	else if (!strcmp(cmd, "check"))
		ret = boot_cmd_check(argc, argv);
	else if (!strcmp(cmd, "mkstore"))
		ret = boot_cmd_mkstore(argc, argv);
	else if (!strcmp(cmd, "rollback"))
		ret = boot_ckpt_cmd_rollback(boot_config_path, argc, argv);
	else if (!strcmp(cmd, "checkpoint"))
		ret = boot_ckpt_cmd(boot_config_path, argc, argv);
	else if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
		ret = (boot_usage(stdout), 0);
	else
		ret = 2;
	if (ret == 2)
		boot_usage(stderr);
	return ret;
}
