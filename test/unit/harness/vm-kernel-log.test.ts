// The kernel-log scan of the VM harness: the debug kernel's boot banners
// (which name lockdep and use-after-free) pass; the reports those checkers
// print still fail a test.
import { describe, expect, it } from 'vitest';

import { hangReport, moduleIdleAtTimeout, scanKernelLog } from '../../vm/lib/kernel-log.mjs';

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

  it('reports what a guest that timed out showed: busy queues, held writes, blocked stacks', () => {
    const io = ['vda inflight        0        3', 'vdb inflight        0        0', 'copies 1',
      'copy 254:0 first=12 count=1 phase=draining pending=0 blocked=1 released=0 done=0 error=0 age_ms=351000',
      'writes held=1 copying_inline=0'].join('\n');
    const log = ['[  1.0] sysrq: Show Blocked State', '[  1.0] task:old state:D', '[ 360.0] sysrq: Show Blocked State',
      '[ 360.0] task:sync            state:D stack:0', '[ 360.0]  __schedule+0x1/0x2'].join('\r\n');
    expect(hangReport(io, log)).toEqual([
      'vda inflight        0        3', 'copies 1',
      'copy 254:0 first=12 count=1 phase=draining pending=0 blocked=1 released=0 done=0 error=0 age_ms=351000',
      'writes held=1 copying_inline=0', 'blocked tasks:',
      '[ 360.0] task:sync            state:D stack:0', '[ 360.0]  __schedule+0x1/0x2',
    ]);
    expect(hangReport('', 'nothing')).toEqual([]);
  });

  it('tells a hang where the module holds writes from one where it holds none', () => {
    const idle = ['vda inflight 0 2', 'copies 0', 'buffer reserved_pages=0 budget_pages=8192 cached_pages=16 waiting=0',
      'writes held=0 copying_inline=0', 'writes deferred fresh=0 counted=0'];
    expect(moduleIdleAtTimeout(idle.join('\n'))).toBe(true);
    expect(moduleIdleAtTimeout('vda inflight 0 2\n')).toBe(true); // module not loaded
    expect(moduleIdleAtTimeout(idle.join('\n').replace('copies 0', 'copies 3'))).toBe(false);
    expect(moduleIdleAtTimeout(idle.join('\n').replace('held=0', 'held=1'))).toBe(false);
    expect(moduleIdleAtTimeout(idle.join('\n').replace('copying_inline=0', 'copying_inline=2'))).toBe(false);
    expect(moduleIdleAtTimeout(idle.join('\n').replace('counted=0', 'counted=5'))).toBe(false);
  });
});
