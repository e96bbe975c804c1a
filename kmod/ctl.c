// SPDX-License-Identifier: GPL-2.0
/*
 * The control device /dev/snapkeep.
 *
 * Every ioctl of the ABI arrives here and is dispatched on its full
 * command number, so a command whose size or direction changed is
 * rejected instead of being misread. Unknown commands answer -ENOTTY,
 * which is what user space probes for.
 *
 * All ABI structures have the same layout for 32- and 64-bit callers
 * (see the rules in snapkeep.h), so 32-bit callers only need their
 * pointer argument widened: compat_ptr_ioctl() does exactly that.
 *
 * Every command needs CAP_SYS_ADMIN, as does opening the device: the
 * commands freeze file systems and expose raw disks, and a descriptor may
 * be passed on (or inherited into a container) beyond the root user that
 * opened it.
 *
 * Input is not trusted: sizes are capped before anything is allocated,
 * user pointers are only used through copy_{from,to}_user(), device
 * numbers and ranges are checked, reserved fields must be zero. A
 * malformed request gets -EINVAL, -E2BIG or -EFAULT and one ratelimited
 * log line; requests that are well formed but impossible (unknown device
 * or snapshot, busy device) get their errno and no log line.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-ctl: " fmt

#include <linux/build_bug.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/uuid.h>

#include "snapkeep.h"
#include "cbt_map.h"
#include "cbt_store.h"
#include "checkpoint.h"
#include "compat.h"
#include "ctl.h"
#include "event_queue.h"
#include "filter.h"
#include "snapshot.h"
#include "tracker.h"
#include "version.h"

/* See ctl.h: the one lock of the object graph. */
DEFINE_MUTEX(ctl_lock);

/* Most bytes of the map one READ_MAP call copies (the caller loops). */
#define CTL_MAP_CHUNK	(64U << 20)
/* READ_MAP copies through a kernel buffer of this size, no lock held. */
#define CTL_MAP_PIECE	(1U << 20)
/* Most trackers LIST_TRACKERS reports. */
#define CTL_MAX_TRACKERS	1024

static_assert(sizeof(uuid_t) == sizeof(struct snapkeep_uuid));

/* A malformed request: say so once in a while, then fail it. */
static int ctl_bad(const char *cmd, const char *what, int err)
{
	pr_info_ratelimited("%s: %s (from %s[%d])\n", cmd, what, current->comm,
			    task_pid_nr(current));
	return err;
}

static int ctl_dev(const struct snapkeep_dev *d, dev_t *out, const char *cmd)
{
	if (!d->major || d->major > MAJOR(~0U) || d->minor > MINOR(~0U))
		return ctl_bad(cmd, "bad device number", -EINVAL);
	*out = MKDEV(d->major, d->minor);
	return 0;
}

static int ctl_ioctl_version(struct snapkeep_version __user *uarg)
{
	struct snapkeep_version ver = {
		.abi_major = SNAPKEEP_ABI_MAJOR,
		.abi_minor = SNAPKEEP_ABI_MINOR,
	};

	/* Keep room for the NUL: user space reads a C string. */
	BUILD_BUG_ON(sizeof(SNAPKEEP_VERSION) > sizeof(ver.module_version));
	memcpy(ver.module_version, SNAPKEEP_VERSION, sizeof(SNAPKEEP_VERSION));

	if (copy_to_user(uarg, &ver, sizeof(ver)))
		return -EFAULT;
	return 0;
}

static int ctl_ioctl_attach(struct snapkeep_dev __user *uarg)
{
	struct snapkeep_dev arg;
	dev_t dev;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("attach", "bad pointer", -EFAULT);
	ret = ctl_dev(&arg, &dev, "attach");
	if (ret)
		return ret;

	mutex_lock(&ctl_lock);
	ret = snapshot_attach_tracker(dev);
	mutex_unlock(&ctl_lock);
	if (!ret)
		pr_info("tracking %u:%u\n", arg.major, arg.minor);
	return ret;
}

static int ctl_ioctl_detach(struct snapkeep_dev __user *uarg)
{
	struct snapkeep_dev arg;
	struct tracker *t;
	dev_t dev;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("detach", "bad pointer", -EFAULT);
	ret = ctl_dev(&arg, &dev, "detach");
	if (ret)
		return ret;

	mutex_lock(&ctl_lock);
	t = filter_find(dev);
	if (!t) {
		ret = -ENOENT;
	} else if (t->snapshot || rcu_access_pointer(t->ckpt)) {
		ret = -EBUSY;
	} else {
		/* A store is sealed first: see cbt_store_close(). */
		tracker_detach(t);
		pr_info("stopped tracking %u:%u\n", arg.major, arg.minor);
	}
	mutex_unlock(&ctl_lock);
	return ret;
}

