// Master keys. Every repository has a random 32-byte id key (key of the
// chunk ids, BLAKE2b or HMAC-SHA-256 as the config says, and of the
// plain-mode MACs); an encrypted one also has a random 32-byte encryption
// key. With a passphrase, both are sealed with
// XChaCha20-Poly1305 under a key-encryption key derived by Argon2id, so
// changing the passphrase never re-encrypts data, and a wrong passphrase
// shows as a tag that does not verify. The key wrapping is XChaCha20-Poly1305
// in every repository, whatever AEAD its data uses: it runs once per open.
//
// Format 3 (append-only, docs/repository-format-v3.md) has no encryption
// key: a metadata key for envelopes and the config MAC, and an X25519 key
// pair whose public key each backup seals its session key to. They are kept
// in two key objects instead of the config, each wrapped as above under its
// own passphrase and salt:
//   keys/owner   idKey || metaKey || sk || retired sk...  (the owner)
//   keys/client  idKey || metaKey || pk                   (append-only clients)
// with the role and the repository id in the AD, so a key object copied from
// another repository, or from the other slot, does not open. Being objects,
// the server can refuse a client keys/owner (S3 policy, SFTP file mode): a
// client that is taken over cannot even start guessing the owner passphrase.
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

import { z } from 'zod';

import { AppError, isAppError } from '../../common/contract';
import { describeIssues } from '../../common/rpc/dispatcher';
import { type NativeRepoOptions, aeadOpen, aeadSeal, boxKeypair, deriveKey, kdfSaltBytes } from '../../../native/engine';
import { ALGORITHM_SETS, type AlgorithmSet, KdfParams, type LegacyConfig, type RepoConfig, type RepoConfigV3, configAlgorithms, configChanged, isFormat3 } from './config';
import { corrupt } from './errors';
import { KDF_MEM_LIMIT, KDF_OPS_LIMIT, MAX_FILE_BYTES, MAX_RETIRED_KEYS, dirs, rel } from './format';
import { isMissing, readRepoFile, writeRepoFile } from './repo-files';

/** Which key object opened: formats 1-2 have one key set for everyone ('legacy'). */
export type RepoRole = 'owner' | 'client' | 'legacy';
/** The roles of format 3, one key object each. */
export type SlotRole = Exclude<RepoRole, 'legacy'>;

export interface RepoKeys {
  /** Chunk ids, list names, plain MACs: every role holds it. */
  idKey: Buffer;
  /** Formats 1-2, encrypted: the key of every envelope and blob. */
  encKey?: Buffer;
  /** Format 3: the key of every envelope and of the config MAC. */
  metaKey?: Buffer;
  /** Format 3: the X25519 key each session key is sealed to. */
  publicKey?: Buffer;
  /** Format 3, the owner only: the current X25519 secret key first, retired ones after. */
  secretKeys?: Buffer[];
  /**
   * Format 3, the owner only: the public key of the newest retired pair, the
   * one a key rotation cut before its config was written leaves in the
   * config (key-rotate.ts); the owner opens such a repository, a client not.
   */
  retiredPublicKey?: Buffer;
  role: RepoRole;
}

const KEYS_AD = Buffer.from('snapkeep-keys-v1');

/** Fresh keys and the config fields that store them (formats 1-2). */
export async function createKeys(
  passphrase: string | undefined,
  set: AlgorithmSet = 'classic',
): Promise<{ keys: RepoKeys; fields: Pick<LegacyConfig, 'encryption' | 'chunkId' | 'kdf' | 'keys'> }> {
  const idKey = randomBytes(32);
  const { chunkId, aead } = ALGORITHM_SETS[set];
  if (passphrase === undefined) return { keys: { idKey, role: 'legacy' }, fields: { encryption: 'none', chunkId, keys: idKey.toString('base64') } };
  if (passphrase.length === 0) throw new AppError('INVALID_ARGUMENT', 'the passphrase must not be empty');
  const encKey = randomBytes(32);
  const salt = randomBytes(kdfSaltBytes());
  const kek = await deriveKey(passphrase, salt, KDF_OPS_LIMIT, KDF_MEM_LIMIT);
  const sealed = aeadSeal(kek, Buffer.concat([encKey, idKey]), KEYS_AD);
  kek.fill(0);
  return {
    keys: { idKey, encKey, role: 'legacy' },
    fields: {
      encryption: aead,
      chunkId,
      kdf: { algorithm: 'argon2id13', opsLimit: KDF_OPS_LIMIT, memLimit: KDF_MEM_LIMIT, salt: salt.toString('base64') },
      keys: sealed.toString('base64'),
    },
  };
}

/**
 * The keys of a repository: formats 1-2 from the config, format 3 from its
 * key objects (unlockSlots). `prefer` is the role this computer opened the
 * repository with last (the pin): that key object is tried first.
 */
