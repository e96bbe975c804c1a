// Key-pair rotation of an append-only (format 3) repository on a local path
// (issue 17, docs/append-only-design.md §2.9, key-rotate.ts): the owner's
// rotation keeps the old secret key as retired, so every old point still
// restores; new client backups seal to the new public key and restore; a
// client that pinned the old key is REPO_CONFIG_CHANGED until it is added
// again; a rotation cut after keys/owner (or keys/client) was written leaves
// a repository the owner opens and clients back up to, and the next rotation
// finishes it with the pair already written (only the newest retired pair
// is taken as such a cut). Refused before any write: a
// client handle, a wrong owner passphrase, empty or equal passphrases, a
// format-2 repository. One append-only init (two Argon2id runs).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../electron/core/engine/api';
import type { RepoPin } from '../../../../electron/core/engine/config-pin';
import { makeImage, mutate, sha256, tempDir } from './fixtures';

const OWNER = 'owner passphrase 1';
const CLIENT = 'client passphrase 1';
const CLIENT2 = 'client passphrase 2';

describe('rotating the key pair of an append-only repository', () => {
  const dir = tempDir('v3-key-rotate');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const repo = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  const files = () => ['config', 'keys/owner', 'keys/client'].map((f) => fs.readFileSync(path.join(repo, f), 'utf8'));
  const publicKey = () => (JSON.parse(fs.readFileSync(path.join(repo, 'config'), 'utf8')) as { publicKey: string }).publicKey;
  /** Secret keys sealed in keys/owner: nonce 24, id key, metadata key, 32 bytes each, tag 16. */
  const ownerKeys = () => (Buffer.from((JSON.parse(fs.readFileSync(path.join(repo, 'keys/owner'), 'utf8')) as { sealed: string }).sealed, 'base64').length - 24 - 64 - 16) / 32;
  const shas: string[] = [];
  /** The config as created: MAC'd with keys every client holds, naming the first pair. */
  let firstConfig: Buffer | undefined;
  const ids: string[] = [];

  /** A client backup of the image after a small change; `pin` as a registry would give it. */
  async function clientBackup(passphrase: string, pin?: RepoPin): Promise<RepoPin> {
    const client = await engine.open({ path: repo, passphrase, cacheDir: null, ...(pin && { pin }) });
    try {
      expect(client.role).toBe('client');
      mutate(image, 0.01, shas.length + 1);
      shas.push(sha256(image));
      ids.push((await client.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id);
      return client.pin;
    } finally {
      await client.close();
    }
  }

  /** Every point so far restores byte for byte with the owner passphrase, and verify --data is clean. */
  async function ownerRestoresAll(): Promise<void> {
    const owner: RepositoryHandle = await engine.open({ path: repo, passphrase: OWNER, cacheDir: null });
    try {
      const restored = path.join(dir, 'restored.img');
      for (const [i, id] of ids.entries()) {
        fs.rmSync(restored, { force: true });
        await owner.restore({ pointId: id, source: image, target: restored, skipIdentical: false });
        expect(sha256(restored), `point ${i}`).toBe(shas[i]);
      }
      expect((await owner.verify({ data: true })).problems).toEqual([]);
    } finally {
      await owner.close();
    }
  }

  it('keeps the old secret key, seals new backups to the new key, and makes pinned clients add the repository again', async () => {
    makeImage(image, 2 * 1024 * 1024, 23);
    await (await engine.init({ path: repo, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: null })).close();
    const oldPin = await clientBackup(CLIENT);
    const oldKey = publicKey();
    firstConfig = fs.readFileSync(path.join(repo, 'config'));

    const client = await engine.open({ path: repo, passphrase: CLIENT, pin: oldPin, cacheDir: null });
    try {
      const before = files();
      await expect(client.rotateKeyPair({ ownerPassphrase: OWNER, clientPassphrase: CLIENT })).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED', message: /rotating the key pair needs the owner's key/ });
      expect(files()).toEqual(before);
    } finally {
      await client.close();
    }

    const owner = await engine.open({ path: repo, passphrase: OWNER, cacheDir: null });
    try {
      const before = files();
      await expect(owner.rotateKeyPair({ ownerPassphrase: OWNER, clientPassphrase: OWNER })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /must differ from the owner passphrase/ });
      await expect(owner.rotateKeyPair({ ownerPassphrase: OWNER, clientPassphrase: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /must not be empty/ });
      await expect(owner.rotateKeyPair({ ownerPassphrase: OWNER, clientPassphrase: CLIENT, newOwnerPassphrase: CLIENT })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: /must differ from the owner passphrase/,
      });
      await expect(owner.rotateKeyPair({ ownerPassphrase: OWNER, clientPassphrase: CLIENT, newOwnerPassphrase: '' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: /new owner passphrase must not be empty/,
      });
      await expect(owner.rotateKeyPair({ ownerPassphrase: 'not the owner passphrase', clientPassphrase: CLIENT })).rejects.toMatchObject({
        code: 'WRONG_PASSPHRASE',
        message: /owner passphrase given does not open keys\/owner/,
      });
      expect(files()).toEqual(before);

      const r = await owner.rotateKeyPair({ ownerPassphrase: OWNER, clientPassphrase: CLIENT });
      expect(r).toMatchObject({ previousPublicKey: oldPin.publicKey, retiredKeys: 1, finished: false, clientPassphraseChanged: false, ownerPassphraseChanged: false });
      expect(r.publicKey).not.toBe(oldPin.publicKey);
      expect(r.pin).toMatchObject({ publicKey: r.publicKey, role: 'owner' });
      expect(publicKey()).not.toBe(oldKey);
      expect(ownerKeys()).toBe(2);
      expect(fs.readdirSync(path.join(repo, 'keys')).sort()).toEqual(['client', 'owner']);
      // This handle's engine still holds the old pair: it only lists and closes.
      await expect(owner.verify({ data: false })).rejects.toMatchObject({ code: 'CONFLICT', message: /was rotated through this handle: open the repository again/ });
    } finally {
      await owner.close();
    }

    // Pinned to the old key: refused before any key derivation, like a changed host key.
    await expect(engine.open({ path: repo, passphrase: CLIENT, pin: oldPin, cacheDir: null })).rejects.toMatchObject({
      code: 'REPO_CONFIG_CHANGED',
      message: /public key is not the one this computer knows/,
    });
    // Added again (a registry reads the pin, then opens with the client passphrase): it backs up.
    const newPin = await clientBackup(CLIENT, { ...(await engine.readPin(repo)), role: 'client' });
    expect(newPin.publicKey).not.toBe(oldPin.publicKey);
    // A new client, no pin: the same.
    await clientBackup(CLIENT);
    await ownerRestoresAll();
  }, 240_000);

  it('leaves a repository the owner opens when cut before the config is written, and finishes on the next rotation', async () => {
    const config = fs.readFileSync(path.join(repo, 'config'));
    const clientKey = fs.readFileSync(path.join(repo, 'keys/client'));
    const owner = await engine.open({ path: repo, passphrase: OWNER, cacheDir: null });
    try {
      expect((await owner.rotateKeyPair({ ownerPassphrase: OWNER, clientPassphrase: CLIENT })).retiredKeys).toBe(2);
    } finally {
      await owner.close();
    }
    // Cut after keys/client was written: the config of before. Clients are
    // refused (their key object names another key); the owner opens.
    fs.writeFileSync(path.join(repo, 'config'), config);
    await expect(engine.open({ path: repo, passphrase: CLIENT, cacheDir: null })).rejects.toMatchObject({ code: 'REPO_CONFIG_CHANGED', message: /public key is not the one in keys\/client/ });
    const cut = await engine.open({ path: repo, passphrase: OWNER, cacheDir: null });
    await cut.close();
    // Cut after keys/owner was written: keys/client of before too.
    fs.writeFileSync(path.join(repo, 'keys/client'), clientKey);
    expect(ownerKeys()).toBe(3);
    // A client goes on sealing to the key of before, whose secret key the owner keeps.
    await clientBackup(CLIENT);
    await ownerRestoresAll();

    const again = await engine.open({ path: repo, passphrase: OWNER, cacheDir: null });
    try {
      const r = await again.rotateKeyPair({ ownerPassphrase: OWNER, clientPassphrase: CLIENT2 });
      // Finished with the pair already in keys/owner: no fourth key.
      expect(r).toMatchObject({ finished: true, retiredKeys: 2, clientPassphraseChanged: true });
      expect(ownerKeys()).toBe(3);
    } finally {
      await again.close();
    }
    await expect(engine.open({ path: repo, passphrase: CLIENT, cacheDir: null })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    await clientBackup(CLIENT2);
    await ownerRestoresAll();

    // Only the newest retired pair is taken as a cut rotation: a config put
    // back to an older one (a client can make its MAC) is refused.
    const current = fs.readFileSync(path.join(repo, 'config'));
    fs.writeFileSync(path.join(repo, 'config'), firstConfig ?? '');
    await expect(engine.open({ path: repo, passphrase: OWNER, cacheDir: null })).rejects.toMatchObject({ code: 'REPO_CONFIG_CHANGED', message: /not the one in keys\/owner/ });
    fs.writeFileSync(path.join(repo, 'config'), current);
  }, 240_000);

  it('is refused for a format-2 repository, which has no key pair', async () => {
    const plain = path.join(dir, 'plain');
    const h = await engine.init({ path: plain, cacheDir: null });
    try {
      await expect(h.rotateKeyPair({ ownerPassphrase: 'a', clientPassphrase: 'b' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: /key commands need an append-only repository \(format 3\)/,
      });
      expect(fs.existsSync(path.join(plain, 'keys'))).toBe(false);
      expect(fs.readdirSync(path.join(plain, 'locks'))).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