/* The tracker of a user's snapkeep_dev (control lock held). */
static struct tracker *ctl_tracker(const struct snapkeep_dev *d,
				   const char *cmd, int *err)
{
	struct tracker *t;
	dev_t dev;

	*err = ctl_dev(d, &dev, cmd);
	if (*err)
		return NULL;
	t = filter_find(dev);
	if (!t)
		*err = -ENOENT;
	return t;
}

/* Fills @arg for the tracker @t; control lock held. */
static void ctl_tracker_fill(struct tracker *t,
			     struct snapkeep_tracker_info *arg)
{
	struct cbt_map *map;

	memset(arg, 0, sizeof(*arg));
	arg->dev.major = MAJOR(t->dev);
	arg->dev.minor = MINOR(t->dev);
	/* A take of its snapshot may switch the map meanwhile. */
	rcu_read_lock();
	map = rcu_dereference(t->map);
	arg->device_size = (u64)map->capacity << SECTOR_SHIFT;
	arg->block_size = 1U << map->block_shift;
	arg->block_count = map->block_count;
	arg->number = READ_ONCE(map->number);
	export_uuid(arg->generation.b, &map->generation);
	rcu_read_unlock();
	if (t->snapshot) {
		arg->flags |= SNAPKEEP_TRACKER_IN_SNAPSHOT;
		export_uuid(arg->snapshot.b, &t->snapshot->id);
	}
}

static int ctl_ioctl_tracker_info(struct snapkeep_tracker_info __user *uarg)
{
	struct snapkeep_tracker_info arg;
	struct tracker *t;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("tracker info", "bad pointer", -EFAULT);
	if (arg.reserved || memchr_inv(arg.reserved0, 0, sizeof(arg.reserved0)))
		return ctl_bad("tracker info", "reserved field set", -EINVAL);

	mutex_lock(&ctl_lock);
	t = ctl_tracker(&arg.dev, "tracker info", &ret);
	if (t)
		ctl_tracker_fill(t, &arg);
	mutex_unlock(&ctl_lock);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return ctl_bad("tracker info", "bad pointer", -EFAULT);
	return 0;
}

/*
 * TRACKER_INFO and what the store says: continued or restarted and why,
 * the metadata found at attach, the sequence written last.
 */