export async function unlockKeys(config: RepoConfig, passphrase: string | undefined, repo: string, prefer?: SlotRole): Promise<RepoKeys> {
  if (isFormat3(config)) return unlockSlots(config, passphrase, repo, prefer);
  const stored = Buffer.from(config.keys, 'base64');
  if (config.encryption === 'none') {
    // Whoever gives a passphrase expects an encrypted repository: an
    // unencrypted config here is most likely one swapped in to make the
    // next backups readable (security review #3), never "no key needed".
    if (passphrase !== undefined)
      throw configChanged(repo, 'a passphrase was given, but the config says the repository is not encrypted (was it replaced?)', { encryption: 'none' });
    if (stored.length !== 32) throw corrupt(`the key in ${repo}/config is damaged`, { path: repo });
    return { idKey: stored, role: 'legacy' };
  }
  if (passphrase === undefined) throw passphraseRequired(repo);
  if (!config.kdf) throw corrupt(`the config of ${repo} lacks its key derivation parameters`, { path: repo });
  const kek = await deriveKey(passphrase, Buffer.from(config.kdf.salt, 'base64'), config.kdf.opsLimit, config.kdf.memLimit);
  const opened = aeadOpen(kek, stored, KEYS_AD);
  kek.fill(0);
  if (!opened || opened.length !== 64) throw wrongPassphrase(repo);
  return { encKey: opened.subarray(0, 32), idKey: opened.subarray(32, 64), role: 'legacy' };
}

/** The keys and algorithms of openNativeRepo's options, as the config names them. */
export function nativeCrypto(config: RepoConfig, keys: RepoKeys): Pick<NativeRepoOptions, 'encKey' | 'chunkIdAlg' | 'aead' | 'metaKey' | 'publicKey' | 'secretKeys'> {
  const { chunkId, encryption } = configAlgorithms(config);
  if (isFormat3(config)) {
    if (!keys.metaKey || !keys.publicKey || encryption === 'none') throw new AppError('INTERNAL', 'format 3 needs the keys of a key object and an AEAD');
    // A client passes no secret key: the engine then refuses to read blobs (OWNER_KEY_REQUIRED).
    return { chunkIdAlg: chunkId, aead: encryption, metaKey: keys.metaKey, publicKey: keys.publicKey, ...(keys.secretKeys && { secretKeys: keys.secretKeys }) };
  }
  return {
    chunkIdAlg: chunkId,
    ...(keys.encKey && encryption !== 'none' && { encKey: keys.encKey, aead: encryption }),
  };
}

function passphraseRequired(repo: string): AppError {
  return new AppError('PASSPHRASE_REQUIRED', `the repository at ${repo} is encrypted: a passphrase is needed`, { path: repo });
}

function wrongPassphrase(repo: string): AppError {
  return new AppError('WRONG_PASSPHRASE', `wrong passphrase for the repository at ${repo}`, { path: repo });
}

// ---- Format 3: key objects -------------------------------------------------

/** A key object (keys/owner, keys/client) as stored: JSON, like the config. */
export const KeySlot = z.strictObject({
  version: z.literal(1),
  /** The config's id, in clear so a key object of another repository is named as such (the AD makes it binding). */
  repository: z.string().regex(/^[0-9a-f]{16}$/),
  kdf: KdfParams,
  /** base64: nonce (24) || XChaCha20-Poly1305 ciphertext || tag (16). */
  sealed: z
    .string()
    .max(1024)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
});
export type KeySlot = z.infer<typeof KeySlot>;

const KEY = 32;
/** XChaCha20-Poly1305 as aeadSeal writes it: 24-byte nonce, 16-byte tag. */
const SEAL_OVERHEAD = 24 + 16;
/** Plaintext: idKey || metaKey || pk (client) or sk (owner, then retired ones). */
const SLOT_BASE = 3 * KEY;

/** The AD of a key object: its role and the repository it belongs to. */
export function slotAd(role: SlotRole, repositoryId: string): Buffer {
  return Buffer.from(`snapkeep-${role}-keys-v1${repositoryId}`);
}

/** The X25519 public key of a secret key (libsodium's crypto_box keys are plain X25519). */
export function publicKeyOf(secretKey: Buffer): Buffer {
  // PKCS#8 of an X25519 private key is this 16-byte prefix and the key.
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secretKey]);
  const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  der.fill(0);
  return Buffer.from(spki.subarray(spki.length - KEY));
}

/** The key object's JSON text, as written to keys/<role>. */
export function slotText(slot: KeySlot): string {
  return JSON.stringify(slot, null, 2) + '\n';
}

/**
 * The key object of `role` holding `keys` (docs/repository-format-v3.md):
 * the owner's holds idKey, metaKey and every secret key (current first),
 * the client's idKey, metaKey and the public key. A fresh salt each time.
 */
