// The one place that turns error codes into words a user understands. Every
// error a user can meet arrives as an AppError with a code from the contract
// (electron/common/contract/errors.ts); stores keep or rethrow it untouched,
// and the views, the toasts and the desktop notifications (Electron main
// imports this file too, so it stays free of Vue and of the DOM) show what
// `describeError` makes of it. The lower layer's message and details stay
// available as "details" for those who want them.
import type { ErrorCode, ErrorInfo } from '../../../electron/common/contract/errors';

export interface ErrorWords {
  /** Short headline: what went wrong. */
  title: string;
  /** One or two sentences: why, in the user's terms. */
  message: string;
  /** What the user can do about it. */
  hint?: string;
}

export const ERROR_WORDS: Record<ErrorCode, ErrorWords> = {
  INVALID_ARGUMENT: {
    title: 'Some values were not accepted',
    message: 'Snapkeep refused one of the values given.',
    hint: 'Check the fields and try again; the details name the value.',
  },
  NOT_FOUND: {
    title: 'Not found',
    message: 'What you asked for no longer exists; it may have been deleted in the meantime.',
    hint: 'Reload the page to see the current state.',
  },
  PERMISSION_DENIED: {
    title: 'Permission denied',
    message: 'Snapkeep is not allowed to do this.',
    hint: 'Add your user to the "snapkeep" group (then log out and in again), or check the permissions of the folder.',
  },
  MODULE_NOT_LOADED: {
    title: 'The kernel module is not loaded',
    message: 'Backing up a disk while it is in use needs the Snapkeep kernel module, and it is not loaded.',
    hint: 'Open Setup to install it. Image files can be backed up without it.',
  },
  MODULE_ABI_MISMATCH: {
    title: 'The kernel module does not match this Snapkeep',
    message: 'The loaded kernel module belongs to another version of Snapkeep.',
    hint: 'Reinstall the module from Setup, or reboot after an update.',
  },
  HELPER_UNAVAILABLE: {
    title: 'The Snapkeep service is not running',
    message: 'Snapkeep could not reach its background service.',
    hint: 'Start it with "sudo systemctl start snapkeep-helper", or reinstall it from Setup.',
  },
  DEVICE_BUSY: {
    title: 'The device is busy',
    message: 'Another snapshot or program is using this device right now.',
    hint: 'Wait for the other backup to finish, or close the program using it.',
  },
  DEVICE_NOT_FOUND: {
    title: 'The device was not found',
    message: 'The disk or partition is not there any more; it may have been unplugged or renamed.',
    hint: 'Plug it in and reload the device list.',
  },
  TARGET_MOUNTED: {
    title: 'The target is in use',
    message: 'A file system on the restore target is mounted; overwriting it would destroy files that are open.',
    hint: 'Unmount it first, or choose another target.',
  },
  TARGET_TOO_SMALL: {
    title: 'The target is too small',
    message: 'The restore target is smaller than the disk or partition in the restore point.',
    hint: 'Choose a target at least as large as the source.',
  },
  SOURCE_CHANGED: {
    title: 'The source changed size',
    message: 'The disk or file is not the size this job recorded before.',
    hint: 'If the disk was replaced or resized on purpose, edit the job so the next backup starts afresh.',
  },
  REPO_NOT_FOUND: {
    title: 'The backup repository was not found',
    message: 'Its folder is missing or is not a Snapkeep repository. An external disk holding it may be unplugged.',
    hint: 'Plug in the disk that holds it, or check the path.',
  },
  REPO_EXISTS: {
    title: 'A repository already exists there',
    message: 'The folder already holds a Snapkeep repository.',
    hint: 'Add it as an existing repository, or choose an empty folder.',
  },
  REPO_LOCKED: {
    title: 'The repository is busy',
    message: 'Another backup, restore or check is using this repository right now.',
    hint: 'Wait for it to finish and try again.',
  },
  REPO_CORRUPT: {
    title: 'The repository is damaged',
    message: 'Some of its data is missing or failed its checksum.',
    hint: 'Run "Verify" on the Restore points page to see which restore points are affected.',
  },
  REPO_UNSAFE: {
    title: 'The repository holds something it never should',
    message: 'A symbolic link or a special file was found inside the repository folder. Snapkeep did not follow it and changed nothing outside the repository.',
    hint: 'Someone with access to the backup disk or share may have tampered with it. The details name the path; remove it, then run "Verify".',
  },
  REPO_CONFIG_CHANGED: {
    title: 'The repository was changed',
    message: "Its settings file no longer matches the repository this computer knows (for example, an encrypted repository now claims to be unencrypted). Snapkeep refuses to use it.",
    hint: 'Someone with access to the backup disk or share may have replaced it. Restore the original config file, or add the repository again if it really was re-created.',
  },
  WRONG_PASSPHRASE: {
    title: 'Wrong passphrase',
    message: 'This passphrase does not unlock the repository.',
    hint: 'Check Caps Lock and the keyboard layout, and try again.',
  },
  PASSPHRASE_REQUIRED: {
    title: 'Passphrase needed',
    message: 'This repository is encrypted and locked.',
    hint: 'Unlock it with its passphrase first.',
  },
  DISK_FULL: {
    title: 'The destination is full',
    message: 'There is no space left where the data is being written.',
    hint: 'Free some space, remove old restore points, or choose another destination.',
  },
  READ_ONLY: {
    title: 'The destination is read-only',
    message: 'Snapkeep cannot write there.',
    hint: 'Make it writable, or choose another destination.',
  },
  IO_ERROR: {
    title: 'Read or write error',
    message: 'A disk reported an input/output error.',
    hint: 'Check the disk and its cable; the details name the device.',
  },
  SNAPSHOT_OVERFLOW: {
    title: 'The snapshot ran out of space',
    message: 'So much was written to the disk during the backup that the snapshot storage could not hold it. The disk itself is unharmed.',
    hint: 'Give the job more snapshot storage (Jobs, Edit, Snapshot storage) and run it again.',
  },
  SCRIPT_FAILED: {
    title: 'A job script failed',
    message: "The job's script before or after the backup ended with an error, so the backup did not run as planned.",
    hint: 'The details show the end of its output; fix the script or remove it from the job (Jobs, Edit).',
  },
  CANCELLED: {
    title: 'Cancelled',
    message: 'The operation was cancelled.',
  },
  CONFLICT: {
    title: 'Already in progress',
    message: 'This is already running, or something that is running is in the way.',
    hint: 'Wait for it to finish and try again.',
  },
  INTERNAL: {
    title: 'Something went wrong inside Snapkeep',
    message: 'An unexpected error happened.',
    hint: 'The details and the Logs page say more; please include them when reporting the problem.',
  },
};

const CODES = new Set<string>(Object.keys(ERROR_WORDS));

/** Anything thrown, as the contract's error shape (unknown failures are INTERNAL). */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' && CODES.has(e.code)) {
    const message = 'message' in e && typeof e.message === 'string' ? e.message : '';
    const details = 'details' in e && typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
    return details ? { code: e.code as ErrorCode, message, details } : { code: e.code as ErrorCode, message };
  }
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

export interface DescribedError extends ErrorWords {
  code: ErrorCode;
  /** The lower layer's own message: paths, ids, errno. */
  technical: string;
  details?: Record<string, unknown>;
}

/** Thrown by the renderer's connection code; its message is already in the user's words. */
export const CONNECTION_ERROR = 'ConnectionError';

export function describeError(e: unknown): DescribedError {
  const info = toErrorInfo(e);
  if (e instanceof Error && e.name === CONNECTION_ERROR) {
    return {
      code: 'HELPER_UNAVAILABLE',
      title: 'No connection to Snapkeep',
      message: e.message,
      hint: 'In web mode, check that "snapkeep serve" is still running and open the link it printed.',
      technical: e.message,
    };
  }
  return { code: info.code, ...ERROR_WORDS[info.code], technical: info.message, ...(info.details && { details: info.details }) };
}
