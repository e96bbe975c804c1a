// Format 3 (append-only) keys and config, docs/repository-format-v3.md:
// owner and client open the same repository with their own key object and
// get their own role and keys; a key object the storage refuses is passed
// over; and the repository is hostile input: a public key swapped in the
// config (a client can make a valid MAC), a key object of another
// repository or of the other role, damaged or oversized key objects, links,
// and a format-2 reader meeting format 3 are each refused clearly.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { type RepoConfigV3, isFormat3, readConfig, sealConfig } from '../../../../electron/core/engine/config';
import { type RepoPin, pinOf, publicKeyCheck } from '../../../../electron/core/engine/config-pin';
import { createRepository, unlockRepository } from '../../../../electron/core/engine/engine';
import { nativeCrypto } from '../../../../electron/core/engine/keys';
import { LocalStorage } from '../../../../electron/core/engine/storage/local';
import { attachStorage } from '../../../../electron/core/engine/storage/registry';
import type { LoadOptions, RepoStorage } from '../../../../electron/core/engine/storage/storage';
import { boxKeypair } from '../../../../native/engine';
import { cleanup, expectAppError, makeImage, scratch, sha256 } from './hostile-support';

const tmp: string[] = [];
afterAll(() => cleanup(tmp));

const OWNER = 'owner words';
const CLIENT = 'client words';

async function makeV3(prefix: string, name = 'repo'): Promise<{ base: string; repo: string; config: RepoConfigV3 }> {
  const base = scratch(prefix);
  tmp.push(base);
  const repo = path.join(base, name);
  const config = await createRepository({ path: repo, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT } }, repo, 256 * 1024, false);
  if (!isFormat3(config)) throw new Error('createRepository with appendOnly made no format-3 config');
  return { base, repo, config };
}

async function readV3(repo: string): Promise<RepoConfigV3> {
  const c = await readConfig(repo);
  if (!isFormat3(c)) throw new Error(`${repo} is not format 3`);
  return c;
}

function rawConfig(repo: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(repo, 'config'), 'utf8')) as Record<string, unknown>;
}

function rawSlot(repo: string, role: 'owner' | 'client'): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(repo, 'keys', role), 'utf8')) as Record<string, unknown>;
}

/**
 * A storage like a client's server login: the local files, with the names in
 * `refuse` answered PERMISSION_DENIED (as s3.ts and sftp.ts do), and every
 * load and save recorded. A proxy, so it has whatever else LocalStorage has.
 */
function refusing(dir: string, refuse: string[] = []): { storage: RepoStorage; loads: string[]; saves: string[]; release: () => Promise<void> } {
  const location = `sftp://ao@storage.invalid/${randomBytes(6).toString('hex')}`;
  const loads: string[] = [];
  const saves: string[] = [];
  const load = (inner: LocalStorage) => (name: string, opts: LoadOptions) => {
    loads.push(name);
    if (refuse.includes(name)) return Promise.reject(new AppError('PERMISSION_DENIED', `${location}/${name}: access denied`, { path: `${location}/${name}` }));
    return inner.load(name, opts);
  };
  const save = (inner: LocalStorage) => (name: string, data: Buffer) => {
    saves.push(name);
    return inner.save(name, data);
  };
  const storage = new Proxy(new LocalStorage(dir), {
    get(inner, p) {
      if (p === 'location') return location;
      if (p === 'remote') return true;
      if (p === 'load') return load(inner);
      if (p === 'save') return save(inner);
      const v: unknown = Reflect.get(inner, p);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(inner) : v;
    },
  }) as RepoStorage;
  return { storage, loads, saves, release: attachStorage(storage).release };
}

