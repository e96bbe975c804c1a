// SPDX-License-Identifier: GPL-2.0
/*
 * The copy buffers' pool.
 *
 * All snapshots share one budget of pages (cow_buffer_mb). A copy reserves
 * its pages before it reads; when the budget is used up, writers that need
 * a copy wait until copies in flight are stored and give theirs back. So
 * the memory the module pins is bounded whatever the write load, and the
 * machine never runs out of memory because of it.
 *
 * Pages are allocated without I/O (GFP_NOIO: we are on the write path) and
 * without the allocation failure warning; when the allocator has nothing,
 * the writer waits and tries again rather than fail the snapshot. Freed
 * pages are kept (within the budget) while snapshots exist, and released
 * by diff_buffer_trim() when the last one goes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-buffer: " fmt

#include <linux/bio.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "diff_buffer.h"
#include "params.h"

/**
 * struct diff_buffer_pool - the one pool of the module.
 * @lock: protects the counters and @cache.
 * @wait: writers waiting for budget.
 * @budget: pages that may be in use or cached at once.
 * @reserved: pages reserved by live buffers.
 * @cache: freed pages kept for the next buffers (page->lru).
 * @cached: pages in @cache.
 */
static struct diff_buffer_pool {
	spinlock_t lock;		/* see above; taken with irqs off */
	wait_queue_head_t wait;
	unsigned long budget;
	unsigned long reserved;
	struct list_head cache;
	unsigned long cached;
} pool;

int diff_buffer_init(void)
{
	spin_lock_init(&pool.lock);
	init_waitqueue_head(&pool.wait);
	INIT_LIST_HEAD(&pool.cache);
	pool.budget = (unsigned long)param_cow_buffer_mb << (20 - PAGE_SHIFT);
	pool.reserved = 0;
	pool.cached = 0;
	return 0;
}

void diff_buffer_done(void)
{
	WARN_ON(pool.reserved);
	diff_buffer_trim();
}

unsigned long diff_buffer_budget(void)
{
	return pool.budget << PAGE_SHIFT;
}

/* Reserves @nr pages if that keeps the use at or below @limit. */
static bool diff_buffer_reserve_below(unsigned int nr, unsigned long limit)
{
	bool ok;

	spin_lock_irq(&pool.lock);
	ok = pool.reserved + nr <= limit;
	if (ok)
		pool.reserved += nr;
	spin_unlock_irq(&pool.lock);
	return ok;
}

static bool diff_buffer_reserve(unsigned int nr)
{
	return diff_buffer_reserve_below(nr, pool.budget);
}

static struct page *diff_buffer_page(void)
{
	struct page *page = NULL;

	spin_lock_irq(&pool.lock);
	if (pool.cached) {
		page = list_first_entry(&pool.cache, struct page, lru);
		list_del(&page->lru);
		pool.cached--;
	}
	spin_unlock_irq(&pool.lock);
	if (page)
		return page;

	for (;;) {
		page = alloc_page(GFP_NOIO | __GFP_NOWARN);
		if (page)
			return page;
		/* Reclaim is on its way; copies must not fail for it. */
		msleep(20);
	}
}

static struct diff_buffer *diff_buffer_fill(unsigned int size,
					    unsigned int nr)
{
	struct diff_buffer *buf;
	unsigned int i = 0;

	/*
	 * Not __GFP_NOFAIL: a 4 MiB chunk's page array is an order-2
	 * allocation, and 6.1 warns on NOFAIL above order 1. Retry as
	 * diff_buffer_page() does.
	 */
	for (;;) {
		buf = kmalloc(struct_size(buf, pages, nr),
			      GFP_NOIO | __GFP_NOWARN);
		if (buf)
			break;
		msleep(20);
	}
	buf->size = size;
	buf->nr_pages = nr;
	/* Cached pages first, in one go. */
	spin_lock_irq(&pool.lock);
	for (; i < nr && pool.cached; i++) {
		buf->pages[i] = list_first_entry(&pool.cache, struct page, lru);
		list_del(&buf->pages[i]->lru);
		pool.cached--;
	}
	spin_unlock_irq(&pool.lock);
	for (; i < nr; i++)
		buf->pages[i] = diff_buffer_page();
	return buf;
}

