// What goes into the recovery medium's Debian system, each with its reason.
// Part of the medium's cache key: changing the list rebuilds the system.

/** Debian bookworm: the release the app's .deb is built for. */
export const MEDIUM_SUITE = 'bookworm';

/** In debootstrap's own stage: what apt and the init need in the chroot. */
export const BOOTSTRAP_PACKAGES = ['systemd', 'systemd-sysv', 'udev', 'kmod', 'procps', 'util-linux'];

/** Installed with apt afterwards (no recommends). */
export const MEDIUM_PACKAGES: readonly (readonly [string, string])[] = [
  ['linux-image-amd64', 'the kernel'],
  ['live-boot', 'the initramfs finds the medium and mounts its squashfs layers'],
  ['nbd-client', 'restore points as block devices'],
  ['mdadm', 'md RAID targets'],
  ['lvm2', 'LVM targets'],
  ['cryptsetup', 'LUKS targets'],
  ['e2fsprogs', 'ext2/3/4'],
  ['xfsprogs', 'xfs'],
  ['dosfstools', 'EFI system partitions'],
  ['fdisk', 'partition tables'],
  ['grub-pc-bin', 'boot repair of BIOS systems'],
  ['grub-efi-amd64-bin', 'boot repair of UEFI systems'],
  ['ifupdown', 'networking for remote repositories'],
  ['isc-dhcp-client', 'DHCP'],
  ['libzstd1', 'the native addon'],
  ['libsodium23', 'the native addon'],
  ['libssl3', 'the native addon'],
  ['libext2fs2', 'the native addon'],
  ['libcom-err2', 'the native addon'],
  ['less', 'reading logs on the console'],
];
