/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory for chunks being copied, from a pool with a fixed budget.
 */
#ifndef __SNAPKEEP_DIFF_BUFFER_H
#define __SNAPKEEP_DIFF_BUFFER_H

#include <linux/bvec.h>
#include <linux/types.h>

struct bio;

/**
 * struct diff_buffer - pages holding the old data of a run of chunks.
 * @size: bytes.
 * @nr_pages: pages in @pages.
 * @pages: the pages, in order.
 *
 * Owned by one chunk_op; returned to the pool with diff_buffer_put().
 */
struct diff_buffer {
	unsigned int size;
	unsigned int nr_pages;
	struct page *pages[];
};

int diff_buffer_init(void);
void diff_buffer_done(void);

struct diff_buffer *diff_buffer_get(unsigned int size);
struct diff_buffer *diff_buffer_tryget(unsigned int size, bool readahead);
void diff_buffer_put(struct diff_buffer *buf);
void diff_buffer_trim(void);
unsigned long diff_buffer_budget(void);
int diff_buffer_show(char *buf, int len, int size);

void diff_buffer_copy_bio(struct diff_buffer *buf, unsigned int offset,
			  struct bio *bio, struct bvec_iter iter, bool to_bio);

#endif /* __SNAPKEEP_DIFF_BUFFER_H */
