/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Release of the module, reported by SNAPKEEP_IOCTL_VERSION
 * and MODULE_VERSION(). dkms.conf's PACKAGE_VERSION must be the same
 * string; scripts/build-kmod.mjs refuses to build when they differ.
 */
#ifndef __SNAPKEEP_VERSION_H
#define __SNAPKEEP_VERSION_H

#define SNAPKEEP_VERSION	"0.1.0"

#endif /* __SNAPKEEP_VERSION_H */
