// What a computer remembers about a repository it uses, so that a config
// swapped on the storage side is refused (security review #3): its id, its
// encryption (the AEAD), chunk-id algorithm and key derivation algorithm,
// the lowest format version seen,
// whether its config carried a MAC, and a fingerprint of its id key. The
// registry stores the pin when a repository is added or created and passes
// it to every open; any difference is REPO_CONFIG_CHANGED, checked before
// the passphrase is derived (so a forged config costs no Argon2id) except
// the key fingerprint, which needs the keys.
import { createHash } from 'node:crypto';

import { z } from 'zod';

import { CHUNK_ID_ALGORITHMS, ENCRYPTIONS, type RepoConfig, configAlgorithms, configChanged } from './config';
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
});
export type RepoPin = z.infer<typeof RepoPin>;

function keyCheck(keys: RepoKeys): string {
  return createHash('sha256').update('snapkeep-pin').update(keys.idKey).digest().subarray(0, 16).toString('hex');
}

/** The pin of a config; with keys (after unlocking) it includes the key fingerprint. */
export function pinOf(config: RepoConfig, keys?: RepoKeys): RepoPin {
  return {
    id: config.id,
    encryption: config.encryption,
    chunkId: configAlgorithms(config).chunkId,
    ...(config.kdf && { kdf: config.kdf.algorithm }),
    minVersion: config.version,
    mac: config.mac !== undefined,
    ...(keys && { keyCheck: keyCheck(keys) }),
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
  if (pin.kdf !== undefined && pin.kdf !== config.kdf?.algorithm)
    throw configChanged(repo, `its key derivation changed from ${pin.kdf} to ${config.kdf?.algorithm ?? 'none'}`);
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
}

/**
 * The pin to store after a successful open: what was pinned, tightened by
 * what was seen (a higher version, a MAC, the key fingerprint).
 */
export function mergePin(old: RepoPin | undefined, seen: RepoPin): RepoPin {
  if (!old) return seen;
  const minVersion = Math.max(old.minVersion ?? 0, seen.minVersion ?? 0);
  const keyCheck = old.keyCheck ?? seen.keyCheck;
  return {
    ...seen,
    ...(minVersion > 0 && { minVersion }),
    mac: Boolean(old.mac) || Boolean(seen.mac),
    ...(keyCheck !== undefined && { keyCheck }),
  };
}
