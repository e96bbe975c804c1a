// What the app says about an append-only repository's public key
// fingerprint (docs/append-only.md, "Rotating the key pair"): shown where
// the user decides (the repository dialog's result, the repository's row)
// with what to compare it with; and a refusal for a new key, which the
// service marks with reason public-key-changed, turned into the two
// fingerprints and what to do.
import type { ErrorInfo } from '@common/contract';

import { errorContext } from '@/errors/words';

/** Beside the fingerprint wherever it is shown. */
export const PUBLIC_KEY_COMPARE =
  'Compare it with the fingerprint the owner\'s "snapkeep info" or "snapkeep key rotate" printed. ' +
  'If the digits differ, this computer would seal its backups to someone else\'s key: remove the repository and ask the owner.';

export interface KeyChange {
  /** The fingerprint this computer pinned when the repository was added. */
  pinned: string;
  /** The one the repository has now. */
  found: string;
}

const FINGERPRINT = /^[0-9a-f]{32}$/;

/** The fingerprints of a refusal for a new public key; undefined for any other error. */
export function keyChangeOf(e: ErrorInfo | undefined): KeyChange | undefined {
  if (e?.code !== 'REPO_CONFIG_CHANGED' || errorContext(e).reason !== 'public-key-changed') return undefined;
  const { pinned, found } = e.details ?? {};
  if (typeof pinned === 'string' && typeof found === 'string' && FINGERPRINT.test(pinned) && FINGERPRINT.test(found)) return { pinned, found };
  // A refusal recorded before the service said the reason: the engine's message names both.
  const m = /fingerprint ([0-9a-f]{32}), pinned ([0-9a-f]{32})/.exec(e.message);
  return m?.[1] !== undefined && m[2] !== undefined ? { pinned: m[2], found: m[1] } : undefined;
}

/** A row's line for a refusal for a new key: both fingerprints and what to do. */
export function keyChangeLine(k: KeyChange): string {
  return (
    `New key pair of the repository: its public key is now ${k.found}, this computer pinned ${k.pinned}. ` +
    'Compare the new one with the fingerprint the owner\'s "snapkeep key rotate" printed; if they match, remove the repository and add it again with the backup passphrase.'
  );
}
