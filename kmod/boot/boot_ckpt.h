/* SPDX-License-Identifier: GPL-2.0 */
/*
 * boot_ckpt.h - checkpoints at boot: re-attach an active one before
 * anything writes its devices, or roll its devices back, without the
 * module, validating the whole log first.
 */
#ifndef __SNAPKEEP_BOOT_CKPT_H
#define __SNAPKEEP_BOOT_CKPT_H

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

/* snapkeep-boot rollback [--check] [STORE]; the exit status. */
int boot_ckpt_cmd_rollback(const char *config, int argc, char **argv);

#endif /* __SNAPKEEP_BOOT_CKPT_H */
