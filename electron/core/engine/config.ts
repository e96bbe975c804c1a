// The repository's config file: plain JSON (it must be readable before a
// passphrase unlocks anything), written once at init. It holds the format
// version, the chunk size, the KDF parameters and the master keys, wrapped
// by the passphrase's key when the repository is encrypted.
//
// Whoever can write the repository can write this file, so:
//  - every number is bounded before it sizes memory or work (a forged
//    Argon2id cost must not stall or exhaust the machine);
//  - an encrypted repository's config carries `mac`, an HMAC of all its other
//    fields under a key derived from the master keys: only someone holding
//    the passphrase can change it, and a change is refused loudly
//    (REPO_CONFIG_CHANGED) after the keys are unlocked;
//  - what the config says about identity, encryption and algorithms is
//    pinned on the computer that uses it (config-pin.ts), so swapping in an
//    unencrypted config, or one naming other algorithms, is refused before
//    the passphrase is even asked for;
//  - an algorithm name this Snapkeep does not know is refused by name.
//
// Format 3 (append-only, docs/repository-format-v3.md) holds no key at all:
// the keys live in keys/owner and keys/client (keys.ts), the config names
// the repository's public key, and its MAC is under a key both roles hold
// (HKDF of metaKey and idKey), so a client can check it too. Since a client
// could therefore also forge one, a client checks the public key against
// the one sealed in its own key object, and the owner against its secret
// key (verifyConfig).
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

import { z } from 'zod';

import { AppError } from '../../common/contract';
import { describeIssues } from '../../common/rpc/dispatcher';
import { corrupt } from './errors';
import {
  APPEND_ONLY_VERSION,
  FORMAT_NAME,
  KDF_MEM_MAX,
  KDF_MEM_MIN,
  KDF_OPS_MAX,
  KDF_OPS_MIN,
  MAX_CHUNK_SIZE,
  MAX_FILE_BYTES,
  MAX_PACK_SIZE,
  MIN_CHUNK_SIZE,
  MIN_PACK_SIZE,
  NEWEST_FORMAT_VERSION,
  dirs,
  rel,
} from './format';
import type { RepoKeys } from './keys';
import { isMissing, readRepoFile, writeRepoFile } from './repo-files';

const base64 = (bytes: number) =>
  z
    .string()
    .max(Math.ceil(bytes / 3) * 4)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
    .refine((s) => Buffer.from(s, 'base64').length === bytes, `must hold ${bytes} bytes`);

/** Chunk-id algorithms a config may name. */
export const CHUNK_ID_ALGORITHMS = ['blake2b-keyed', 'hmac-sha256'] as const;
/** `encryption` values: none, or the AEAD. */
export const ENCRYPTIONS = ['none', 'xchacha20poly1305', 'aes256gcm'] as const;

/**
 * Algorithm sets of new repositories: `fast` where the CPU has SHA-NI and
 * AES-NI (chosen by `npm run bench:crypto`: about 2.5x the classic set on
 * one core), `classic` elsewhere. A repository keeps its set for life.
 */
export const ALGORITHM_SETS = {
  classic: { chunkId: 'blake2b-keyed', aead: 'xchacha20poly1305' },
  fast: { chunkId: 'hmac-sha256', aead: 'aes256gcm' },
} as const;
export type AlgorithmSet = keyof typeof ALGORITHM_SETS;

/** The algorithms a config names, defaults filled in (what the engine is opened with). */
export function configAlgorithms(c: RepoConfig): { chunkId: (typeof CHUNK_ID_ALGORITHMS)[number]; encryption: (typeof ENCRYPTIONS)[number] } {
  return { chunkId: c.chunkId ?? 'blake2b-keyed', encryption: c.encryption };
}

/** Argon2id parameters, bounded: the config (formats 1-2) and the key objects (format 3) carry them. */
export const KdfParams = z.strictObject({
  algorithm: z.literal('argon2id13'),
  opsLimit: z.number().int().min(KDF_OPS_MIN).max(KDF_OPS_MAX),
  memLimit: z.number().int().min(KDF_MEM_MIN).max(KDF_MEM_MAX),
  salt: base64(16),
});
export type KdfParams = z.infer<typeof KdfParams>;

const chunkSizeField = z
  .number()
  .int()
  .min(MIN_CHUNK_SIZE)
  .max(MAX_CHUNK_SIZE)
  .refine((n) => (n & (n - 1)) === 0, 'must be a power of two');

/**
 * The config of formats 1 and 2 (docs/repository-format.md, "Config
 * fields"). The name stays: it is the schema that document lists.
 */
