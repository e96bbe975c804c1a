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
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-ctl: " fmt

#include <linux/build_bug.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "snapkeep.h"
#include "compat.h"
#include "ctl.h"
#include "version.h"

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

static long ctl_unlocked_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case SNAPKEEP_IOCTL_VERSION:
		return ctl_ioctl_version(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ctl_fops = {
	.owner		= THIS_MODULE,
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
