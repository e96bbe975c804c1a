/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The block I/O filter: an ftrace hook on submit_bio_noacct() that shows
 * every write to a tracked device to its tracker first, and counts the
 * writes in flight so that a take can wait for them.
 */
#ifndef __SNAPKEEP_FILTER_H
#define __SNAPKEEP_FILTER_H

#include <linux/bio.h>
#include <linux/types.h>

struct ckpt_batch;
struct tracker;
struct filter_epoch;

/* The module's own bios come from these sets; the filter lets them pass. */
extern struct bio_set filter_io_bioset;
extern struct bio_set filter_clone_bioset;

int filter_init(void);
int filter_start(void);
void filter_stop(void);
void filter_done(void);

int filter_add(struct tracker *t);
void filter_del(struct tracker *t);
struct tracker *filter_find(dev_t dev);
int filter_for_each(int (*fn)(struct tracker *t, void *arg), void *arg);

void filter_submit_own(struct bio *bio);
int filter_show_deferred(char *buf, int len, int size);
void filter_ckpt_parts(struct bio *clone, struct ckpt_batch *b);
void filter_release_held(struct bio *clone);

/* A take: see "The take" at the top of filter.c. */
struct filter_take {
	struct tracker **trackers;
	unsigned int count;
	struct filter_epoch **fresh;
};

int filter_take_prepare(struct filter_take *ft, struct tracker **trackers,
			unsigned int count);
void filter_take_release(struct filter_take *ft);
void filter_gate_close(struct filter_take *ft);
int filter_drain(struct filter_take *ft, unsigned int timeout_ms);
void filter_gate_open(struct filter_take *ft);

#endif /* __SNAPKEEP_FILTER_H */