describe('format 3: owner and client', () => {
  it('open the same repository, each with its role and keys, and pin both', async () => {
    const { repo, config } = await makeV3('v3-roles');
    const owner = await unlockRepository(repo, config, OWNER, undefined);
    const client = await unlockRepository(repo, config, CLIENT, undefined);
    expect(owner.keys.role).toBe('owner');
    expect(client.keys.role).toBe('client');
    expect(owner.keys.idKey.equals(client.keys.idKey)).toBe(true);
    expect(owner.keys.metaKey?.equals(client.keys.metaKey ?? Buffer.alloc(0))).toBe(true);
    for (const k of [owner.keys, client.keys]) {
      expect(k.publicKey?.toString('base64')).toBe(config.publicKey);
      expect(k.encKey).toBeUndefined();
    }
    expect(owner.keys.secretKeys).toHaveLength(1);
    expect(client.keys.secretKeys).toBeUndefined();
    // What the native engine is given: the secret key for the owner only.
    const o = nativeCrypto(config, owner.keys);
    const c = nativeCrypto(config, client.keys);
    expect(Object.keys(o).sort()).toEqual(['aead', 'chunkIdAlg', 'metaKey', 'publicKey', 'secretKeys']);
    expect(Object.keys(c).sort()).toEqual(['aead', 'chunkIdAlg', 'metaKey', 'publicKey']);
    expect(o.secretKeys?.[0]?.equals(owner.keys.secretKeys?.[0] ?? Buffer.alloc(0))).toBe(true);
    const fingerprint = publicKeyCheck(Buffer.from(config.publicKey, 'base64'));
    expect(owner.pin).toMatchObject({ role: 'owner', publicKey: fingerprint, minVersion: 3, mac: true, id: config.id });
    expect(client.pin).toMatchObject({ role: 'client', publicKey: fingerprint, minVersion: 3, mac: true, id: config.id });
    expect(owner.pin.keyCheck).toBe(client.pin.keyCheck);
    expect(owner.pin.kdf).toBeUndefined();
  });

  it('a passphrase that opens neither key object is WRONG_PASSPHRASE; none at all, PASSPHRASE_REQUIRED', async () => {
    const { repo, config } = await makeV3('v3-wrong');
    await expectAppError(unlockRepository(repo, config, 'neither', undefined), 'WRONG_PASSPHRASE');
    await expectAppError(unlockRepository(repo, config, undefined, undefined), 'PASSPHRASE_REQUIRED');
  });

  it('keys/owner refused by the storage: the client passphrase opens keys/client, the owner passphrase is WRONG_PASSPHRASE', async () => {
    const { repo } = await makeV3('v3-denied');
    const { storage, loads, release } = refusing(repo, ['keys/owner']);
    try {
      const config = await readV3(storage.location);
      const client = await unlockRepository(storage.location, config, CLIENT, undefined);
      expect(client.keys.role).toBe('client');
      expect(loads).toEqual(['config', 'keys/owner', 'keys/client']);
      await expectAppError(unlockRepository(storage.location, config, OWNER, undefined), 'WRONG_PASSPHRASE');
    } finally {
      await release();
    }
  });

  it('both key objects refused: the storage refusal, not a wrong passphrase', async () => {
    const { repo } = await makeV3('v3-denied-both');
    const { storage, release } = refusing(repo, ['keys/owner', 'keys/client']);
    try {
      await expectAppError(unlockRepository(storage.location, await readV3(storage.location), CLIENT, undefined), 'PERMISSION_DENIED');
    } finally {
      await release();
    }
  });

  it('a computer pinned as a client reads keys/client first, and never keys/owner when it opens', async () => {
    const { repo } = await makeV3('v3-prefer');
    const { storage, loads, release } = refusing(repo);
    try {
      const config = await readV3(storage.location);
      const first = await unlockRepository(storage.location, config, CLIENT, undefined);
      loads.length = 0;
      const again = await unlockRepository(storage.location, config, CLIENT, first.pin);
      expect(again.keys.role).toBe('client');
      expect(loads).toEqual(['keys/client']);
      // The owner on that computer still opens as the owner.
      expect((await unlockRepository(storage.location, config, OWNER, again.pin)).pin.role).toBe('owner');
    } finally {
      await release();
    }
  });

  it('init writes the key objects before the config, remote as local', async () => {
    const base = scratch('v3-order');
    tmp.push(base);
    const dir = path.join(base, 'repo');
    fs.mkdirSync(dir);
    const { storage, saves, release } = refusing(dir);
    try {
      const opts = { path: storage.location, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT } };
      const config = await createRepository(opts, storage.location, 256 * 1024, true);
      expect(saves).toEqual(['keys/owner', 'keys/client', 'config']);
      expect(config.version).toBe(3);
      expect(Object.keys(rawConfig(dir)).sort()).toEqual(['chunkId', 'chunkSize', 'createdAt', 'encryption', 'format', 'id', 'mac', 'packSize', 'publicKey', 'version']);
      expect((await unlockRepository(storage.location, config, CLIENT, undefined)).keys.role).toBe('client');
      await expectAppError(createRepository(opts, storage.location, 256 * 1024, true), 'REPO_EXISTS');
    } finally {
      await release();
    }
  });

  it("through the engine: init makes the owner's handle, a client backs up, the owner restores it, the client cannot", async () => {
    const base = scratch('v3-engine');
    tmp.push(base);
    const repo = path.join(base, 'repo');
    const image = path.join(base, 'disk.img');
    makeImage(image, 1 << 20, 5);
    const init = await engine.init({ path: repo, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT } });
    expect(init.pin).toMatchObject({ role: 'owner', minVersion: 3 });
    await init.close();
    expect(fs.readdirSync(path.join(repo, 'keys')).sort()).toEqual(['client', 'owner']);
    const client = await engine.open({ path: repo, passphrase: CLIENT, pin: init.pin });
    expect(client.pin.role).toBe('client');
    const point = await client.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    await expectAppError(client.restore({ pointId: point.id, source: image, target: path.join(base, 'client.img'), skipIdentical: false }), 'OWNER_KEY_REQUIRED');
    await client.close();
    const owner = await engine.open({ path: repo, passphrase: OWNER, pin: client.pin });
    expect(owner.pin.role).toBe('owner');
    await owner.restore({ pointId: point.id, source: image, target: path.join(base, 'owner.img'), skipIdentical: false });
    await owner.close();
    expect(sha256(path.join(base, 'owner.img'))).toBe(sha256(image));
  });

  it.each([
    { name: 'no owner passphrase (format 3 is always encrypted)', passphrase: undefined, client: CLIENT, words: /always encrypted/ },
    { name: 'equal passphrases', passphrase: OWNER, client: OWNER, words: /must differ/ },
    { name: 'an empty client passphrase', passphrase: OWNER, client: '', words: /must not be empty/ },
  ])('init refuses $name before writing anything', async ({ passphrase, client, words }) => {
    const base = scratch('v3-init-refused');
    tmp.push(base);
    const repo = path.join(base, 'repo');
    await expectAppError(engine.init({ path: repo, ...(passphrase !== undefined && { passphrase }), appendOnly: { clientPassphrase: client } }), 'INVALID_ARGUMENT', words);
    expect(fs.existsSync(repo)).toBe(false);
  });
});

