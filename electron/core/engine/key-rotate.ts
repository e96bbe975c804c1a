// Key-pair rotation of an append-only (format 3) repository
// (docs/append-only-design.md §2.9, docs/repository-format-v3.md "Rotating
// the key pair"): a new X25519 pair whose public key new backups seal their
// session keys to. The old secret key stays in keys/owner as retired, so
// every pack sealed before still opens (a pack's header names its pair).
//
// Three objects change, one after the other, in the order that leaves a
// repository the owner opens, losing nothing, wherever it is cut:
//   1. keys/owner: new sk first, the old ones after it (retired);
//   2. keys/client: the new pk (clients whose config still names the old
//      one are refused, REPO_CONFIG_CHANGED, until step 3);
//   3. the config: the new pk and its MAC.
// Cut after 1 or 2, the config still names the newest retired pair, which
// the owner accepts (config.ts verifyConfig) and the next rotation finishes
// with the pair already in keys/owner instead of drawing another.
import { AppError } from '../../common/contract';
import { boxKeypair } from '../../../native/engine';
import { type RepoConfig, type RepoConfigV3, isFormat3, readConfig, sealConfig, verifyConfig, writeConfig } from './config';
import { type RepoPin, pinOf, publicKeyCheck } from './config-pin';
import { corrupt } from './errors';
import { MAX_RETIRED_KEYS, dirs, rel } from './format';
import { type RepoKeys, type SlotRole, openSlot, sealKeySlot, slotText } from './keys';
import { writeRepoFile } from './repo-files';

export interface KeyRotation {
  /** The new public key's fingerprint (what pins keep and REPO_CONFIG_CHANGED names). */
  publicKey: string;
  /** The fingerprint of the public key it replaced. */
  previousPublicKey: string;
  /** Secret keys kept as retired after it. */
  retiredKeys: number;
  /** A rotation cut earlier was finished with the pair it had written, not a new one. */
  finished: boolean;
  /** The client passphrase given was not the one keys/client had: clients need the new one too. */
  clientPassphraseChanged: boolean;
  /** keys/owner was sealed under a new owner passphrase (`newOwnerPassphrase`). */
  ownerPassphraseChanged: boolean;
  /** The pin of the repository as it is now, for the owner. */
  pin: RepoPin;
}

export interface KeyRotationRequest {
  /** The owner passphrase: it must open the current keys/owner. */
  ownerPassphrase: string;
  /**
   * The passphrase the new keys/owner is sealed under, when it is to change
   * too (a leaked secret key may have leaked with the passphrase): without
   * it, the owner passphrase.
   */
  newOwnerPassphrase?: string;
  /** The passphrase keys/client is sealed under: the current one, or a new one for the clients. */
  clientPassphrase: string;
}

const equalKeys = (a: Buffer[] | undefined, b: Buffer[] | undefined) => a !== undefined && b !== undefined && a.length === b.length && a.every((k, i) => b[i]?.equals(k));

/** What refuses a rotation before a lock is taken or a key derived: formats 1-2, a client's keys, empty or equal passphrases. */
export function checkRotation(config: RepoConfig, keys: RepoKeys, req: KeyRotationRequest, repo: string): void {
  if (!isFormat3(config)) throw new AppError('INVALID_ARGUMENT', `key commands need an append-only repository (format 3); ${repo} is format ${config.version}`, { path: repo });
  if (keys.role !== 'owner') throw new AppError('INTERNAL', "a key pair is rotated with the owner's keys only");
  if (req.ownerPassphrase.length === 0 || req.clientPassphrase.length === 0) throw new AppError('INVALID_ARGUMENT', 'the owner and client passphrases must not be empty');
  if (req.newOwnerPassphrase?.length === 0) throw new AppError('INVALID_ARGUMENT', 'the new owner passphrase must not be empty');
  if (req.ownerPassphrase === req.clientPassphrase || req.newOwnerPassphrase === req.clientPassphrase)
    throw new AppError('INVALID_ARGUMENT', 'the client passphrase must differ from the owner passphrase: clients remember theirs, and it must not open the owner key');
}

/**
 * Rotates the key pair of the repository at `repo`, opened with `keys` (the
 * owner's) and `config`; the caller holds the exclusive lock. Refused before
 * any write: formats 1-2, empty or equal passphrases, an owner passphrase
 * that does not open keys/owner, a repository whose config or keys/owner
 * changed since it was opened, and one that has MAX_RETIRED_KEYS retired keys.
 */
