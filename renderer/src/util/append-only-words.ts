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