describe('hostile format-3 config', () => {
  /** The config with another public key and a MAC made with the client's keys: what a taken-over client can write. */
  async function forgePublicKey(repo: string): Promise<void> {
    const config = await readV3(repo);
    const client = await unlockRepository(repo, config, CLIENT, undefined);
    const forged = sealConfig({ ...config, publicKey: boxKeypair().publicKey.toString('base64') }, client.keys);
    fs.writeFileSync(path.join(repo, 'config'), JSON.stringify(forged, null, 2) + '\n');
  }

  it('a public key swapped in with a valid MAC (a client can make one) is REPO_CONFIG_CHANGED for owner and client', async () => {
    const { repo } = await makeV3('v3-swap-pk');
    await forgePublicKey(repo);
    const config = await readV3(repo);
    await expectAppError(unlockRepository(repo, config, OWNER, undefined), 'REPO_CONFIG_CHANGED', /public key is not the one in keys\/owner/);
    await expectAppError(unlockRepository(repo, config, CLIENT, undefined), 'REPO_CONFIG_CHANGED', /public key is not the one in keys\/client/);
  });

  it('a computer that pinned the public key refuses a swapped one before deriving any key', async () => {
    const { repo, config } = await makeV3('v3-swap-pinned');
    const { pin } = await unlockRepository(repo, config, CLIENT, undefined);
    await forgePublicKey(repo);
    // Any passphrase: the pin is checked first.
    await expectAppError(unlockRepository(repo, await readV3(repo), 'anything', pin), 'REPO_CONFIG_CHANGED', /public key is not the one this computer knows/);
  });

  it('a public key swapped without the keys fails the MAC', async () => {
    const { repo } = await makeV3('v3-swap-nomac');
    fs.writeFileSync(path.join(repo, 'config'), JSON.stringify({ ...rawConfig(repo), publicKey: boxKeypair().publicKey.toString('base64') }));
    await expectAppError(unlockRepository(repo, await readV3(repo), CLIENT, undefined), 'REPO_CONFIG_CHANGED', /MAC does not match/);
  });

  it('a repository this computer pinned in format 2 that claims format 3 is refused', async () => {
    const { repo, config } = await makeV3('v3-upgraded-pin');
    const pin: RepoPin = { id: config.id, encryption: config.encryption, chunkId: config.chunkId, kdf: 'argon2id13', minVersion: 2, mac: true };
    await expectAppError(unlockRepository(repo, config, OWNER, pin), 'REPO_CONFIG_CHANGED', /was format 2 when this computer added it, and now claims format 3/);
    // The pin a format-3 repository gets before unlocking names its public key already.
    expect(pinOf(config).publicKey).toBe(publicKeyCheck(Buffer.from(config.publicKey, 'base64')));
  });

  it('format 3 is refused by a format-2 reader as newer, not as damage of a field', async () => {
    const { repo } = await makeV3('v3-old-reader');
    await expectAppError(readConfig(repo, 2), 'REPO_CORRUPT', /^repository format 3 is newer than this Snapkeep \(2\): it needs a newer Snapkeep$/);
  });

  it.each([
    { name: 'a kdf (formats 1-2 only)', edit: (c: Record<string, unknown>) => ({ ...c, kdf: { algorithm: 'argon2id13', opsLimit: 3, memLimit: 1 << 26, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' } }), words: /kdf/ },
    { name: 'a keys field', edit: (c: Record<string, unknown>) => ({ ...c, keys: 'AAAA' }), words: /keys/ },
    { name: 'no encryption', edit: (c: Record<string, unknown>) => ({ ...c, encryption: 'none' }), words: /always encrypted/ },
    { name: 'a 31-byte public key', edit: (c: Record<string, unknown>) => ({ ...c, publicKey: Buffer.alloc(31, 1).toString('base64') }), words: /publicKey/ },
    { name: 'no MAC', edit: ({ mac: _mac, ...c }: Record<string, unknown>) => c, words: /mac/ },
    { name: 'no chunk-id algorithm', edit: ({ chunkId: _c, ...c }: Record<string, unknown>) => c, words: /chunkId/ },
  ])('a config of format 3 with $name is REPO_CORRUPT naming it', async ({ edit, words }) => {
    const { repo } = await makeV3('v3-config-fields');
    fs.writeFileSync(path.join(repo, 'config'), JSON.stringify(edit(rawConfig(repo))));
    await expectAppError(readConfig(repo), 'REPO_CORRUPT', words);
  });
});

describe('hostile key objects', () => {
  it("another repository's key object is refused by its id, and by its AD when the id is edited", async () => {
    const a = await makeV3('v3-other-slot', 'a');
    const b = await makeV3('v3-other-slot-b', 'b');
    // Same passphrases in both: only the repository tells them apart.
    fs.copyFileSync(path.join(b.repo, 'keys', 'client'), path.join(a.repo, 'keys', 'client'));
    fs.copyFileSync(path.join(b.repo, 'keys', 'owner'), path.join(a.repo, 'keys', 'owner'));
    await expectAppError(unlockRepository(a.repo, a.config, CLIENT, undefined), 'REPO_CORRUPT', new RegExp(`keys/owner of .* belongs to repository ${b.config.id}, not to this one \\(${a.config.id}\\)`));
    for (const role of ['owner', 'client'] as const)
      fs.writeFileSync(path.join(a.repo, 'keys', role), JSON.stringify({ ...rawSlot(b.repo, role), repository: a.config.id }));
    await expectAppError(unlockRepository(a.repo, a.config, CLIENT, undefined), 'WRONG_PASSPHRASE');
    await expectAppError(unlockRepository(a.repo, a.config, OWNER, undefined), 'WRONG_PASSPHRASE');
  });

  it('keys/client copied over keys/owner does not open as the owner', async () => {
    const { repo, config } = await makeV3('v3-moved-slot');
    fs.copyFileSync(path.join(repo, 'keys', 'client'), path.join(repo, 'keys', 'owner'));
    expect((await unlockRepository(repo, config, CLIENT, undefined)).keys.role).toBe('client');
    await expectAppError(unlockRepository(repo, config, OWNER, undefined), 'WRONG_PASSPHRASE');
  });

  const sealedOf = (n: number) => randomBytes(n).toString('base64');
  it.each([
    { name: 'not JSON', role: 'owner', edit: () => '{"version":1,', words: /keys\/owner is not valid JSON/ },
    { name: 'of 5 KiB', role: 'owner', edit: (s: Record<string, unknown>) => JSON.stringify({ ...s, pad: 'x'.repeat(5000) }), words: /more than such a file may have/ },
    { name: 'with an unknown field', role: 'owner', edit: (s: Record<string, unknown>) => JSON.stringify({ ...s, retired: [] }), words: /keys\/owner is damaged .*retired/ },
    { name: 'of version 2', role: 'client', edit: (s: Record<string, unknown>) => JSON.stringify({ ...s, version: 2 }), words: /keys\/client is damaged .*version/ },
    { name: 'with an Argon2id memory of 1 TiB', role: 'owner', edit: (s: Record<string, unknown>) => JSON.stringify({ ...s, kdf: { ...(s['kdf'] as object), memLimit: 2 ** 40 } }), words: /kdf\.memLimit/ },
    { name: 'with 100 sealed bytes (a client object is 136)', role: 'client', edit: (s: Record<string, unknown>) => JSON.stringify({ ...s, sealed: sealedOf(100) }), words: /keys\/client of .* is damaged: its sealed keys are 100 bytes/ },
    { name: 'with 16 retired keys (at most 15)', role: 'owner', edit: (s: Record<string, unknown>) => JSON.stringify({ ...s, sealed: sealedOf(136 + 16 * 32) }), words: /sealed keys are 648 bytes/ },
    { name: 'with sealed keys that are not base64', role: 'owner', edit: (s: Record<string, unknown>) => JSON.stringify({ ...s, sealed: '!'.repeat(40) }), words: /sealed: must be base64/ },
  ] as const)('keys/$role $name is REPO_CORRUPT, whichever passphrase is given', async ({ role, edit, words }) => {
    const { repo, config } = await makeV3('v3-bad-slot');
    fs.writeFileSync(path.join(repo, 'keys', role), edit(rawSlot(repo, role)));
    // The owner's object is read first, the client's when the owner's does not open.
    for (const passphrase of role === 'owner' ? [OWNER, CLIENT] : [CLIENT]) await expectAppError(unlockRepository(repo, config, passphrase, undefined), 'REPO_CORRUPT', words);
  });

  it('a missing keys/owner is damage, not a client repository', async () => {
    const { repo, config } = await makeV3('v3-missing-slot');
    fs.rmSync(path.join(repo, 'keys', 'owner'));
    await expectAppError(unlockRepository(repo, config, CLIENT, undefined), 'REPO_CORRUPT', /lacks its key object keys\/owner/);
  });

  it('a key object that is a symbolic link is REPO_UNSAFE and not followed', async () => {
    const { base, repo, config } = await makeV3('v3-link-slot');
    const outside = path.join(base, 'outside-owner');
    fs.renameSync(path.join(repo, 'keys', 'owner'), outside);
    fs.symlinkSync(outside, path.join(repo, 'keys', 'owner'));
    await expectAppError(unlockRepository(repo, config, OWNER, undefined), 'REPO_UNSAFE');
  });
});