static int ctl_ioctl_tracker_info2(struct snapkeep_tracker_info2 __user *uarg)
{
	struct snapkeep_tracker_info2 arg;
	struct cbt_store *s;
	struct tracker *t;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("tracker info2", "bad pointer", -EFAULT);
	if (arg.info.reserved ||
	    memchr_inv(arg.info.reserved0, 0, sizeof(arg.info.reserved0)) ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return ctl_bad("tracker info2", "reserved field set", -EINVAL);

	mutex_lock(&ctl_lock);
	t = ctl_tracker(&arg.info.dev, "tracker info2", &ret);
	if (t) {
		memset(&arg, 0, sizeof(arg));
		ctl_tracker_fill(t, &arg.info);
		s = t->store;
		if (s) {
			arg.persist_flags = cbt_store_state(s);
			arg.persist_reason = s->reason;
			arg.found_sequence = s->found_sequence;
			arg.found_time = s->found_time;
			arg.sequence = cbt_store_sequence(s);
		}
	}
	mutex_unlock(&ctl_lock);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return ctl_bad("tracker info2", "bad pointer", -EFAULT);
	return 0;
}

/*
 * SEAL_IN_PLACE: the store of an intent-mode map sealed as by DETACH, the
 * tracker left attached (cbt_store_seal_in_place()).
 */
static int ctl_ioctl_seal_in_place(struct snapkeep_tracker_seal __user *uarg)
{
	struct snapkeep_tracker_seal arg;
	struct tracker *t;
	u64 seq = 0;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("seal in place", "bad pointer", -EFAULT);
	if (arg.flags || arg.reserved0 || arg.sequence ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return ctl_bad("seal in place", "flags or reserved field set",
			       -EINVAL);

	mutex_lock(&ctl_lock);
	t = ctl_tracker(&arg.dev, "seal in place", &ret);
	if (t && !t->store)
		ret = -ENODATA;
	else if (t)
		ret = cbt_store_seal_in_place(t->store, &seq);
	mutex_unlock(&ctl_lock);
	if (ret)
		return ret;
	pr_info("%u:%u: its map is sealed in place (sequence %llu)\n",
		arg.dev.major, arg.dev.minor, seq);
	arg.sequence = seq;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return ctl_bad("seal in place", "bad pointer", -EFAULT);
	return 0;
}

/*
 * A reference on the tracker of a user's snapkeep_dev, for work done
 * without the control lock (the tracker may be detached meanwhile; its
 * map lives as long as it).
 */
static struct tracker *ctl_tracker_get(const struct snapkeep_dev *d,
				       const char *cmd, int *err)
{
	struct tracker *t;

	mutex_lock(&ctl_lock);
	t = ctl_tracker(d, cmd, err);
	if (t)
		tracker_get(t);
	mutex_unlock(&ctl_lock);
	return t;
}

/*
 * Copies up to @len bytes of the frozen map from cell @offset to @ubuf,
 * through @bounce, a piece at a time: no lock is held while user memory
 * is touched (it may fault, or belong to a file system that waits).
 * Bytes copied, or -EFAULT.
 */
static long ctl_copy_map(struct tracker *t, u64 offset, u64 len,
			 u8 __user *ubuf, u8 *bounce)
{
	u64 done = 0;

	while (done < len) {
		struct cbt_map *map;
		u64 n = 0;

		rcu_read_lock();
		map = rcu_dereference(t->map);
		if (offset + done < map->block_count) {
			n = min3(len - done, (u64)CTL_MAP_PIECE,
				 (u64)(map->block_count - offset - done));
			memcpy(bounce, map->frozen + offset + done, n);
		}
		rcu_read_unlock();
		if (!n)
			break;
		if (copy_to_user(ubuf + done, bounce, n))
			return -EFAULT;
		done += n;
		cond_resched();
	}
	return done;
}

static int ctl_ioctl_read_map(struct snapkeep_tracker_map __user *uarg)
{
	struct snapkeep_tracker_map arg;
	struct tracker *t;
	long copied;
	u8 *bounce;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("read map", "bad pointer", -EFAULT);
	t = ctl_tracker_get(&arg.dev, "read map", &ret);
	if (!t)
		return ret;
	bounce = kvmalloc(CTL_MAP_PIECE, GFP_KERNEL);
	if (!bounce) {
		tracker_put(t);
		return -ENOMEM;
	}
	copied = ctl_copy_map(t, arg.offset, min_t(u64, arg.length,
						   CTL_MAP_CHUNK),
			      u64_to_user_ptr(arg.buffer), bounce);
	kvfree(bounce);
	tracker_put(t);
	if (copied < 0)
		return ctl_bad("read map", "bad buffer", -EFAULT);
	arg.copied = copied;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return ctl_bad("read map", "bad pointer", -EFAULT);
	return 0;
}

/*
 * Copies an array of @count items of @size bytes from user space, after
 * checking @count against 1..@max. ERR_PTR on failure.
 */
static void *ctl_copy_array(u64 uptr, u32 count, u32 max, size_t size,
			    const char *cmd)
{
	void *buf;

	if (!count)
		return ERR_PTR(ctl_bad(cmd, "empty array", -EINVAL));
	if (count > max)
		return ERR_PTR(ctl_bad(cmd, "array too large", -E2BIG));
	buf = kvmalloc_array(count, size, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(buf, u64_to_user_ptr(uptr), count * size)) {
		kvfree(buf);
		return ERR_PTR(ctl_bad(cmd, "bad array pointer", -EFAULT));
	}
	return buf;
}

static int ctl_ioctl_mark_dirty(struct snapkeep_tracker_dirty __user *uarg)
{
	struct snapkeep_tracker_dirty arg;
	struct snapkeep_sectors *ranges;
	struct cbt_map *map;
	struct tracker *t;
	unsigned int i;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("mark dirty", "bad pointer", -EFAULT);
	if (arg.reserved)
		return ctl_bad("mark dirty", "reserved field set", -EINVAL);
	ranges = ctl_copy_array(arg.ranges, arg.count, SNAPKEEP_MAX_RANGES,
				sizeof(*ranges), "mark dirty");
	if (IS_ERR(ranges))
		return PTR_ERR(ranges);

	t = ctl_tracker_get(&arg.dev, "mark dirty", &ret);
	if (!t)
		goto out;
	rcu_read_lock();
	map = rcu_dereference(t->map);
	for (i = 0; i < arg.count; i++)
		if (!cbt_map_range_valid(map, ranges[i].start, ranges[i].count))
			break;
	rcu_read_unlock();
	if (i < arg.count) {
		ret = ctl_bad("mark dirty", "range outside the device", -EINVAL);
	} else {
		/* Without locks: 65536 whole-device ranges take a while. */
		for (i = 0; i < arg.count && !ret; i++)
			ret = tracker_mark_dirty(t, ranges[i].start,
						 ranges[i].count);
	}
	tracker_put(t);
out:
	kvfree(ranges);
	return ret;
}

static int
ctl_ioctl_attach_persistent(struct snapkeep_attach_persistent __user *uarg)
{
	struct snapkeep_attach_persistent arg;
	struct snapkeep_sectors *ranges;
	struct cbt_store_args args = {};
	struct file *file = NULL;
	dev_t dev;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("attach persistent", "bad pointer", -EFAULT);
	if (arg.reserved || (arg.flags & ~(SNAPKEEP_PERSIST_NO_INTENT |
					   SNAPKEEP_PERSIST_RESTART |
					   SNAPKEEP_PERSIST_UNCHECKED)))
		return ctl_bad("attach persistent", "reserved field or flag set",
			       -EINVAL);
	ret = ctl_dev(&arg.dev, &dev, "attach persistent");
	if (!ret)
		ret = ctl_dev(&arg.store_dev, &args.store_dev,
			      "attach persistent");
	if (ret)
		return ret;
	if (arg.fd != -1) {
		file = fget(arg.fd);
		if (!file)
			return ctl_bad("attach persistent", "bad descriptor",
				       -EBADF);
	}
	ranges = ctl_copy_array(arg.ranges, arg.count, SNAPKEEP_MAX_RANGES,
				sizeof(*ranges), "attach persistent");
	if (IS_ERR(ranges)) {
		ret = PTR_ERR(ranges);
		goto out_fput;
	}
	args.file = file;
	args.ranges = ranges;
	args.count = arg.count;
	args.identity = arg.identity;
	args.flags = arg.flags;

	mutex_lock(&ctl_lock);
	ret = snapshot_attach_persistent(dev, &args);
	mutex_unlock(&ctl_lock);
	if (ret == -EINVAL)
		ctl_bad("attach persistent",
			"unaligned, overlapping or out-of-device range, an image device, or not a regular file on the store device",
			ret);
	if (!ret)
		pr_info("tracking %u:%u with a persistent map\n", arg.dev.major,
			arg.dev.minor);
	kvfree(ranges);
out_fput:
	if (file)
		fput(file);
	return ret;
}

/* Copies @n of the @total items at @items to a struct snapkeep_list. */
static int ctl_list_out(struct snapkeep_list __user *uarg,
			struct snapkeep_list *arg, const void *items,
			unsigned int total, size_t size, const char *cmd)
{
	unsigned int n = min(arg->count, total);

	if (n && copy_to_user(u64_to_user_ptr(arg->items), items, n * size))
		return ctl_bad(cmd, "bad array pointer", -EFAULT);
	arg->count = total;
	if (copy_to_user(uarg, arg, sizeof(*arg)))
		return ctl_bad(cmd, "bad pointer", -EFAULT);
	return 0;
}

struct ctl_tracker_list {
	struct snapkeep_dev *devs;
	unsigned int n;
};

static int ctl_collect_tracker(struct tracker *t, void *arg)
{
	struct ctl_tracker_list *l = arg;

	if (l->n < CTL_MAX_TRACKERS) {
		l->devs[l->n].major = MAJOR(t->dev);
		l->devs[l->n].minor = MINOR(t->dev);
	}
	l->n++;
	return 0;
}

static int ctl_ioctl_list_trackers(struct snapkeep_list __user *uarg)
{
	struct ctl_tracker_list l = {};
	struct snapkeep_list arg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("list trackers", "bad pointer", -EFAULT);
	if (arg.reserved)
		return ctl_bad("list trackers", "reserved field set", -EINVAL);
	l.devs = kvcalloc(CTL_MAX_TRACKERS, sizeof(*l.devs), GFP_KERNEL);
	if (!l.devs)
		return -ENOMEM;
	mutex_lock(&ctl_lock);
	filter_for_each(ctl_collect_tracker, &l);
	mutex_unlock(&ctl_lock);
	ret = ctl_list_out(uarg, &arg, l.devs, min(l.n, CTL_MAX_TRACKERS),
			   sizeof(*l.devs), "list trackers");
	kvfree(l.devs);
	return ret;
}

static int ctl_ioctl_create(struct snapkeep_snapshot_create __user *uarg)
{
	struct snapkeep_snapshot_create arg;
	struct snapkeep_dev *udevs;
	dev_t *devs;
	uuid_t id;
	unsigned int i;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("create", "bad pointer", -EFAULT);
	if (arg.reserved)
		return ctl_bad("create", "reserved field set", -EINVAL);
	udevs = ctl_copy_array(arg.devs, arg.count, SNAPKEEP_MAX_DEVICES,
			       sizeof(*udevs), "create");
	if (IS_ERR(udevs))
		return PTR_ERR(udevs);
	devs = kcalloc(arg.count, sizeof(*devs), GFP_KERNEL);
	if (!devs) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < arg.count; i++) {
		ret = ctl_dev(&udevs[i], &devs[i], "create");
		if (ret)
			goto out_free;
	}

	mutex_lock(&ctl_lock);
	ret = snapshot_create(devs, arg.count, &id);
	mutex_unlock(&ctl_lock);
	if (!ret) {
		export_uuid(arg.id.b, &id);
		if (copy_to_user(uarg, &arg, sizeof(arg))) {
			/* Nobody could ever name it: undo all of it. */
			snapshot_destroy(&id, true);
			ret = ctl_bad("create", "bad pointer", -EFAULT);
		}
	}
out_free:
	kfree(devs);
	kvfree(udevs);
	return ret;
}

static int ctl_uuid(const void __user *uarg, uuid_t *id, const char *cmd)
{
	if (copy_from_user(id, uarg, sizeof(*id)))
		return ctl_bad(cmd, "bad pointer", -EFAULT);
	return 0;
}

static int ctl_ioctl_destroy(struct snapkeep_uuid __user *uarg)
{
	uuid_t id;
	int ret;

	ret = ctl_uuid(uarg, &id, "destroy");
	if (ret)
		return ret;
	return snapshot_destroy(&id, false);
}

static int ctl_ioctl_append(struct snapkeep_snapshot_storage __user *uarg)
{
	struct snapkeep_snapshot_storage arg;
	struct snapkeep_sectors *ranges;
	uuid_t id;
	dev_t dev;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("append storage", "bad pointer", -EFAULT);
	if (arg.reserved)
		return ctl_bad("append storage", "reserved field set",
			       -EINVAL);
	ret = ctl_dev(&arg.dev, &dev, "append storage");
	if (ret)
		return ret;
	ranges = ctl_copy_array(arg.ranges, arg.count, SNAPKEEP_MAX_RANGES,
				sizeof(*ranges), "append storage");
	if (IS_ERR(ranges))
		return PTR_ERR(ranges);
	import_uuid(&id, arg.id.b);

	ret = snapshot_append_storage(&id, dev, NULL, ranges, arg.count);
	if (ret == -EINVAL)
		ctl_bad("append storage",
			"empty, unaligned, overlapping or out-of-device range, an image device, or larger blocks than the snapshot's devices",
			ret);
	kvfree(ranges);
	return ret;
}

static int
ctl_ioctl_append_file(struct snapkeep_snapshot_storage_file __user *uarg)
{
	struct snapkeep_snapshot_storage_file arg;
	struct snapkeep_sectors *ranges;
	struct file *file;
	uuid_t id;
	dev_t dev;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("append storage file", "bad pointer", -EFAULT);
	if (arg.reserved || arg.flags)
		return ctl_bad("append storage file", "reserved field set",
			       -EINVAL);
	ret = ctl_dev(&arg.dev, &dev, "append storage file");
	if (ret)
		return ret;
	file = fget(arg.fd);
	if (!file)
		return ctl_bad("append storage file", "bad descriptor", -EBADF);
	ranges = ctl_copy_array(arg.ranges, arg.count, SNAPKEEP_MAX_RANGES,
				sizeof(*ranges), "append storage file");
	if (IS_ERR(ranges)) {
		fput(file);
		return PTR_ERR(ranges);
	}
	import_uuid(&id, arg.id.b);
	ret = snapshot_append_storage(&id, dev, file, ranges, arg.count);
	if (ret == -EINVAL)
		ctl_bad("append storage file",
			"empty, unaligned, overlapping or out-of-device range, larger blocks than the snapshot's devices, or not a regular file on the device",
			ret);
	kvfree(ranges);
	fput(file);
	return ret;
}

static int ctl_ioctl_take(struct snapkeep_uuid __user *uarg)
{
	uuid_t id;
	int ret;

	ret = ctl_uuid(uarg, &id, "take");
	if (ret)
		return ret;
	return snapshot_take(&id);
}

static int ctl_ioctl_wait_event(struct snapkeep_snapshot_event __user *uarg)
{
	struct snapkeep_snapshot_event arg;
	struct event ev;
	uuid_t id;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("wait event", "bad pointer", -EFAULT);
	if (arg.reserved)
		return ctl_bad("wait event", "reserved field set", -EINVAL);
	import_uuid(&id, arg.id.b);
	ret = snapshot_wait_event(&id, arg.timeout_ms, &ev);
	if (ret)
		return ret;

	memset(&arg, 0, sizeof(arg));
	export_uuid(arg.id.b, &id);
	arg.code = ev.code;
	arg.time_ns = ev.time_ns;
	if (ev.code == SNAPKEEP_EVENT_LOW_SPACE) {
		arg.requested_sectors = ev.requested_sectors;
	} else {
		arg.dev.major = MAJOR(ev.dev);
		arg.dev.minor = MINOR(ev.dev);
		arg.error = ev.error;
	}
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return ctl_bad("wait event", "bad pointer (event lost)",
			       -EFAULT);
	return 0;
}

static int ctl_ioctl_list_snapshots(struct snapkeep_list __user *uarg)
{
	struct snapkeep_list arg;
	unsigned int count;
	uuid_t *ids;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("list snapshots", "bad pointer", -EFAULT);
	if (arg.reserved)
		return ctl_bad("list snapshots", "reserved field set",
			       -EINVAL);
	if (arg.count > SNAPKEEP_MAX_RANGES)
		arg.count = SNAPKEEP_MAX_RANGES;
	ids = kvcalloc(max(arg.count, 1U), sizeof(*ids), GFP_KERNEL);
	if (!ids)
		return -ENOMEM;
	mutex_lock(&ctl_lock);
	snapshot_list(ids, arg.count, &count);
	mutex_unlock(&ctl_lock);
	ret = ctl_list_out(uarg, &arg, ids, count, sizeof(*ids),
			   "list snapshots");
	kvfree(ids);
	return ret;
}

static int ctl_ioctl_snapshot_info(struct snapkeep_snapshot_info __user *uarg)
{
	struct snapkeep_snapshot_info arg;
	struct snapkeep_snapshot_dev *devs;
	unsigned int capacity;
	uuid_t id;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("snapshot info", "bad pointer", -EFAULT);
	if (arg.reserved)
		return ctl_bad("snapshot info", "reserved field set", -EINVAL);
	capacity = min_t(u32, arg.count, SNAPKEEP_MAX_DEVICES);
	devs = kcalloc(SNAPKEEP_MAX_DEVICES, sizeof(*devs), GFP_KERNEL);
	if (!devs)
		return -ENOMEM;
	import_uuid(&id, arg.id.b);

	ret = snapshot_info(&id, &arg, devs, capacity);
	if (ret)
		goto out;
	if (min(capacity, arg.count) &&
	    copy_to_user(u64_to_user_ptr(arg.devs), devs,
			 min(capacity, arg.count) * sizeof(*devs))) {
		ret = ctl_bad("snapshot info", "bad array pointer", -EFAULT);
		goto out;
	}
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		ret = ctl_bad("snapshot info", "bad pointer", -EFAULT);
out:
	kfree(devs);
	return ret;
}

/* A NUL-padded string field: not empty, nothing after its first NUL. */
static bool ctl_padded(const u8 *s, size_t len)
{
	const u8 *nul = memchr(s, 0, len);

	if (!len || !s[0])
		return false;
	return !nul || !memchr_inv(nul, 0, s + len - nul);
}

static int ctl_ioctl_ckpt_create(struct snapkeep_ckpt_create __user *uarg)
{
	static const char cmd[] = "checkpoint create";
	u8 (*identities)[SNAPKEEP_CKPT_IDENTITY_LEN] = NULL;
	struct ckpt_create_args args = {};
	struct snapkeep_ckpt_create arg;
	struct snapkeep_sectors *ranges;
	struct snapkeep_ckpt_dev *udevs;
	struct file *file = NULL;
	dev_t *devs = NULL;
	unsigned int i;
	uuid_t id;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad(cmd, "bad pointer", -EFAULT);
	if (memchr_inv(arg.reserved, 0, sizeof(arg.reserved)) ||
	    (arg.flags & ~SNAPKEEP_CKPT_RESUME))
		return ctl_bad(cmd, "reserved field or flag set", -EINVAL);
	if (!(arg.flags & SNAPKEEP_CKPT_RESUME) &&
	    !ctl_padded(arg.name, sizeof(arg.name)))
		return ctl_bad(cmd, "empty or not NUL-padded name", -EINVAL);
	ret = ctl_dev(&arg.store_dev, &args.store_dev, cmd);
	if (ret)
		return ret;
	udevs = ctl_copy_array(arg.devs, arg.count, SNAPKEEP_CKPT_MAX_DEVICES,
			       sizeof(*udevs), cmd);
	if (IS_ERR(udevs))
		return PTR_ERR(udevs);
	ranges = ctl_copy_array(arg.ranges, arg.range_count,
				SNAPKEEP_MAX_RANGES, sizeof(*ranges), cmd);
	if (IS_ERR(ranges)) {
		ret = PTR_ERR(ranges);
		goto out_devs;
	}
	devs = kcalloc(arg.count, sizeof(*devs), GFP_KERNEL);
	identities = kcalloc(arg.count, sizeof(*identities), GFP_KERNEL);
	ret = -ENOMEM;
	if (!devs || !identities)
		goto out_ranges;
	for (i = 0; i < arg.count; i++) {
		ret = ctl_dev(&udevs[i].dev, &devs[i], cmd);
		if (ret)
			goto out_ranges;
		if (udevs[i].reserved ||
		    !ctl_padded(udevs[i].identity, sizeof(udevs[i].identity))) {
			ret = ctl_bad(cmd, "reserved field set or identity empty or not NUL-padded",
				      -EINVAL);
			goto out_ranges;
		}
		memcpy(identities[i], udevs[i].identity, sizeof(identities[i]));
	}
	if (arg.fd != -1) {
		file = fget(arg.fd);
		if (!file) {
			ret = ctl_bad(cmd, "bad descriptor", -EBADF);
			goto out_ranges;
		}
	}
	args.devs = devs;
	args.identities = (const u8 (*)[SNAPKEEP_CKPT_IDENTITY_LEN])identities;
	args.count = arg.count;
	args.file = file;
	args.ranges = ranges;
	args.range_count = arg.range_count;
	args.name = arg.name;
	args.resume = arg.flags & SNAPKEEP_CKPT_RESUME;

	ret = ckpt_create(&args, &id, arg.name);
	if (ret == -EINVAL)
		ctl_bad(cmd, "duplicate device, unaligned, overlapping or out-of-device range, an image device, logical blocks over 4096 bytes, or not a regular file on the store device",
			ret);
	if (!ret) {
		export_uuid(arg.id.b, &id);
		/*
		 * The checkpoint stays: it protects already, and
		 * CKPT_LIST names it (ending it here would write the store).
		 */
		if (copy_to_user(uarg, &arg, sizeof(arg)))
			ret = ctl_bad(cmd, "bad pointer (the checkpoint was made: CKPT_LIST names it)",
				      -EFAULT);
	}
	if (file)
		fput(file);
out_ranges:
	kfree(identities);
	kfree(devs);
	kvfree(ranges);
out_devs:
	kvfree(udevs);
	return ret;
}

static int ctl_ioctl_ckpt_end(struct snapkeep_uuid __user *uarg, u32 state)
{
	uuid_t id;
	int ret;

	ret = ctl_uuid(uarg, &id, "checkpoint end");
	if (ret)
		return ret;
	return ckpt_end(&id, state);
}

static int ctl_ioctl_ckpt_info(struct snapkeep_ckpt_info __user *uarg)
{
	struct snapkeep_ckpt_info *arg;
	uuid_t id;
	int ret;

	arg = kzalloc(sizeof(*arg), GFP_KERNEL);
	if (!arg)
		return -ENOMEM;
	if (copy_from_user(arg, uarg, sizeof(*arg))) {
		ret = ctl_bad("checkpoint info", "bad pointer", -EFAULT);
		goto out;
	}
	if (arg->reserved0 || memchr_inv(arg->reserved, 0,
					 sizeof(arg->reserved))) {
		ret = ctl_bad("checkpoint info", "reserved field set", -EINVAL);
		goto out;
	}
	import_uuid(&id, arg->id.b);
	ret = ckpt_info(&id, arg);
	if (!ret && copy_to_user(uarg, arg, sizeof(*arg)))
		ret = ctl_bad("checkpoint info", "bad pointer", -EFAULT);
out:
	kfree(arg);
	return ret;
}

static int ctl_ioctl_ckpt_list(struct snapkeep_list __user *uarg)
{
	struct snapkeep_list arg;
	unsigned int count;
	uuid_t *ids;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ctl_bad("list checkpoints", "bad pointer", -EFAULT);
	if (arg.reserved)
		return ctl_bad("list checkpoints", "reserved field set",
			       -EINVAL);
	if (arg.count > SNAPKEEP_MAX_RANGES)
		arg.count = SNAPKEEP_MAX_RANGES;
	ids = kvcalloc(max(arg.count, 1U), sizeof(*ids), GFP_KERNEL);
	if (!ids)
		return -ENOMEM;
	ckpt_list(ids, arg.count, &count);
	ret = ctl_list_out(uarg, &arg, ids, count, sizeof(*ids),
			   "list checkpoints");
	kvfree(ids);
	return ret;
}

static long ctl_unlocked_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	switch (cmd) {
	case SNAPKEEP_IOCTL_VERSION:
		return ctl_ioctl_version(argp);
	case SNAPKEEP_IOCTL_ATTACH:
		return ctl_ioctl_attach(argp);
	case SNAPKEEP_IOCTL_DETACH:
		return ctl_ioctl_detach(argp);
	case SNAPKEEP_IOCTL_TRACKER_INFO:
		return ctl_ioctl_tracker_info(argp);
	case SNAPKEEP_IOCTL_READ_MAP:
		return ctl_ioctl_read_map(argp);
	case SNAPKEEP_IOCTL_MARK_DIRTY:
		return ctl_ioctl_mark_dirty(argp);
	case SNAPKEEP_IOCTL_LIST_TRACKERS:
		return ctl_ioctl_list_trackers(argp);
	case SNAPKEEP_IOCTL_ATTACH_PERSISTENT:
		return ctl_ioctl_attach_persistent(argp);
	case SNAPKEEP_IOCTL_TRACKER_INFO2:
		return ctl_ioctl_tracker_info2(argp);
	case SNAPKEEP_IOCTL_SEAL_IN_PLACE:
		return ctl_ioctl_seal_in_place(argp);
	case SNAPKEEP_IOCTL_CREATE:
		return ctl_ioctl_create(argp);
	case SNAPKEEP_IOCTL_DESTROY:
		return ctl_ioctl_destroy(argp);
	case SNAPKEEP_IOCTL_APPEND_STORAGE:
		return ctl_ioctl_append(argp);
	case SNAPKEEP_IOCTL_APPEND_STORAGE_FILE:
		return ctl_ioctl_append_file(argp);
	case SNAPKEEP_IOCTL_TAKE:
		return ctl_ioctl_take(argp);
	case SNAPKEEP_IOCTL_WAIT_EVENT:
		return ctl_ioctl_wait_event(argp);
	case SNAPKEEP_IOCTL_LIST_SNAPSHOTS:
		return ctl_ioctl_list_snapshots(argp);
	case SNAPKEEP_IOCTL_SNAPSHOT_INFO:
		return ctl_ioctl_snapshot_info(argp);
	case SNAPKEEP_IOCTL_CKPT_CREATE:
		return ctl_ioctl_ckpt_create(argp);
	case SNAPKEEP_IOCTL_CKPT_COMMIT:
		return ctl_ioctl_ckpt_end(argp, SNAPKEEP_CKPT_COMMITTED);
	case SNAPKEEP_IOCTL_CKPT_ABANDON:
		return ctl_ioctl_ckpt_end(argp, SNAPKEEP_CKPT_ABANDONED);
	case SNAPKEEP_IOCTL_CKPT_INFO:
		return ctl_ioctl_ckpt_info(argp);
	case SNAPKEEP_IOCTL_CKPT_LIST:
		return ctl_ioctl_ckpt_list(argp);
	default:
		return -ENOTTY;
	}
}

static int ctl_open(struct inode *inode, struct file *file)
{
	return capable(CAP_SYS_ADMIN) ? 0 : -EPERM;
}

static const struct file_operations ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= ctl_open,
	.unlocked_ioctl	= ctl_unlocked_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/*
 * Registered once at module init and deregistered at exit. An open file
 * holds a reference on the module through ctl_fops.owner, so the device
 * cannot disappear under a caller.
 */
static struct miscdevice ctl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= SNAPKEEP_CTL_NAME,
	.fops	= &ctl_fops,
	.mode	= 0600,
};

int ctl_init(void)
{
	int ret;

	ret = misc_register(&ctl_misc);
	if (ret)
		pr_err("cannot register /dev/%s: %d\n", SNAPKEEP_CTL_NAME, ret);
	return ret;
}

void ctl_done(void)
{
	misc_deregister(&ctl_misc);
}
