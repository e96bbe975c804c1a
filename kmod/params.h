/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module parameters (main.c). All are read-only after load (0444): the
 * objects read them when they are created, and a value changing under a
 * live snapshot would only bring surprises.
 */
#ifndef __SNAPKEEP_PARAMS_H
#define __SNAPKEEP_PARAMS_H

/* Change tracking: block size = device size / count, within the shifts. */
extern unsigned int param_tracking_block_minimum_shift;
extern unsigned int param_tracking_block_maximum_shift;
extern unsigned int param_tracking_block_maximum_count;

/* Copy-on-write granularity, chosen the same way per device at take. */
extern unsigned int param_chunk_minimum_shift;
extern unsigned int param_chunk_maximum_shift;
extern unsigned int param_chunk_maximum_count;

/* Memory for copies in flight, all snapshots together (MiB). */
extern unsigned int param_cow_buffer_mb;
/* Largest single copy read or write (KiB). */
extern unsigned int param_cow_max_io_kb;
/* How far copies run ahead of a sequential writer (KiB, 0: not at all). */
extern unsigned int param_cow_readahead_kb;

/*
 * Difference storage: a low-space event asks for this much (MiB) when the
 * free storage falls below half of it.
 */
extern unsigned int param_diff_storage_minimum_mb;
/*
 * How long a copy that finds no room waits for storage to be appended
 * (ms) before the snapshot overflows; its writers wait meanwhile.
 */
extern unsigned int param_diff_storage_wait_ms;

/*
 * For tests only: widens the window between the parts of an image read
 * (diff_area.c), so that races with copies show every time.
 */
extern unsigned int param_test_image_read_delay_ms;

#endif /* __SNAPKEEP_PARAMS_H */
