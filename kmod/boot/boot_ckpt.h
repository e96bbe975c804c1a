/* SPDX-License-Identifier: GPL-2.0 */
/*
 * boot_ckpt.h - checkpoints at boot: re-attach an active one before
 * anything writes its devices, or roll its devices back, without the
 * module, validating the whole log first.
 */
#ifndef __SNAPKEEP_BOOT_CKPT_H
#define __SNAPKEEP_BOOT_CKPT_H

#include <stddef.h>

#include "boot_config.h"

/* attach: every checkpoint of @cfg; how many failed. */
unsigned int boot_ckpt_attach_all(int ctl, const struct boot_config *cfg);

/*
 * seal (systemd-shutdown): the devices of each attached checkpoint whose
 * lines name a stamp page are stamped, for the next attach to compare.
 */
void boot_ckpt_seal_all(const struct boot_config *cfg);

/* status: one line per checkpoint of @cfg, from its store. */
void boot_ckpt_status(const struct boot_config *cfg);

/**
 * struct boot_ckpt_lines - the config lines of one checkpoint (the lines
 *	naming the same store), in device order.
 * @e: the lines; they point into the config and live as long as it.
 * @n: how many.
 */
struct boot_ckpt_lines {
	const struct boot_entry *e[SNAPKEEP_CKPT_MAX_DEVICES];
	unsigned int n;
};

/**
 * struct boot_ckpt_view - a checkpoint as its store says, for people.
 * @raw_id: the id; @id: printed.
 * @name: printable ASCII, anything else (TAB included) as '?'.
 * @state: SNAPKEEP_CKPT_*; @reason: SNAPKEEP_CKPT_REASON_*.
 * @created: seconds since the epoch (the header's, untrusted).
 * @entries: chunks saved; @used: store pages used; @pages: store pages.
 * @attached: the running module has it.
 */
struct boot_ckpt_view {
	unsigned char raw_id[16];
	char id[37];
	char name[SNAPKEEP_CKPT_NAME_LEN + 1];
	unsigned int state;
	unsigned int reason;
	unsigned long long created;
	unsigned long long entries;
	unsigned long long used;
	unsigned long long pages;
	int attached;
};

/* The checkpoints of @cfg (at most @max); how many. */
unsigned int boot_ckpt_lines(const struct boot_config *cfg,
			     struct boot_ckpt_lines *out, unsigned int max);

/* Reads the store of @l into @v; 0, or -errno with the reason in @why. */
int boot_ckpt_read(const struct boot_ckpt_lines *l, struct boot_ckpt_view *v,
		   char *why, size_t len);

/* @text is a checkpoint id as printed (8-4-4-4-12 hex digits) into @id. */
int boot_ckpt_parse_id(const char *text, unsigned char id[16]);

/*
 * snapkeep-boot rollback [--check] [STORE|ID]; the exit status. STORE is
 * a store= device (every checkpoint on it), ID a checkpoint's id.
 */
int boot_ckpt_cmd_rollback(const char *config, int argc, char **argv);

#endif /* __SNAPKEEP_BOOT_CKPT_H */