export async function sealKeySlot(role: SlotRole, passphrase: string, keys: RepoKeys, repositoryId: string): Promise<KeySlot> {
  const { metaKey, publicKey, secretKeys } = keys;
  if (!metaKey || !publicKey || (role === 'owner' && !secretKeys?.length)) throw new AppError('INTERNAL', `keys/${role} needs the keys of format 3`);
  const plain = Buffer.concat([keys.idKey, metaKey, ...(role === 'owner' ? (secretKeys ?? []) : [publicKey])]);
  const salt = randomBytes(kdfSaltBytes());
  const kek = await deriveKey(passphrase, salt, KDF_OPS_LIMIT, KDF_MEM_LIMIT);
  try {
    return {
      version: 1,
      repository: repositoryId,
      kdf: { algorithm: 'argon2id13', opsLimit: KDF_OPS_LIMIT, memLimit: KDF_MEM_LIMIT, salt: salt.toString('base64') },
      sealed: aeadSeal(kek, plain, slotAd(role, repositoryId)).toString('base64'),
    };
  } finally {
    kek.fill(0);
    plain.fill(0);
  }
}

/**
 * The passphrases of a new append-only repository, refused before anything
 * is written: no owner passphrase (format 3 is always encrypted), an empty
 * one, or equal ones. Equal ones because the client passphrase is
 * remembered on clients for scheduled runs: it would then open keys/owner
 * wherever that object can be read (a local path, a server set up without
 * the restriction), handing the secret key to whoever takes a client.
 */
export function checkAppendOnlyPassphrases(owner: string | undefined, client: string): asserts owner is string {
  if (owner === undefined) throw new AppError('INVALID_ARGUMENT', 'an append-only repository is always encrypted: it needs an owner passphrase');
  if (owner.length === 0 || client.length === 0) throw new AppError('INVALID_ARGUMENT', 'the owner and client passphrases must not be empty');
  if (owner === client)
    throw new AppError('INVALID_ARGUMENT', 'the client passphrase must differ from the owner passphrase: clients remember theirs, and it must not open the owner key');
}

/**
 * Fresh keys of an append-only repository (format 3): the owner's keys (the
 * creator is the owner), the config fields, and both key objects.
 */
export async function createAppendOnlyKeys(
  owner: string | undefined,
  client: string,
  set: AlgorithmSet,
  repositoryId: string,
): Promise<{ keys: RepoKeys; fields: Pick<RepoConfigV3, 'encryption' | 'chunkId' | 'publicKey'>; slots: Record<SlotRole, KeySlot> }> {
  checkAppendOnlyPassphrases(owner, client);
  const pair = boxKeypair();
  const keys: RepoKeys = { idKey: randomBytes(KEY), metaKey: randomBytes(KEY), publicKey: pair.publicKey, secretKeys: [pair.secretKey], role: 'owner' };
  const { chunkId, aead } = ALGORITHM_SETS[set];
  return {
    keys,
    fields: { encryption: aead, chunkId, publicKey: pair.publicKey.toString('base64') },
    slots: { owner: await sealKeySlot('owner', owner, keys, repositoryId), client: await sealKeySlot('client', client, keys, repositoryId) },
  };
}

/**
 * Opens the key objects of a format-3 repository with one passphrase: the
 * owner's first (or the one `prefer` names), then the other. A key object
 * the storage refuses (PERMISSION_DENIED: an append-only client's login) or
 * that does not open with the passphrase is passed over; one that is
 * missing, too long, malformed, a link, or of another repository fails the
 * open (REPO_CORRUPT, REPO_UNSAFE): damage is reported, not guessed around.
 */
export async function unlockSlots(config: RepoConfigV3, passphrase: string | undefined, repo: string, prefer?: SlotRole): Promise<RepoKeys> {
  if (passphrase === undefined) throw passphraseRequired(repo);
  const order: SlotRole[] = prefer === 'client' ? ['client', 'owner'] : ['owner', 'client'];
  let denied: AppError | undefined;
  let wrong = false;
  for (const role of order) {
    const r = await openSlot(config, role, passphrase, repo);
    if (r === 'wrong') wrong = true;
    else if (r instanceof AppError) denied = r;
    else return r;
  }
  if (wrong || !denied) throw wrongPassphrase(repo);
  throw denied;
}

/**
 * A new passphrase for the key object of `role` (docs/append-only-design.md
 * §2.9): the same keys sealed again under a fresh salt, written over the old
 * object whole or not at all (writeRepoFile: a temp file renamed over it),
 * then read back and opened. Needs the owner's keys (the owner's object
 * holds the secret keys; the caller refuses a client first). Refused before
 * any write: an empty passphrase, a format 1-2 repository, and one that
 * opens the other key object (as init refuses equal ones: a client
 * passphrase that opens keys/owner hands the secret key to a client).
 */
