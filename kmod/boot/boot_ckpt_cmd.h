/* SPDX-License-Identifier: GPL-2.0 */
/*
 * boot_ckpt_cmd.h - `snapkeep-boot checkpoint ...`: make, list, end and
 * remove the checkpoints of the config while the system runs (the app's
 * helper calls these; boot_ckpt.c is what the boot does with them).
 */
#ifndef __SNAPKEEP_BOOT_CKPT_CMD_H
#define __SNAPKEEP_BOOT_CKPT_CMD_H

/*
 * snapkeep-boot checkpoint create|list|commit|abandon|remove ...; @argv[0]
 * is "checkpoint". The exit status: 0, 1 (not done, one message), 2 (usage).
 */
int boot_ckpt_cmd(const char *config, int argc, char **argv);

#endif /* __SNAPKEEP_BOOT_CKPT_CMD_H */
