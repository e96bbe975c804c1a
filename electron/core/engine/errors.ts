// Turns what lower layers throw (native engine errors, Node fs errors) into
// AppErrors with the ids and paths in details.
import { AppError, ErrorCode } from '../../common/contract';
import { isNativeEngineError } from '../../../native/engine';

const ERRNO_CODES: Record<string, ErrorCode> = {
  ENOSPC: 'DISK_FULL',
  EDQUOT: 'DISK_FULL',
  EROFS: 'READ_ONLY',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  ENOENT: 'NOT_FOUND',
  EBUSY: 'DEVICE_BUSY',
};

export function toAppError(e: unknown, context?: string): AppError {
  if (e instanceof AppError) return e;
  if (isNativeEngineError(e)) {
    const parsed = ErrorCode.safeParse(e.code);
    const details: Record<string, unknown> = {};
    for (const k of ['errnoName', 'syscall', 'path', 'pack', 'chunk'] as const) if (e[k] !== undefined) details[k] = e[k];
    if (parsed.success) return new AppError(parsed.data, context ? `${context}: ${e.message}` : e.message, details);
    const code = ERRNO_CODES[e.code] ?? 'IO_ERROR';
    return new AppError(code, context ? `${context}: ${e.message}` : e.message, { ...details, errnoName: e.code });
  }
  if (e instanceof Error) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno && /^E[A-Z]+$/.test(errno)) {
      const p = (e as NodeJS.ErrnoException).path;
      return new AppError(ERRNO_CODES[errno] ?? 'IO_ERROR', context ? `${context}: ${e.message}` : e.message, {
        errnoName: errno,
        ...(p !== undefined && { path: p }),
      });
    }
    return new AppError('INTERNAL', context ? `${context}: ${e.message}` : e.message);
  }
  return new AppError('INTERNAL', String(e));
}

export function corrupt(message: string, details?: Record<string, unknown>): AppError {
  return new AppError('REPO_CORRUPT', message, details);
}
