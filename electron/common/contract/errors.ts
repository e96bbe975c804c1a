// Error codes that cross process edges. Every failure a user can meet has a
// code here, so the UI words it once (renderer/src/errors) and every layer
// below only picks the code. Messages carry the specifics (paths, ids).
import { z } from 'zod';

export const ErrorCode = z.enum([
  'INVALID_ARGUMENT', // a request failed validation at a process edge
  'NOT_FOUND', // job, repository, restore point, task, mount ... unknown
  'PERMISSION_DENIED', // peer not root nor in the snapkeep group; EACCES
  'MODULE_NOT_LOADED', // /dev/snapkeep missing
  'MODULE_ABI_MISMATCH', // kernel module and addon disagree on the ABI
  'HELPER_UNAVAILABLE', // the privileged helper is not running
  'DEVICE_BUSY', // device in another snapshot, or mounted restore target
  'DEVICE_NOT_FOUND',
  'TARGET_MOUNTED',
  'TARGET_TOO_SMALL',
  'SOURCE_CHANGED', // source smaller/larger than the restore point expects
  'REPO_NOT_FOUND',
  'REPO_EXISTS',
  'REPO_LOCKED', // held by another process (exclusive lock)
  'REPO_CORRUPT', // damaged pack, index or manifest; details name them
  'REPO_UNSAFE', // a symbolic link or special file inside a repository: refused, never followed
  'REPO_CONFIG_CHANGED', // the config no longer matches what this computer pinned (id, encryption, ...)
  'WRONG_PASSPHRASE',
  'PASSPHRASE_REQUIRED',
  'OWNER_KEY_REQUIRED', // an append-only client asked to read or delete what only the owner's key may
  'DISK_FULL', // ENOSPC on the destination
  'READ_ONLY', // EROFS on the destination
  'REMOTE_UNAVAILABLE', // a remote repository's server cannot be reached (after the retries)
  'REMOTE_AUTH_FAILED', // the server refused the user name, password or key
  'REMOTE_HOST_KEY_CHANGED', // the server's host key is not the one pinned: refused, never accepted silently
  'IO_ERROR', // EIO and friends
  'SNAPSHOT_OVERFLOW', // difference storage ran out during a backup
  'SCRIPT_FAILED', // a job's pre- or post-script exited non-zero
  'CANCELLED',
  'CONFLICT', // e.g. the job is already running
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/**
 * Known values of `details.reason`: the cause behind a code when one code
 * covers causes a user must tell apart (renderer/src/errors/words.ts words
 * each). Layers set it where they know; the words fall back to the message.
 */
export const ErrorReason = z.enum([
  'nbd-unavailable', // the nbd kernel module cannot be loaded
  'nbd-all-busy', // every /dev/nbdN is in use
  'parent-missing', // the folder a file should be written into does not exist
  'not-block-device', // a path that exists but is not a disk or partition
  'not-a-repository', // a folder that is not a Snapkeep repository
  'no-such-bucket', // an S3 location whose bucket does not exist (it is never created for the user)
  'unreachable', // a repository or device that is not there right now
  'holds-repository', // a restore target that holds the repository read from
  'being-backed-up', // a restore target that a running job reads
  'no-space-estimate', // a backup that will not fit (estimate before the run)
  'fs-unsupported', // a file system no reader here can open
  'lock-lost', // a run's repository lock could not be kept (suspend, removed by another machine)
  'lock-unreadable', // a lock file in the repository cannot be read (details.lock names it)
  'checkpoint-held', // a device is in another checkpoint already (end that one first)
  'checkpoint-not-usable', // a rollback of a checkpoint that is not active and held in this boot
  'rollback-unfinished', // ending a checkpoint whose rollback was cut short (the next boot finishes it)
  'no-boot-menu', // a rollback at the next boot without GRUB (or without the snippet)
  'store-too-big', // a checkpoint store that would leave the file system too little room
  'failed-boots-unavailable', // automatic rollback after failed boots asked for where the boot menu cannot count boots
  'already-exists', // an append-only save met an object of that name, which it may not replace
  'public-key-changed', // an append-only repository's public key is not the one pinned here (the owner rotated the key pair, or its config was replaced)
]);
export type ErrorReason = z.infer<typeof ErrorReason>;

/** The error shape every process edge transports. */
export const ErrorInfo = z.object({
  code: ErrorCode,
  message: z.string(),
  /** Technical details for "show details": errno name, path, ids, stack. */
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorInfo = z.infer<typeof ErrorInfo>;

/** An error thrown inside the Node processes that is meant for the user. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  toInfo(): ErrorInfo {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
