// What a computer remembers about a repository it uses, so that a config
// swapped on the storage side is refused (security review #3): its id, its
// encryption (the AEAD), chunk-id algorithm and key derivation algorithm,
// the lowest format version seen,
// whether its config carried a MAC, and a fingerprint of its id key. The
// registry stores the pin when a repository is added or created and passes
// it to every open; any difference is REPO_CONFIG_CHANGED, checked before
// the passphrase is derived (so a forged config costs no Argon2id) except
// the key fingerprint, which needs the keys.
//
// Format 3 (append-only) adds a fingerprint of the repository's public key
// (a swapped one would make this computer seal every new backup's key to
// someone else: refused before a single session key is sealed) and the role
// this computer last opened it with (owner or client), which picks the key
// object to try first. A repository pinned in format 1 or 2 that claims
// format 3 is refused: format 3 is chosen only when a repository is made.
import { createHash } from 'node:crypto';

import { z } from 'zod';

import { CHUNK_ID_ALGORITHMS, ENCRYPTIONS, type RepoConfig, configAlgorithms, configChanged, isFormat3 } from './config';
import { APPEND_ONLY_VERSION } from './format';
import type { RepoKeys } from './keys';

export const RepoPin = z.object({
  /** The config's id. */
  id: z.string().regex(/^[0-9a-f]{16}$/).optional(),
  encryption: z.enum(ENCRYPTIONS),
  /**
   * The stand-in pin of a registry entry from before pins existed: it knows
   * only whether the repository was encrypted, not with which AEAD.
   */
  encryptedOnly: z.boolean().optional(),
  /** The chunk-id algorithm (pins from before it was pinned lack it). */
  chunkId: z.enum(CHUNK_ID_ALGORITHMS).optional(),
  kdf: z.literal('argon2id13').optional(),
  /** The lowest format version this repository may claim: versions never go down. */
  minVersion: z.number().int().positive().optional(),
  /** The config carried a MAC: it may not lose it. */
  mac: z.boolean().optional(),
  /** First 16 bytes of SHA-256("snapkeep-pin" || id key), hex: the repository's keys did not change. */
  keyCheck: z.string().regex(/^[0-9a-f]{32}$/).optional(),
  /** Format 3: first 16 bytes of SHA-256("snapkeep-pin-pk" || public key), hex. */
  publicKey: z.string().regex(/^[0-9a-f]{32}$/).optional(),
  /** Format 3: the key object this computer last opened the repository with (tried first next time). */
  role: z.enum(['owner', 'client']).optional(),
});
export type RepoPin = z.infer<typeof RepoPin>;

function keyCheck(keys: RepoKeys): string {
  return createHash('sha256').update('snapkeep-pin').update(keys.idKey).digest().subarray(0, 16).toString('hex');
}

/** The fingerprint of a format-3 public key that pins keep. */
export function publicKeyCheck(publicKey: Buffer): string {
  return createHash('sha256').update('snapkeep-pin-pk').update(publicKey).digest().subarray(0, 16).toString('hex');
}

/** The key derivation the config itself names (formats 1-2; format 3 keeps it in its key objects). */
function configKdf(config: RepoConfig) {
  return isFormat3(config) ? undefined : config.kdf?.algorithm;
}

/** The pin of a config; with keys (after unlocking) it includes the key fingerprint and the role. */
export function pinOf(config: RepoConfig, keys?: RepoKeys): RepoPin {
  const kdf = configKdf(config);
  return {
    id: config.id,
    encryption: config.encryption,
    chunkId: configAlgorithms(config).chunkId,
    ...(kdf !== undefined && { kdf }),
    minVersion: config.version,
    mac: config.mac !== undefined,
    ...(keys && { keyCheck: keyCheck(keys) }),
    // From the config; after unlocking, verifyConfig has checked it against the key object's.
    ...(isFormat3(config) && { publicKey: publicKeyCheck(Buffer.from(config.publicKey, 'base64')) }),
    ...(keys && keys.role !== 'legacy' && { role: keys.role }),
  };
}

