// Exit codes of the snapkeep CLI (documented in docs/cli.md). Scripts branch
// on these, so they never change meaning.
import type { ErrorCode } from '../common/contract';

export const EXIT = {
  OK: 0,
  FAILURE: 1, // anything not listed below
  USAGE: 2, // bad command line
  NOT_FOUND: 3, // repository, restore point, device or job not found
  WRONG_PASSPHRASE: 4,
  REPO_LOCKED: 5,
  REPO_CORRUPT: 6, // verify found damage, or a restore hit a bad chunk
  TARGET_REFUSED: 7, // restore target mounted or too small
  NO_SPACE: 8, // destination full or read-only
  MODULE: 9, // kernel module missing or wrong ABI
  REPO_TAMPERED: 10, // a link or special file inside the repository, or its config changed
  CANCELLED: 130, // interrupted (Ctrl-C)
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_ARGUMENT':
      return EXIT.USAGE;
    case 'NOT_FOUND':
    case 'REPO_NOT_FOUND':
    case 'DEVICE_NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'WRONG_PASSPHRASE':
    case 'PASSPHRASE_REQUIRED':
    case 'OWNER_KEY_REQUIRED':
    case 'REMOTE_AUTH_FAILED':
      return EXIT.WRONG_PASSPHRASE;
    case 'REPO_LOCKED':
      return EXIT.REPO_LOCKED;
    case 'REPO_CORRUPT':
      return EXIT.REPO_CORRUPT;
    case 'REPO_UNSAFE':
    case 'REPO_CONFIG_CHANGED':
    case 'REMOTE_HOST_KEY_CHANGED':
      return EXIT.REPO_TAMPERED;
    case 'TARGET_MOUNTED':
    case 'TARGET_TOO_SMALL':
      return EXIT.TARGET_REFUSED;
    case 'DISK_FULL':
    case 'READ_ONLY':
      return EXIT.NO_SPACE;
    case 'MODULE_NOT_LOADED':
    case 'MODULE_ABI_MISMATCH':
      return EXIT.MODULE;
    case 'CANCELLED':
      return EXIT.CANCELLED;
    default:
      return EXIT.FAILURE;
  }
}
