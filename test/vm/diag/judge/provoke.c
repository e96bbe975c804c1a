// SPDX-License-Identifier: GPL-2.0
/*
 * Provokes, on purpose, one report of each kind the VM harness's kernel
 * log judge (test/vm/lib/kernel-log.mjs) must catch on the debug kernel:
 * a warning, a lockdep cycle, a KASAN and a KFENCE use-after-free, a
 * sleep in atomic context, an active object freed (debugobjects), a hung
 * task, an RCU stall with a soft lockup. Never loaded by the test suite;
 * test/vm/diag/judge-selfcheck.mjs loads it once per case.
 *
 *	insmod provoke.ko what=kasan
 */
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kfence.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timer.h>

static char *what = "";
module_param(what, charp, 0444);

static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);
static DEFINE_SPINLOCK(spin);
static DECLARE_COMPLETION(never);
static struct task_struct *worker;

struct with_timer {
	struct timer_list timer;
};

static void timer_fn(struct timer_list *t)
{
}

/* Volatile reads: the compiler must not drop the bad access. */
static int read_byte(const char *p)
{
	return READ_ONCE(*p);
}

static void provoke_kfence(void)
{
	unsigned long end = jiffies + 30 * HZ;
	char *p;

	/* KFENCE samples one allocation per interval: allocate until hit. */
	while (time_before(jiffies, end)) {
		p = kmalloc(32, GFP_KERNEL);
		if (!p)
			return;
		if (is_kfence_address(p)) {
			kfree(p);
			pr_info("provoke: kfence object %px freed, reading it\n", p);
			read_byte(p);
			return;
		}
		kfree(p);
		usleep_range(500, 1000);
	}
	pr_info("provoke: no kfence allocation within 30 s\n");
}

static int hang_fn(void *data)
{
	/* Uninterruptible and never completed: the hung-task detector. */
	wait_for_completion(&never);
	return 0;
}

static int stall_fn(void *data)
{
	unsigned long end = jiffies + 40 * HZ;

	rcu_read_lock();
	preempt_disable();
	while (time_before(jiffies, end))
		mdelay(10);
	preempt_enable();
	rcu_read_unlock();
	return 0;
}

static int __init provoke_init(void)
{
	if (!strcmp(what, "warn")) {
		WARN_ON(1);
	} else if (!strcmp(what, "lockdep")) {
		mutex_lock(&lock_a);
		mutex_lock(&lock_b);
		mutex_unlock(&lock_b);
		mutex_unlock(&lock_a);
		mutex_lock(&lock_b);
		mutex_lock(&lock_a);
		mutex_unlock(&lock_a);
		mutex_unlock(&lock_b);
	} else if (!strcmp(what, "kasan")) {
		char *p = kmalloc(64, GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		kfree(p);
		read_byte(p);
	} else if (!strcmp(what, "kfence")) {
		provoke_kfence();
	} else if (!strcmp(what, "atomic_sleep")) {
		spin_lock(&spin);
		msleep(1);
		spin_unlock(&spin);
	} else if (!strcmp(what, "odebug")) {
		struct with_timer *w = kzalloc(sizeof(*w), GFP_KERNEL);

		if (!w)
			return -ENOMEM;
		timer_setup(&w->timer, timer_fn, 0);
		mod_timer(&w->timer, jiffies + 100 * HZ);
		kfree(w);
	} else if (!strcmp(what, "hung")) {
		worker = kthread_run(hang_fn, NULL, "provoke-hung");
	} else if (!strcmp(what, "stall")) {
		worker = kthread_run(stall_fn, NULL, "provoke-stall");
	} else {
		pr_err("provoke: what=%s is not a case\n", what);
		return -EINVAL;
	}
	return 0;
}
module_init(provoke_init);

/* Stays loaded: the cases leave state (a hung thread) that cannot go. */
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Provokes kernel reports for the VM harness self-check");
