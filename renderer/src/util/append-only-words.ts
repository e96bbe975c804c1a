// What the app says about append-only repositories, in one place: the
// choice's explanation is the design's text (docs/append-only-design.md §5
// step 10), and what choosing it costs is said before it is made.

export const APPEND_ONLY_TEXT =
  'This computer can add backups but cannot read, change or delete the ones already stored, even if malware takes it over. ' +
  "Restoring and cleaning up need the owner passphrase and the server's owner login, which this computer does not keep. " +
  'It does not stop malware from spoiling new backups, and whoever takes this computer can see when backups were made and how big they are.';

export const APPEND_ONLY_COST =
  'Chosen now for good: a repository does not become append-only later, nor stop being it. ' +
  'Every restore, check of the data and removal of old restore points from this computer asks for the owner passphrase and login again. ' +
  'Without the owner passphrase nobody can restore from this repository, Snapkeep included: keep it somewhere safe, away from this computer.';

/** The repository row's words for a client's repository. */
export const APPEND_ONLY_ROW = 'append-only: adds backups only';

/**
 * What a new passphrase changes, said before it is changed
 * (docs/append-only.md, "Changing a passphrase"). The owner's is not kept
 * here; the backup one is, and the service puts the new one in its place.
 */
export const PASSPHRASE_CHANGE = {
  owner:
    'The old owner passphrase stops opening this repository, on every computer. Restore points stay as they are and open with the new one. ' +
    'Keep the new one somewhere safe, away from the computers that back up here: without it nobody can restore from this repository.',
  client:
    'The old backup passphrase stops opening this repository. ' +
    'Computers that back up here must be given the new backup passphrase; their next backup stops until then.',
  /** The backup passphrase held by this computer: replaced by the service. */
  keptHere: 'This computer keeps the new one in place of the old (remembered if the old one was), so its own backups go on.',
  lockedHere: 'This computer holds the repository locked: unlock it with the new backup passphrase to back up from here.',
  /** A repository held here as owner: the passphrase kept is the owner's. */
  lockedHereOwner: 'This computer holds the repository locked: unlock it with the new owner passphrase to use it from here.',
  /** Changing does not take back a passphrase that leaked: whoever had it may have copied the key object. */
  leaked: 'If the old passphrase leaked, changing it is not enough: see "Changing a passphrase" in the append-only guide.',
} as const;

/**
 * What rotating the key pair does, said before it is done
 * (docs/append-only.md, "Rotating the key pair").
 */
export const KEY_ROTATION = {
  what: 'Rotating makes a new key pair for this repository: new backups are sealed to its new public key.',
  kept: 'Restore points made before stay readable with the owner passphrase: the old secret key is kept beside the new one.',
  others:
    'Every other computer that backs up here stops at its next backup, until the repository is removed and added again there and the new public key fingerprint is compared and accepted. This computer follows the new key by itself.',
  when: 'Use it when the owner passphrase or the owner key may have leaked; if the owner passphrase may be known, give a new one too.',
  /** A refusal for another rotation (or a change of the keys) since the repository was opened. */
  conflict: 'The keys of the repository changed while it was being rotated (a rotation from another computer?): close this, compare the fingerprint on the repository row, and try again.',
} as const;