export const RepoConfig = z
  .object({
    format: z.literal(FORMAT_NAME),
    version: z.number().int().positive().max(APPEND_ONLY_VERSION - 1),
    id: z.string().regex(/^[0-9a-f]{16}$/),
    createdAt: z.string().max(64),
    chunkSize: chunkSizeField,
    packSize: z.number().int().min(MIN_PACK_SIZE).max(MAX_PACK_SIZE),
    /** The AEAD of an encrypted repository (docs/repository-format.md, "Algorithms"). */
    encryption: z.enum(ENCRYPTIONS),
    /** How chunk ids are computed; absent = blake2b-keyed (every repository before the fast set). */
    chunkId: z.enum(CHUNK_ID_ALGORITHMS).optional(),
    kdf: z
      .object({
        algorithm: z.literal('argon2id13'),
        opsLimit: z.number().int().min(KDF_OPS_MIN).max(KDF_OPS_MAX),
        memLimit: z.number().int().min(KDF_MEM_MIN).max(KDF_MEM_MAX),
        salt: base64(16),
      })
      .optional(),
    /** base64: the id key (plain repositories) or the sealed key pair. */
    keys: z.string().max(256),
    /** Encrypted repositories: HMAC-SHA256 (base64) of the canonical config without this field. */
    mac: base64(32).optional(),
  })
  .superRefine((c, ctx) => {
    if ((c.encryption === 'none') !== (c.kdf === undefined))
      ctx.addIssue({ code: 'custom', path: ['kdf'], message: c.kdf ? 'an unencrypted repository has no key derivation' : 'is missing' });
    if (c.encryption === 'none' && c.mac !== undefined) ctx.addIssue({ code: 'custom', path: ['mac'], message: 'only encrypted repositories carry one' });
  });
/** A config of format 1 or 2. */
export type LegacyConfig = z.infer<typeof RepoConfig>;

/**
 * The config of format 3 (docs/repository-format-v3.md): no key material
 * (strict: a `kdf` or `keys` here is damage, not something to ignore), the
 * repository's X25519 public key, always encrypted, always MAC'd.
 */
export const RepoConfigV3 = z.strictObject({
  format: z.literal(FORMAT_NAME),
  // A number, not a literal, so code that rewrites `version` keeps its type.
  version: z.number().int().min(APPEND_ONLY_VERSION).max(APPEND_ONLY_VERSION),
  id: z.string().regex(/^[0-9a-f]{16}$/),
  createdAt: z.string().max(64),
  chunkSize: chunkSizeField,
  packSize: z.number().int().min(MIN_PACK_SIZE).max(MAX_PACK_SIZE),
  // Typed like the older configs' (code that rewrites it keeps compiling); never 'none' here.
  encryption: z.enum(ENCRYPTIONS).refine((e): boolean => e !== 'none', 'a format 3 repository is always encrypted'),
  chunkId: z.enum(CHUNK_ID_ALGORITHMS),
  /** base64: the X25519 public key every session key is sealed to. */
  publicKey: base64(32),
  /** HMAC-SHA256 (base64) of the canonical config without this field, key HKDF(metaKey || idKey, "snapkeep config mac v2"). */
  mac: base64(32),
});
export type RepoConfigV3 = z.infer<typeof RepoConfigV3>;

/** A config of any format this Snapkeep reads. */
export type RepoConfig = LegacyConfig | RepoConfigV3;

/** Format 3: keys in keys/, a public key in the config. */
export function isFormat3(c: RepoConfig): c is RepoConfigV3 {
  return c.version >= APPEND_ONLY_VERSION;
}

/** The schema of a config claiming `version`. */
function schemaOf(version: unknown) {
  return typeof version === 'number' && version >= APPEND_ONLY_VERSION ? RepoConfigV3 : RepoConfig;
}

/**
 * Configs of this format version on carry a MAC when encrypted; older ones
 * (written before configs were authenticated) may lack it, and the pin then
 * stops one from being dropped later.
 */
export const CONFIG_MAC_SINCE = 2;

/**
 * The config at `repo`, checked. `newest` is the newest format the reader
 * knows: this Snapkeep's, or an older one's in tests (what a release of
 * format 2 says about format 3).
 */
export async function readConfig(repo: string, newest: number = NEWEST_FORMAT_VERSION): Promise<RepoConfig> {
  let text: string;
  try {
    text = (await readRepoFile(repo, rel.config, MAX_FILE_BYTES.config)).toString('utf8');
  } catch (e) {
    if (isMissing(e) || (e instanceof AppError && e.details?.['errnoName'] === 'ENOTDIR'))
      throw new AppError('REPO_NOT_FOUND', `no Snapkeep repository at ${repo}`, { path: repo });
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt(`the config of ${repo} is not valid JSON`, { path: dirs.config(repo) });
  }
  const format = (parsed as { format?: unknown } | null)?.format;
  if (format !== FORMAT_NAME) throw new AppError('REPO_NOT_FOUND', `${repo} is not a Snapkeep repository`, { path: repo });
  const version = (parsed as { version?: unknown }).version;
  // Before the schema: a newer format may lack what this one requires (format
  // 3 has no `keys`), and "newer" is what the user must read, not a field.
  if (typeof version === 'number' && version > newest)
    throw new AppError('REPO_CORRUPT', `repository format ${version} is newer than this Snapkeep (${newest}): it needs a newer Snapkeep`, { path: repo, version });
  checkAlgorithms(parsed as Record<string, unknown>, repo);
  const r = schemaOf(version).safeParse(parsed);
  if (!r.success) throw corrupt(`the config of ${repo} is damaged or was tampered with: ${describeIssues(r.error)}`, { path: dirs.config(repo) });
  return r.data;
}