/*
 * A buffer of @size bytes (at most the budget). Sleeps until the budget
 * allows it: call only where waiting is allowed, and only holding no
 * buffer whose release depends on the caller.
 */
struct diff_buffer *diff_buffer_get(unsigned int size)
{
	unsigned int nr = DIV_ROUND_UP(size, PAGE_SIZE);

	if (WARN_ON_ONCE(nr > pool.budget))
		return NULL;
	wait_event(pool.wait, diff_buffer_reserve(nr));
	return diff_buffer_fill(size, nr);
}

/*
 * A buffer when the budget has room now, else NULL; never waits for the
 * budget (may sleep to allocate pages). For read-ahead (@readahead: only
 * within half of the budget, the rest is left to the copies writers wait
 * for), and for a writer's further copies while it holds copies it must
 * finish itself (diff_area.c): waiting for the budget there could wait for
 * its own buffers.
 */
struct diff_buffer *diff_buffer_tryget(unsigned int size, bool readahead)
{
	unsigned int nr = DIV_ROUND_UP(size, PAGE_SIZE);

	if (!diff_buffer_reserve_below(nr, readahead ? pool.budget / 2 :
						       pool.budget))
		return NULL;
	return diff_buffer_fill(size, nr);
}

/* Returns the pages and the budget; any context. */
void diff_buffer_put(struct diff_buffer *buf)
{
	unsigned long flags;
	unsigned int i;

	if (!buf)
		return;
	spin_lock_irqsave(&pool.lock, flags);
	for (i = 0; i < buf->nr_pages; i++) {
		list_add(&buf->pages[i]->lru, &pool.cache);
		pool.cached++;
	}
	pool.reserved -= buf->nr_pages;
	spin_unlock_irqrestore(&pool.lock, flags);
	kfree(buf);
	wake_up_all(&pool.wait);
}

/* Appends the pool's use to @buf (@len used of @size); the new length. */
int diff_buffer_show(char *buf, int len, int size)
{
	unsigned long reserved, cached;

	spin_lock_irq(&pool.lock);
	reserved = pool.reserved;
	cached = pool.cached;
	spin_unlock_irq(&pool.lock);
	return len + scnprintf(buf + len, size - len,
			       "buffer reserved_pages=%lu budget_pages=%lu cached_pages=%lu waiting=%d\n",
			       reserved, pool.budget, cached,
			       wq_has_sleeper(&pool.wait));
}

/* Frees the cached pages (no snapshot needs them). */
void diff_buffer_trim(void)
{
	struct page *page, *tmp;
	LIST_HEAD(list);

	spin_lock_irq(&pool.lock);
	list_splice_init(&pool.cache, &list);
	pool.cached = 0;
	spin_unlock_irq(&pool.lock);
	list_for_each_entry_safe(page, tmp, &list, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
}

/*
 * Copies between @buf, from byte @offset, and the part of @bio that @iter
 * describes: into the bio when @to_bio, out of it otherwise.
 */
void diff_buffer_copy_bio(struct diff_buffer *buf, unsigned int offset,
			  struct bio *bio, struct bvec_iter iter, bool to_bio)
{
	struct bio_vec bv;
	struct bvec_iter it;

	__bio_for_each_segment(bv, bio, it, iter) {
		unsigned int done = 0;

		while (done < bv.bv_len) {
			struct page *page = buf->pages[offset >> PAGE_SHIFT];
			unsigned int in_page = offset & ~PAGE_MASK;
			unsigned int len = min(bv.bv_len - done,
					       (unsigned int)PAGE_SIZE - in_page);
			struct bio_vec part = {
				.bv_page	= bv.bv_page,
				.bv_offset	= bv.bv_offset + done,
				.bv_len		= len,
			};
			char *addr = kmap_local_page(page);

			if (to_bio)
				memcpy_to_bvec(&part, addr + in_page);
			else
				memcpy_from_bvec(addr + in_page, &part);
			kunmap_local(addr);
			offset += len;
			done += len;
		}
	}
}
