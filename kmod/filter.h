/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The block I/O filter: an ftrace hook on submit_bio_noacct() that shows
 * every write to a tracked device to its tracker first.
 */
#ifndef __SNAPKEEP_FILTER_H
#define __SNAPKEEP_FILTER_H

#include <linux/bio.h>
#include <linux/types.h>

struct tracker;

/* The module's own bios come from these sets; the filter lets them pass. */
extern struct bio_set filter_io_bioset;
extern struct bio_set filter_clone_bioset;

int filter_init(void);
void filter_done(void);

int filter_add(struct tracker *t);
void filter_del(struct tracker *t);
struct tracker *filter_find(dev_t dev);
int filter_for_each(int (*fn)(struct tracker *t, void *arg), void *arg);

void filter_submit_own(struct bio *bio);
void filter_gate_close(void);
void filter_gate_open(void);

#endif /* __SNAPKEEP_FILTER_H */
