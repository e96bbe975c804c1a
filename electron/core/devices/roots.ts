// The kernel interfaces device discovery reads. Tests point them at a
// fixture tree; everything else uses the real ones.
export interface SystemRoots {
  /** sysfs: /sys */
  sys: string;
  /** The mount table: /proc/self/mountinfo */
  mountinfo: string;
  /** udev's database: /run/udev/data (absent in the test VM) */
  udevData: string;
  /** Device nodes: /dev */
  dev: string;
}

export const REAL_ROOTS: SystemRoots = {
  sys: '/sys',
  mountinfo: '/proc/self/mountinfo',
  udevData: '/run/udev/data',
  dev: '/dev',
};