/**
 * A config naming an algorithm this Snapkeep does not know (a newer
 * Snapkeep's, or a forged one) is refused by name before anything else is
 * read or written: guessing another algorithm would make every chunk look
 * damaged, or write chunks the repository's other users cannot read.
 */
function checkAlgorithms(parsed: Record<string, unknown>, repo: string): void {
  const known: Array<[string, readonly string[], boolean]> = [
    ['encryption', ENCRYPTIONS, false],
    ['chunkId', CHUNK_ID_ALGORITHMS, true],
  ];
  for (const [field, names, optional] of known) {
    const v = parsed[field];
    if (optional && v === undefined) continue;
    if (typeof v !== 'string' || !names.includes(v)) {
      const shown = typeof v === 'string' ? `"${v.slice(0, 64)}"` : String(typeof v);
      throw new AppError('REPO_CORRUPT', `the config of ${repo} names ${field} ${shown}, an algorithm this Snapkeep does not know (known: ${names.join(', ')}); it was made by a newer Snapkeep or damaged`, {
        path: dirs.config(repo),
        field,
      });
    }
  }
}

export async function writeConfig(repo: string, config: RepoConfig): Promise<void> {
  schemaOf(config.version).parse(config);
  if (config.encryption !== 'none' && config.mac === undefined) throw new AppError('INTERNAL', 'an encrypted config must be sealed (sealConfig) before it is written');
  await writeRepoFile(repo, rel.config, JSON.stringify(config, null, 2) + '\n');
}

/** JSON with object keys sorted at every level: the bytes the MAC covers. */
export function canonicalConfig(config: RepoConfig): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  const { mac: _mac, ...rest } = config;
  return JSON.stringify(sort(rest));
}

function configMac(config: RepoConfig, keys: RepoKeys): Buffer {
  // Its own key, derived from master keys, so the MAC shares no key with the
  // AEAD or the chunk ids. Format 3 derives it from the metadata key, which
  // a client holds too (the data keys it never holds).
  const [master, info] = isFormat3(config) ? [keys.metaKey, 'snapkeep config mac v2'] : [keys.encKey, 'snapkeep config mac v1'];
  if (!master) throw new AppError('INTERNAL', 'only encrypted configs carry a MAC, and only the keys of their format check it');
  const ikm = Buffer.concat([master, keys.idKey]);
  const key = Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, 32));
  ikm.fill(0);
  const mac = createHmac('sha256', key).update('snapkeep-config\0').update(canonicalConfig(config)).digest();
  key.fill(0);
  return mac;
}

/** The config with its MAC (encrypted repositories); plain configs are returned as they are. */
export function sealConfig<C extends RepoConfig>(config: C, keys: RepoKeys): C {
  if (config.encryption === 'none') return config;
  return { ...config, mac: configMac(config, keys).toString('base64') };
}

/**
 * Checks an encrypted config's MAC with the unlocked keys. A config without
 * one is accepted only from before CONFIG_MAC_SINCE (and when the pin does
 * not say it had one: config-pin.ts). Format 3: also that the public key is
 * the one the key object vouches for (keys.ts: sealed in the client's,
 * derived from the owner's secret key), since every client can make a MAC.
 */
export function verifyConfig(config: RepoConfig, keys: RepoKeys, repo: string): void {
  if (config.encryption === 'none') return;
  if (config.mac === undefined) {
    if (config.version >= CONFIG_MAC_SINCE) throw configChanged(repo, 'it lacks the MAC every encrypted config of this format carries');
    return;
  }
  const want = configMac(config, keys);
  const got = Buffer.from(config.mac, 'base64');
  if (got.length !== want.length || !timingSafeEqual(got, want))
    throw configChanged(repo, 'its MAC does not match its contents, so it was changed by someone without the passphrase');
  if (isFormat3(config)) {
    const pk = Buffer.from(config.publicKey, 'base64');
    // The owner also opens a config that still names the newest retired
    // pair: a key rotation cut after keys/owner was written (key-rotate.ts
    // finishes it when run again). Safe for the owner: it seals to its
    // current key whatever the config says; clients check their own key object.
    const rotating = keys.role === 'owner' && keys.retiredPublicKey !== undefined && pk.equals(keys.retiredPublicKey);
    if (!rotating && (!keys.publicKey || !pk.equals(keys.publicKey)))
      throw configChanged(repo, `its public key is not the one in keys/${keys.role} (backups would be sealed to someone else's key)`, { role: keys.role });
  }
}

export function configChanged(repo: string, why: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('REPO_CONFIG_CHANGED', `refusing the repository at ${repo}: its config was changed: ${why}`, { path: dirs.config(repo), ...details });
}