/** Refuses a config that differs from what was pinned; fields the pin lacks are not checked. */
export function checkPin(config: RepoConfig, pin: RepoPin | undefined, repo: string): void {
  if (!pin) return;
  const differs = pin.encryptedOnly ? (pin.encryption === 'none') !== (config.encryption === 'none') : pin.encryption !== config.encryption;
  if (differs) {
    const why =
      pin.encryption === 'none'
        ? 'it was not encrypted when this computer added it, and now claims to be'
        : config.encryption === 'none'
          ? 'it was encrypted when this computer added it, and now claims to be unencrypted (was its config replaced?)'
          : `its encryption changed from ${pin.encryption} to ${config.encryption} (was its config replaced?)`;
    throw configChanged(repo, why, { pinned: pin.encryption, found: config.encryption });
  }
  const chunkId = configAlgorithms(config).chunkId;
  if (pin.chunkId !== undefined && pin.chunkId !== chunkId)
    throw configChanged(repo, `its chunk ids changed from ${pin.chunkId} to ${chunkId} (was its config replaced?)`, { pinned: pin.chunkId, found: chunkId });
  if (pin.id !== undefined && pin.id !== config.id)
    throw configChanged(repo, `its id is ${config.id}, but this computer knows it as ${pin.id} (another repository at the same path?)`, {
      pinned: pin.id,
      found: config.id,
    });
  if (pin.minVersion !== undefined && pin.minVersion < APPEND_ONLY_VERSION && isFormat3(config))
    throw configChanged(repo, `it was format ${pin.minVersion} when this computer added it, and now claims format ${config.version} (append-only), which only a new repository can have`, {
      pinned: pin.minVersion,
      found: config.version,
    });
  if (pin.publicKey !== undefined && isFormat3(config)) {
    const found = publicKeyCheck(Buffer.from(config.publicKey, 'base64'));
    if (found !== pin.publicKey)
      throw configChanged(repo, `its public key is not the one this computer knows (fingerprint ${found}, pinned ${pin.publicKey}): backups would be sealed to someone else's key`, {
        pinned: pin.publicKey,
        found,
      });
  }
  const kdf = configKdf(config);
  if (pin.kdf !== undefined && pin.kdf !== kdf) throw configChanged(repo, `its key derivation changed from ${pin.kdf} to ${kdf ?? 'none'}`);
  if (pin.minVersion !== undefined && config.version < pin.minVersion)
    throw configChanged(repo, `it claims format ${config.version}, older than the ${pin.minVersion} this computer saw`, {
      pinned: pin.minVersion,
      found: config.version,
    });
  if (pin.mac && config.mac === undefined) throw configChanged(repo, 'it carried a MAC when this computer last opened it, and now has none');
}

/** After unlocking: the keys are the ones pinned. */
export function checkPinnedKeys(keys: RepoKeys, pin: RepoPin | undefined, repo: string): void {
  if (pin?.keyCheck !== undefined && pin.keyCheck !== keyCheck(keys))
    throw configChanged(repo, 'its keys are not the ones this computer knows (was its config replaced?)');
  if (pin?.publicKey !== undefined && keys.publicKey && pin.publicKey !== publicKeyCheck(keys.publicKey))
    throw configChanged(repo, `the public key in keys/${keys.role} is not the one this computer knows (were its key objects replaced?)`);
}

/**
 * The pin to store after a successful open: what was pinned, tightened by
 * what was seen (a higher version, a MAC, the key fingerprints); the role is
 * the one seen last.
 */
export function mergePin(old: RepoPin | undefined, seen: RepoPin): RepoPin {
  if (!old) return seen;
  const minVersion = Math.max(old.minVersion ?? 0, seen.minVersion ?? 0);
  const keyCheck = old.keyCheck ?? seen.keyCheck;
  const publicKey = old.publicKey ?? seen.publicKey;
  const role = seen.role ?? old.role;
  return {
    ...seen,
    ...(minVersion > 0 && { minVersion }),
    mac: Boolean(old.mac) || Boolean(seen.mac),
    ...(keyCheck !== undefined && { keyCheck }),
    ...(publicKey !== undefined && { publicKey }),
    ...(role !== undefined && { role }),
  };
}
