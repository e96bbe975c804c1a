// Master keys. Every repository has a random 32-byte id key (key of the
// chunk ids, BLAKE2b or HMAC-SHA-256 as the config says, and of the
// plain-mode MACs); an encrypted one also has a random 32-byte encryption
// key. With a passphrase, both are sealed with
// XChaCha20-Poly1305 under a key-encryption key derived by Argon2id, so
// changing the passphrase never re-encrypts data, and a wrong passphrase
// shows as a tag that does not verify. The key wrapping is XChaCha20-Poly1305
// in every repository, whatever AEAD its data uses: it runs once per open.
import { randomBytes } from 'node:crypto';

import { AppError } from '../../common/contract';
import { type NativeRepoOptions, aeadOpen, aeadSeal, deriveKey, kdfSaltBytes } from '../../../native/engine';
import { ALGORITHM_SETS, type AlgorithmSet, type RepoConfig, configAlgorithms, configChanged } from './config';
import { corrupt } from './errors';
import { KDF_MEM_LIMIT, KDF_OPS_LIMIT } from './format';

export interface RepoKeys {
  idKey: Buffer;
  encKey?: Buffer;
}

const KEYS_AD = Buffer.from('snapkeep-keys-v1');

/** Fresh keys and the config fields that store them. */
export async function createKeys(
  passphrase: string | undefined,
  set: AlgorithmSet = 'classic',
): Promise<{ keys: RepoKeys; fields: Pick<RepoConfig, 'encryption' | 'chunkId' | 'kdf' | 'keys'> }> {
  const idKey = randomBytes(32);
  const { chunkId, aead } = ALGORITHM_SETS[set];
  if (passphrase === undefined) return { keys: { idKey }, fields: { encryption: 'none', chunkId, keys: idKey.toString('base64') } };
  if (passphrase.length === 0) throw new AppError('INVALID_ARGUMENT', 'the passphrase must not be empty');
  const encKey = randomBytes(32);
  const salt = randomBytes(kdfSaltBytes());
  const kek = await deriveKey(passphrase, salt, KDF_OPS_LIMIT, KDF_MEM_LIMIT);
  const sealed = aeadSeal(kek, Buffer.concat([encKey, idKey]), KEYS_AD);
  kek.fill(0);
  return {
    keys: { idKey, encKey },
    fields: {
      encryption: aead,
      chunkId,
      kdf: { algorithm: 'argon2id13', opsLimit: KDF_OPS_LIMIT, memLimit: KDF_MEM_LIMIT, salt: salt.toString('base64') },
      keys: sealed.toString('base64'),
    },
  };
}

export async function unlockKeys(config: RepoConfig, passphrase: string | undefined, repo: string): Promise<RepoKeys> {
  const stored = Buffer.from(config.keys, 'base64');
  if (config.encryption === 'none') {
    // Whoever gives a passphrase expects an encrypted repository: an
    // unencrypted config here is most likely one swapped in to make the
    // next backups readable (security review #3), never "no key needed".
    if (passphrase !== undefined)
      throw configChanged(repo, 'a passphrase was given, but the config says the repository is not encrypted (was it replaced?)', { encryption: 'none' });
    if (stored.length !== 32) throw corrupt(`the key in ${repo}/config is damaged`, { path: repo });
    return { idKey: stored };
  }
  if (passphrase === undefined) throw new AppError('PASSPHRASE_REQUIRED', `the repository at ${repo} is encrypted: a passphrase is needed`, { path: repo });
  if (!config.kdf) throw corrupt(`the config of ${repo} lacks its key derivation parameters`, { path: repo });
  const kek = await deriveKey(passphrase, Buffer.from(config.kdf.salt, 'base64'), config.kdf.opsLimit, config.kdf.memLimit);
  const opened = aeadOpen(kek, stored, KEYS_AD);
  kek.fill(0);
  if (!opened || opened.length !== 64) throw new AppError('WRONG_PASSPHRASE', `wrong passphrase for the repository at ${repo}`, { path: repo });
  return { encKey: opened.subarray(0, 32), idKey: opened.subarray(32, 64) };
}

/** The keys and algorithms of openNativeRepo's options, as the config names them. */
export function nativeCrypto(config: RepoConfig, keys: RepoKeys): Pick<NativeRepoOptions, 'encKey' | 'chunkIdAlg' | 'aead'> {
  const { chunkId, encryption } = configAlgorithms(config);
  return {
    chunkIdAlg: chunkId,
    ...(keys.encKey && encryption !== 'none' && { encKey: keys.encKey, aead: encryption }),
  };
}
