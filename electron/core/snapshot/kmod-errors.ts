// What an errno of the kernel module (or of opening /dev/snapkeep) means to
// a user: one table for the snapshot driver and for `snapkeep kmod`.
import { AppError, isAppError, type ErrorCode } from '../../common/contract';
import { isNativeSysError } from '../../../native';

const CODES: Record<string, ErrorCode> = {
  EBUSY: 'DEVICE_BUSY',
  ENOTBLK: 'DEVICE_NOT_FOUND',
  ENODEV: 'DEVICE_NOT_FOUND',
  ENXIO: 'DEVICE_NOT_FOUND',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  ENOSPC: 'SNAPSHOT_OVERFLOW',
  EIO: 'IO_ERROR',
  // The module refuses these before touching anything: what was asked is wrong.
  EINVAL: 'INVALID_ARGUMENT',
  E2BIG: 'INVALID_ARGUMENT',
  EEXIST: 'INVALID_ARGUMENT',
  EALREADY: 'INVALID_ARGUMENT',
};

/** `e` as an AppError saying `what` failed; the errno (and syscall) go into the details. */
export function kmodError(e: unknown, what: string, details: Record<string, unknown> = {}): AppError {
  if (isAppError(e)) return e;
  if (!isNativeSysError(e)) return new AppError('INTERNAL', `${what}: ${e instanceof Error ? e.message : String(e)}`, details);
  const d = { ...details, errno: e.code, ...(e.syscall !== undefined && { syscall: e.syscall }) };
  if (e.code === 'ENOENT')
    return e.syscall === 'open'
      ? new AppError('MODULE_NOT_LOADED', 'the snapkeep kernel module is not loaded: run snapkeep-helper install (or check)', d)
      : new AppError('NOT_FOUND', `${what}: no such snapshot or tracked device`, d);
  return new AppError(CODES[e.code] ?? 'INTERNAL', `${what}: ${e.message}`, d);
}