export async function rotateKeyPair(config: RepoConfig, keys: RepoKeys, req: KeyRotationRequest, repo: string): Promise<KeyRotation> {
  checkRotation(config, keys, req, repo);
  if (!keys.secretKeys?.length || !keys.publicKey) throw new AppError('INTERNAL', "a key pair is rotated with the owner's keys only");
  // What is stored now, not what was opened: another owner's rotation since then would lose its pair.
  const changed = () => new AppError('CONFLICT', `the config or keys/owner of ${repo} changed since it was opened (a rotation elsewhere?): open it again and check`, { path: repo });
  const stored = await readConfig(repo);
  if (!isFormat3(stored) || stored.mac !== config.mac) throw changed();
  const owner = await openSlot(stored, 'owner', req.ownerPassphrase, repo);
  if (owner instanceof AppError) throw owner;
  if (owner === 'wrong') throw new AppError('WRONG_PASSPHRASE', `the owner passphrase given does not open keys/owner of ${repo}`, { path: repo });
  if (!equalKeys(owner.secretKeys, keys.secretKeys)) throw changed();

  const current = Buffer.from(stored.publicKey, 'base64');
  // The config names the newest retired pair: a rotation was cut after keys/owner was written.
  const finished = !current.equals(keys.publicKey);
  const ownerPassphrase = req.newOwnerPassphrase ?? req.ownerPassphrase;
  const ownerPassphraseChanged = ownerPassphrase !== req.ownerPassphrase;
  let next: RepoKeys;
  if (finished) {
    next = owner;
    if (ownerPassphraseChanged) await writeSlot(stored, next, 'owner', ownerPassphrase, repo);
  } else {
    if (keys.secretKeys.length > MAX_RETIRED_KEYS)
      throw new AppError('INVALID_ARGUMENT', `${repo} already keeps ${MAX_RETIRED_KEYS} retired secret keys, the most a key object holds: start a new repository`, { path: repo });
    const pair = boxKeypair();
    next = { ...owner, publicKey: pair.publicKey, secretKeys: [pair.secretKey, ...keys.secretKeys], retiredPublicKey: keys.publicKey };
    await writeSlot(stored, next, 'owner', ownerPassphrase, repo);
  }

  const client = await openSlot(stored, 'client', req.clientPassphrase, repo);
  if (client instanceof AppError) throw client;
  await writeSlot(stored, next, 'client', req.clientPassphrase, repo);

  const nextConfig: RepoConfigV3 = sealConfig({ ...stored, publicKey: (next.publicKey ?? Buffer.alloc(0)).toString('base64'), mac: '' /* sealConfig's */ }, next);
  await writeConfig(repo, nextConfig);
  // Read back and checked as a client checks it: the MAC, and exactly the new public key.
  const back = await readConfig(repo);
  verifyConfig(back, { ...next, role: 'client' }, repo);

  return {
    publicKey: publicKeyCheck(next.publicKey ?? Buffer.alloc(0)),
    previousPublicKey: publicKeyCheck(current),
    retiredKeys: (next.secretKeys?.length ?? 1) - 1,
    finished,
    clientPassphraseChanged: client === 'wrong',
    ownerPassphraseChanged,
    pin: pinOf(back, next),
  };
}

/** keys/<role> sealed for `keys` under `passphrase`, written whole (temp file and rename), read back and checked. */
async function writeSlot(config: RepoConfigV3, keys: RepoKeys, role: SlotRole, passphrase: string, repo: string): Promise<void> {
  await writeRepoFile(repo, rel.keySlot(role), slotText(await sealKeySlot(role, passphrase, keys, config.id)));
  const back = await openSlot(config, role, passphrase, repo);
  const same = back !== 'wrong' && !(back instanceof AppError) && back.publicKey?.equals(keys.publicKey ?? Buffer.alloc(0)) && (role === 'client' || equalKeys(back.secretKeys, keys.secretKeys));
  if (!same)
    throw corrupt(`keys/${role} of ${repo} did not hold the new key pair after it was written: check the storage, then run the rotation again (the old keys are kept)`, {
      path: dirs.keySlot(repo, role),
    });
}
