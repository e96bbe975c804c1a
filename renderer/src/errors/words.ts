// The one place that turns error codes into words a user understands. Every
// error a user can meet arrives as an AppError with a code from the contract
// (electron/common/contract/errors.ts); stores keep or rethrow it untouched,
// and the views, the toasts and the desktop notifications (Electron main
// imports this file too, so it stays free of Vue and of the DOM) show what
// `describeError` makes of it. One code can have several causes a user must
// tell apart (a mistyped file is not an unplugged disk; a missing nbd module
// is not a busy device), so the words come from the code plus its context:
// the reason the lower layer gave (details.reason), what the error is about
// (a file, a device, a folder ...: from the caller or from the details), and
// as a last resort the lower layer's message. Words follow the GNOME HIG:
// what happened (title), why (message), what to do (hint). The lower layer's
// message and details stay available as "details".
import { type ErrorCode, type ErrorInfo, ErrorReason } from '../../../electron/common/contract/errors';
import { type RunProblem, type RunStep, warningStep } from '../../../electron/common/contract/results';

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
  REMOTE_UNAVAILABLE: {
    title: 'The backup server cannot be reached',
    message: 'Snapkeep tried several times to reach the server that holds this repository and gave up.',
    hint: 'Check the network and that the server is running, then try again. Nothing the repository names was lost; the next run continues.',
  },
  REMOTE_AUTH_FAILED: {
    title: 'The server refused the login',
    message: 'The user name, password or key for this repository was not accepted by the server.',
    hint: 'Check the user name and the password or key saved for this repository.',
  },
  REMOTE_HOST_KEY_CHANGED: {
    title: "The server's identity changed",
    message: 'The server answered with a different host key than the one this computer saw before. Snapkeep refused to connect: another machine may be posing as your server.',
    hint: 'If the server was reinstalled or its keys renewed on purpose: Jobs → the repository → Server login shows the new key beside the one kept; trust it there once it matches what the server itself shows.',
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
  OWNER_KEY_REQUIRED: {
    title: "Needs the repository owner's key",
    message: 'This computer can only add backups to this repository: it cannot read, change or delete what is stored there, so that malware on it cannot either.',
    hint: "Restoring, checking the data and removing old restore points need the owner passphrase and the owner's server login, typed for each one: Snapkeep asks for them and does not keep them.",
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

/** What an error can be about; the caller says so when it knows better than the details. */
export const ERROR_SUBJECTS = ['file', 'device', 'folder', 'repository', 'point'] as const;
export type ErrorSubject = (typeof ERROR_SUBJECTS)[number];

export interface ErrorContext {
  subject?: ErrorSubject;
  reason?: ErrorReason;
}

interface Variant {
  code: ErrorCode;
  /** Matches when the error's reason is this one (outranks the subject). */
  reason?: ErrorReason;
  /** Matches when the error is about this kind of thing. */
  subject?: ErrorSubject;
  words: ErrorWords;
}

/** The causes one code covers, each with its own words; the first match wins. */
export const ERROR_VARIANTS: readonly Variant[] = [
  {
    code: 'DEVICE_BUSY',
    reason: 'nbd-unavailable',
    words: {
      title: 'The nbd kernel module is not available',
      message: 'Opening a restore point as a disk through the kernel needs the nbd module, and it could not be loaded on this computer.',
      hint: 'Snapkeep reads ext2/3/4 and FAT restore points without it; for other file systems, run "sudo modprobe nbd" (Debian package nbd-client) and open the point again.',
    },
  },
  {
    code: 'DEVICE_BUSY',
    reason: 'nbd-all-busy',
    words: {
      title: 'All network block devices are in use',
      message: 'Every /dev/nbd device of this computer already serves something, so the restore point cannot be opened as a disk.',
      hint: 'Close restore points you no longer browse (File restore, Close), then try again.',
    },
  },
  {
    code: 'DEVICE_BUSY',
    reason: 'holds-repository',
    words: {
      title: 'The target holds the repository',
      message: 'The disk chosen as restore target holds the repository the restore reads from; writing to it would destroy the backup while it is read.',
      hint: 'Choose another target disk.',
    },
  },
  {
    code: 'DEVICE_BUSY',
    reason: 'being-backed-up',
    words: {
      title: 'The target is being backed up',
      message: 'A backup job is reading this disk right now.',
      hint: 'Wait for the backup to finish, or choose another target.',
    },
  },
  {
    code: 'DEVICE_NOT_FOUND',
    reason: 'not-block-device',
    words: {
      title: 'This is not a disk',
      message: 'The path exists, but it is neither a disk nor a partition.',
      hint: 'Choose a disk from the list, or add the path as an image file.',
    },
  },
  {
    code: 'DEVICE_NOT_FOUND',
    subject: 'file',
    words: {
      title: 'The file was not found',
      message: 'There is no file at this path.',
      hint: 'Check the path for typing mistakes; if the file lives on a removable disk, make sure it is mounted.',
    },
  },
  {
    code: 'NOT_FOUND',
    reason: 'parent-missing',
    words: {
      title: 'The folder does not exist',
      message: 'The folder where this should be written is not there.',
      hint: 'Create the folder first, or choose another place.',
    },
  },
  {
    code: 'NOT_FOUND',
    subject: 'folder',
    words: {
      title: 'The folder does not exist',
      message: 'There is no folder at this path.',
      hint: 'Check the path, or create the folder first.',
    },
  },
  {
    code: 'NOT_FOUND',
    subject: 'file',
    words: {
      title: 'The file was not found',
      message: 'There is no file at this path.',
      hint: 'Check the path for typing mistakes.',
    },
  },
  {
    code: 'NOT_FOUND',
    subject: 'point',
    words: {
      title: 'The restore point no longer exists',
      message: 'It may have been removed by a clean-up in the meantime.',
      hint: 'Reload the restore points and choose another one.',
    },
  },
  {
    code: 'NOT_FOUND',
    subject: 'device',
    words: {
      title: 'The disk was not found',
      message: 'The disk or partition is not there any more; it may have been unplugged or renamed.',
      hint: 'Plug it in and reload the device list.',
    },
  },
  {
    code: 'REPO_NOT_FOUND',
    reason: 'not-a-repository',
    words: {
      title: 'This folder is not a Snapkeep repository',
      message: 'The folder exists, but it holds no Snapkeep repository.',
      hint: 'Choose the folder that holds the repository, or create a new repository there.',
    },
  },
  {
    code: 'REPO_NOT_FOUND',
    reason: 'no-such-bucket',
    words: {
      title: 'The bucket does not exist',
      message: 'The S3 server has no bucket of this name, and Snapkeep does not create one.',
      hint: 'Create the bucket on the server first (or ask its administrator), or check its name.',
    },
  },
  {
    code: 'PERMISSION_DENIED',
    subject: 'file',
    words: {
      title: 'Permission denied',
      message: 'The file or folder exists, but its permissions do not allow this.',
      hint: 'Choose a place you may write to, or change the permissions of the folder.',
    },
  },
  {
    code: 'PERMISSION_DENIED',
    subject: 'device',
    words: {
      title: 'Permission denied',
      message: 'Reading or writing disks needs the Snapkeep service, which runs as administrator.',
      hint: 'Install the service from Setup, and add your user to the "snapkeep" group (then log out and in again).',
    },
  },
  {
    code: 'IO_ERROR',
    subject: 'file',
    words: {
      title: 'Read or write error',
      message: 'The disk holding this file reported an input/output error.',
      hint: 'Check that disk and its cable; the details name the file.',
    },
  },
  {
    code: 'INVALID_ARGUMENT',
    reason: 'fs-unsupported',
    words: {
      title: 'This file system cannot be opened here',
      message: 'None of the ways Snapkeep reads files works for this file system on this computer.',
      hint: 'Restore the whole partition to an image file or a disk instead; the details say which ways were tried.',
    },
  },
  {
    code: 'REPO_LOCKED',
    reason: 'lock-lost',
    words: {
      title: "The repository's lock could not be kept",
      message: 'While this ran, the lock that keeps other programs out of the repository was lost (the computer slept for long, or another computer removed it), so Snapkeep stopped rather than risk the backup.',
      hint: 'Run it again; nothing of the old restore points was changed.',
    },
  },
  {
    code: 'REPO_LOCKED',
    reason: 'lock-unreadable',
    words: {
      title: 'A lock file in the repository cannot be read',
      message: 'Snapkeep treats the repository as in use, because it cannot tell who holds this lock.',
      hint: 'If nothing else uses the repository, remove the lock file named in the details, then try again.',
    },
  },
  {
    code: 'DISK_FULL',
    reason: 'no-space-estimate',
    words: {
      title: 'The backup will not fit',
      message: 'The destination has less free space than this backup is expected to add.',
      hint: 'Free some space (Restore points, Clean up now), or choose another destination.',
    },
  },
  {
    code: 'CONFLICT',
    reason: 'checkpoint-held',
    words: {
      title: 'A checkpoint holds these disks already',
      message: 'A disk is in one checkpoint at a time, and this one is held by another (or the checkpoint cannot be taken now: the details say why).',
      hint: 'End or remove the other checkpoint on the Checkpoints page, then take the new one.',
    },
  },
  {
    code: 'CONFLICT',
    reason: 'checkpoint-not-usable',
    words: {
      title: 'This checkpoint cannot be rolled back',
      message: 'Only a checkpoint that is active and held since this boot started can return the computer exactly to its instant.',
      hint: 'The Checkpoints page says what happened to it; remove it to free its store.',
    },
  },
  {
    code: 'CONFLICT',
    reason: 'rollback-unfinished',
    words: {
      title: 'This rollback is not finished',
      message: 'A rollback to this checkpoint was cut short. Its store holds the only copy of what the disks held at the checkpoint, so it cannot be ended now: the disks would stay half rolled back.',
      hint: 'Restart the computer: the next boot finishes the rollback. From a rescue shell, "snapkeep-boot rollback <id>" finishes it too.',
    },
  },
  {
    code: 'INVALID_ARGUMENT',
    reason: 'no-boot-menu',
    words: {
      title: 'The boot menu cannot roll back here',
      message: 'Rolling back at the next boot needs GRUB with Snapkeep\'s boot menu entry, and this computer has not got it (the details say why).',
      hint: 'Reinstall the helper if GRUB is used; otherwise roll back from a rescue shell with "snapkeep-boot rollback <id>".',
    },
  },
  {
    code: 'DISK_FULL',
    reason: 'store-too-big',
    words: {
      title: 'The store would leave too little room',
      message: 'A checkpoint store of this size would leave the file system under 2 GiB free, which the upgrade itself needs.',
      hint: 'Choose a smaller store, or free some space first.',
    },
  },
  {
    code: 'CONFLICT',
    reason: 'failed-boots-unavailable',
    words: {
      title: 'The boot menu cannot count failed boots here',
      message: 'Rolling back by itself after failed boots needs GRUB to keep a count at every boot, and to start only this system. The details say what stands in the way.',
      hint: 'Save the settings with "Roll back by itself" off: checkpoints are still taken, and you can roll back from the boot menu yourself.',
    },
  },
  {
    code: 'IO_ERROR',
    reason: 'already-exists',
    words: {
      title: 'An upload was cut short and cannot be replaced',
      message: 'This computer may only add to the repository, never replace what is there, and an upload cut short left an incomplete file under a name it needed (the details name it).',
      hint: 'Run the backup again: it uses new names. The repository owner removes the incomplete file when pruning.',
    },
  },
  {
    code: 'REPO_CONFIG_CHANGED',
    reason: 'public-key-changed',
    words: {
      title: 'The repository has a new key pair',
      message:
        'Its public key is not the one this computer pinned when the repository was added: its owner gave it a new key pair ("snapkeep key rotate"), or someone replaced its config. ' +
        'Snapkeep makes no backup to it until you decide; nothing stored is lost.',
      hint:
        'Compare the fingerprint it has now (in the details, "found") with the one the owner\'s "snapkeep key rotate" or "snapkeep info" printed. ' +
        'If they match, remove the repository from the list and add it again with the backup passphrase. If not, do not: backups would be sealed to someone else\'s key.',
    },
  },
];

const CODES = new Set<string>(Object.keys(ERROR_WORDS));
// Every reason the contract knows (a reason without words falls back to the code's).
const REASONS = new Set<string>(ErrorReason.options);

/** Anything thrown, as the contract's error shape (unknown failures are INTERNAL). */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' && CODES.has(e.code)) {
    const message = 'message' in e && typeof e.message === 'string' ? e.message : '';
    const details = 'details' in e && typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
    return details ? { code: e.code as ErrorCode, message, details } : { code: e.code as ErrorCode, message };
  }
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** Lower layers that predate details.reason: the cause as their messages say it. */
const MESSAGE_REASONS: ReadonlyArray<[RegExp, ErrorReason]> = [
  [/modprobe nbd failed|nbd kernel module is not available/i, 'nbd-unavailable'],
  [/every \/dev\/nbd device is in use/i, 'nbd-all-busy'],
  [/\bthe folder .* does not exist|\bdirectory of .* does not exist|is not an existing directory/i, 'parent-missing'],
  [/is not a block device/i, 'not-block-device'],
  [/is not a Snapkeep repository|no Snapkeep repository at/i, 'not-a-repository'],
  [/holds the repository/i, 'holds-repository'],
  [/is being backed up right now/i, 'being-backed-up'],
  [/not reachable|disappeared/i, 'unreachable'],
  [/its public key is not the one this computer knows/i, 'public-key-changed'],
];

function subjectOfPath(p: unknown): ErrorSubject | undefined {
  if (typeof p !== 'string' || !p.startsWith('/')) return undefined;
  return p.startsWith('/dev/') ? 'device' : 'file';
}

/** The context of an error: what the caller says, else what its details and message show. */
export function errorContext(info: ErrorInfo, given: ErrorContext = {}): ErrorContext {
  const d = info.details ?? {};
  const fromDetails = typeof d['reason'] === 'string' && REASONS.has(d['reason']) ? (d['reason'] as ErrorReason) : undefined;
  const reason = given.reason ?? fromDetails ?? MESSAGE_REASONS.find(([re]) => re.test(info.message))?.[1];
  const subject =
    given.subject ??
    subjectOfPath(d['source']) ??
    subjectOfPath(d['target']) ??
    subjectOfPath(d['path']) ??
    subjectOfPath(d['device']) ??
    (typeof d['pointId'] === 'string' ? 'point' : undefined);
  return { ...(reason && { reason }), ...(subject && { subject }) };
}

/** The words for a code in a context, and which row gave them (for tests and logs). */
export function wordsFor(code: ErrorCode, ctx: ErrorContext): { words: ErrorWords; variant: string } {
  const byReason = ctx.reason && ERROR_VARIANTS.find((v) => v.code === code && v.reason === ctx.reason);
  if (byReason) return { words: byReason.words, variant: `${code}/${ctx.reason}` };
  const bySubject = ctx.subject && ERROR_VARIANTS.find((v) => v.code === code && v.reason === undefined && v.subject === ctx.subject);
  if (bySubject) return { words: bySubject.words, variant: `${code}/${ctx.subject}` };
  return { words: ERROR_WORDS[code], variant: code };
}

export interface DescribedError extends ErrorWords {
  code: ErrorCode;
  /** The lower layer's own message: paths, ids, errno. */
  technical: string;
  details?: Record<string, unknown>;
}

/** Thrown by the renderer's connection code; its message is already in the user's words. */
export const CONNECTION_ERROR = 'ConnectionError';

export function describeError(e: unknown, context?: ErrorContext): DescribedError {
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
  const { words } = wordsFor(info.code, errorContext(info, context));
  return { code: info.code, ...words, technical: info.message, ...(info.details && { details: info.details }) };
}

/** What a step that went wrong without failing the run means for the user. */
export const STEP_WORDS: Record<RunStep, ErrorWords> = {
  snapshot: {
    title: 'The snapshot had a problem',
    message: 'The restore point was written, but the snapshot reported trouble while it was read.',
    hint: 'Give the job more snapshot storage if this happens again (Jobs, Edit, Snapshot storage).',
  },
  backup: {
    title: 'Part of the backup had a problem',
    message: 'The restore point was written, but not everything went as planned.',
  },
  retention: {
    title: 'Old restore points were not removed',
    message: 'The new restore point is safe, but the clean-up of points beyond the retention did not run.',
    hint: 'It is tried again after the next run; "Clean up now" on Restore points tries at once.',
  },
  cleanup: {
    title: 'Temporary snapshot files were not removed completely',
    message: 'The restore point is safe; some of the space the snapshot used is still taken.',
    hint: 'Snapkeep removes them when the service starts next; the details name what is left.',
  },
  'pre-script': {
    title: 'The script before the backup reported a problem',
    message: 'The backup ran, but the script that prepares it ended with an error.',
    hint: 'Check the script (Jobs, Edit, Snapshot storage and scripts).',
  },
  'post-script': {
    title: 'The script after the backup failed',
    message: 'The restore point is safe, but the script run after it ended with an error.',
    hint: 'Check the script (Jobs, Edit, Snapshot storage and scripts); the details show its output.',
  },
  verify: {
    title: 'The automatic verification found a problem',
    message: 'The check after the backup did not pass.',
    hint: 'Open Restore points and run "Verify repository" to see which restore points are affected.',
  },
};

export interface DescribedProblem {
  /** What did not work (the step). */
  title: string;
  /** Why, in words: the cause from the error's words, or the step's own words. */
  message: string;
  hint?: string;
  /** The lower layer's text, for "show details". */
  technical: string;
}

/** A problem of a run that succeeded with warnings, in words: the step, then the cause. */
export function describeProblem(p: RunProblem | string): DescribedProblem {
  if (typeof p === 'string') {
    const step = warningStep(p);
    if (!step) return { title: 'Something did not go as planned', message: upperFirst(p.endsWith('.') ? p : `${p}.`), technical: p };
    const w = STEP_WORDS[step];
    return { title: w.title, message: w.message, ...(w.hint && { hint: w.hint }), technical: p };
  }
  const step = STEP_WORDS[p.step];
  const cause = describeError(p.error);
  return { title: step.title, message: `${cause.title}: ${lowerFirst(cause.message)}`, ...((cause.hint ?? step.hint) && { hint: cause.hint ?? step.hint }), technical: p.error.message };
}

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function lowerFirst(s: string): string {
  return /^[A-Z][a-z]/.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s;
}
