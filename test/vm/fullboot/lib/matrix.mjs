// What `npm test` runs of the full-boot suite (run.mjs --ci, started by
// scripts/test.mjs in the background after the build, one guest at a
// time): each test on one kernel, sized to the hour on 2 cores. A
// full-boot test pays for a real GRUB, an initramfs-tools initrd,
// update-initramfs (about 150 s under TCG since image format 4) and
// reboots of 45-70 s, so the whole suite on both kernels (about 75 min)
// is `npm run test:fullboot`. The two kept here are the boot path of the
// persistent change map (clean reboot, power cut, a boot without the
// module) and of a checkpoint's rollback from the boot menu; between them
// both kernels boot the initramfs hook. The rest of 14's and 15's
// behaviour runs in the busybox guests of test/vm on both kernels (map
// cycle, write intent, seal, doubt; checkpoint store, power cut,
// rollback tool). Times: docs/testing-fullboot.md.

/**
 * @typedef {object} CiRun
 * @property {string} test file name in tests/ without .mjs
 * @property {'6.1'|'6.12'} kernel the kernel of its first boot
 */

/** @type {readonly CiRun[]} */
export const CI = Object.freeze([
	{ test: '005-checkpoint-rollback', kernel: '6.12' },
	{ test: '004-persist-reboot', kernel: '6.1' },
]);
