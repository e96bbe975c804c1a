/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module's init sets up for all objects: its workqueues.
 */
#ifndef __SNAPKEEP_MAIN_H
#define __SNAPKEEP_MAIN_H

#include <linux/workqueue.h>

/*
 * snapkeep_wq: work that may wait for copy memory or for a copy to finish
 *	(writes the filter could not handle in place, image I/O that waits).
 * snapkeep_io_wq: completions of the module's own I/O and releases of
 *	objects; never waits for memory, so copies always make progress.
 * Both have rescuers (WQ_MEM_RECLAIM): they sit on the write-back path.
 */
extern struct workqueue_struct *snapkeep_wq;
extern struct workqueue_struct *snapkeep_io_wq;

#endif /* __SNAPKEEP_MAIN_H */