export async function changeSlotPassphrase(config: RepoConfig, keys: RepoKeys, role: SlotRole, passphrase: string, repo: string): Promise<void> {
  if (!isFormat3(config)) throw new AppError('INVALID_ARGUMENT', `key commands need an append-only repository (format 3); ${repo} is format ${config.version}`, { path: repo });
  if (keys.role !== 'owner') throw new AppError('INTERNAL', 'a key object is rewrapped with the owner\'s keys only');
  if (passphrase.length === 0) throw new AppError('INVALID_ARGUMENT', 'the new passphrase must not be empty');
  const other: SlotRole = role === 'owner' ? 'client' : 'owner';
  const opens = await openSlot(config, other, passphrase, repo);
  if (opens instanceof AppError) throw opens;
  if (opens !== 'wrong')
    throw new AppError(
      'INVALID_ARGUMENT',
      `the new ${role} passphrase must differ from the ${other} passphrase: clients remember theirs, and it must not open the owner key`,
    );
  const slot = await sealKeySlot(role, passphrase, keys, config.id);
  await writeRepoFile(repo, rel.keySlot(role), slotText(slot));
  // What was written must open with the new passphrase, or the change is not done.
  const back = await openSlot(config, role, passphrase, repo);
  if (!(back instanceof AppError) && back !== 'wrong' && back.idKey.equals(keys.idKey) && back.metaKey?.equals(keys.metaKey ?? Buffer.alloc(0))) return;
  throw corrupt(`keys/${role} of ${repo} did not open with the new passphrase after it was written: check the storage, and open with the old and the new passphrase`, {
    path: dirs.keySlot(repo, role),
  });
}

/** A key object read and opened: the keys, 'wrong' (the passphrase does not open it), or the storage's refusal. */
export async function openSlot(config: RepoConfigV3, role: SlotRole, passphrase: string, repo: string): Promise<RepoKeys | 'wrong' | AppError> {
  const where = dirs.keySlot(repo, role);
  let bytes: Buffer;
  try {
    bytes = await readRepoFile(repo, rel.keySlot(role), MAX_FILE_BYTES.keySlot);
  } catch (e) {
    if (isAppError(e) && e.code === 'PERMISSION_DENIED') return e;
    if (isMissing(e)) throw corrupt(`the repository at ${repo} lacks its key object keys/${role}`, { path: where });
    throw e;
  }
  const slot = parseSlot(bytes, role, where);
  if (slot.repository !== config.id)
    throw corrupt(`keys/${role} of ${repo} belongs to repository ${slot.repository}, not to this one (${config.id}): it was copied from elsewhere`, {
      path: where,
      found: slot.repository,
    });
  const sealed = Buffer.from(slot.sealed, 'base64');
  // Sized before any key derivation: a forged object costs no Argon2id.
  const plain = sealed.length - SEAL_OVERHEAD;
  const retired = (plain - SLOT_BASE) / KEY;
  if (role === 'client' ? plain !== SLOT_BASE : !(Number.isInteger(retired) && retired >= 0 && retired <= MAX_RETIRED_KEYS))
    throw corrupt(`keys/${role} of ${repo} is damaged: its sealed keys are ${sealed.length} bytes`, { path: where });
  const kek = await deriveKey(passphrase, Buffer.from(slot.kdf.salt, 'base64'), slot.kdf.opsLimit, slot.kdf.memLimit);
  const opened = aeadOpen(kek, sealed, slotAd(role, config.id));
  kek.fill(0);
  if (!opened) return 'wrong';
  const idKey = opened.subarray(0, KEY);
  const metaKey = opened.subarray(KEY, 2 * KEY);
  if (role === 'client') return { idKey, metaKey, publicKey: opened.subarray(2 * KEY, 3 * KEY), role };
  const secretKeys: Buffer[] = [];
  for (let at = 2 * KEY; at < opened.length; at += KEY) secretKeys.push(opened.subarray(at, at + KEY));
  // The current secret key's own public key: what the config must name (verifyConfig).
  const previous = secretKeys[1];
  return { idKey, metaKey, publicKey: publicKeyOf(opened.subarray(2 * KEY, 3 * KEY)), secretKeys, ...(previous && { retiredPublicKey: publicKeyOf(previous) }), role };
}

function parseSlot(bytes: Buffer, role: SlotRole, where: string): KeySlot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw corrupt(`the key object keys/${role} is not valid JSON`, { path: where });
  }
  const r = KeySlot.safeParse(parsed);
  if (!r.success) throw corrupt(`the key object keys/${role} is damaged or was tampered with: ${describeIssues(r.error)}`, { path: where });
  return r.data;
}
