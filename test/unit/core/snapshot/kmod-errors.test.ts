// The module's errnos as the errors a user reads, the same for the job
// runner and `snapkeep kmod`: plain errors with an errno code, as the addon
// throws them (the real module answers in the VM tests).
import { describe, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { kmodError } from '../../../../electron/core/snapshot/kmod-errors';

function sysError(code: string, syscall?: string): Error {
  return Object.assign(new Error(`${syscall ?? 'ioctl'}: ${code}`), { code, ...(syscall !== undefined && { syscall }) });
}

describe('kmodError', () => {
  it.each([
    ['EBUSY', 'DEVICE_BUSY'],
    ['ENOTBLK', 'DEVICE_NOT_FOUND'],
    ['EPERM', 'PERMISSION_DENIED'],
    ['ENOSPC', 'SNAPSHOT_OVERFLOW'],
    ['EIO', 'IO_ERROR'],
    ['EINVAL', 'INVALID_ARGUMENT'],
    ['EFAULT', 'INTERNAL'],
  ])('%s is %s, with the errno in the details', (errno, code) => {
    const e = kmodError(sysError(errno, 'ioctl'), 'snapshot 1: take', { snapshotId: '1' });
    expect(e).toMatchObject({ code, details: { errno, syscall: 'ioctl', snapshotId: '1' } });
    expect(e.message).toMatch(/^snapshot 1: take: /);
  });

  it('tells a missing module (open ENOENT) from a missing snapshot (ioctl ENOENT)', () => {
    expect(kmodError(sysError('ENOENT', 'open'), 'kernel module')).toMatchObject({ code: 'MODULE_NOT_LOADED', message: expect.stringMatching(/snapkeep-helper install/) });
    expect(kmodError(sysError('ENOENT', 'ioctl'), 'snapshot 9: info')).toMatchObject({ code: 'NOT_FOUND', message: 'snapshot 9: info: no such snapshot or tracked device' });
  });

  it('passes AppErrors through and wraps anything else as INTERNAL', () => {
    const app = new AppError('CONFLICT', 'x');
    expect(kmodError(app, 'y')).toBe(app);
    expect(kmodError('boom', 'kmod take')).toMatchObject({ code: 'INTERNAL', message: 'kmod take: boom' });
  });
});
