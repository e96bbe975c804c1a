// The kernel-log scan of the VM harness: the debug kernel's boot banners
// (which name lockdep and use-after-free) pass; the reports those checkers
// print still fail a test.
import { describe, expect, it } from 'vitest';

import { scanKernelLog } from '../../vm/lib/kernel-log.mjs';

describe('kernel log scan', () => {
  it('lets the debug kernel boot banners pass', () => {
    const boot = ['[    0.000000] rcu: \tRCU lockdep checking is enabled.', '[    0.000000] rcu: \tRCU callback double-/use-after-free debug is enabled.'].join('\n');
    expect(scanKernelLog(boot)).toEqual([]);
    // as the serial console writes them
    expect(scanKernelLog(boot.replaceAll('\n', '\r\n') + '\r')).toEqual([]);
  });

  it('still catches what lockdep and KASAN report', () => {
    const reports = [
      '[   42.1] WARNING: possible circular locking dependency detected',
      '[   42.2] turning off the locking correctness validator.',
      '[   43.0] BUG: KASAN: slab-use-after-free in diff_area_put+0x10/0x20',
      '[   44.0] rcu: \tRCU lockdep checking is enabled. (and then some)',
    ];
    expect(scanKernelLog(reports.join('\n'))).toEqual(reports);
  });
});
