// Passphrase changes of an append-only (format 3) repository on a local path
// (issue 17, docs/append-only-design.md §2.9): the owner seals a key object
// again under a new passphrase; the old one then fails WRONG_PASSPHRASE, the
// new one opens with the right role and the same pin, the owner still
// restores every point and a client still backs up. Refused before any
// write: a client handle, an empty passphrase, one that opens the other key
// object, a format-2 repository. One append-only init (two Argon2id runs).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../electron/core/engine/api';
import { makeImage, mutate, sha256, tempDir } from './fixtures';

const OWNER = 'owner passphrase 1';
const CLIENT = 'client passphrase 1';
const OWNER2 = 'owner passphrase 2';
const CLIENT2 = 'client passphrase 2';

describe('changing a passphrase of an append-only repository', () => {
  const dir = tempDir('v3-key-change');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const repo = path.join(dir, 'repo');
  const keyFile = (role: 'owner' | 'client') => fs.readFileSync(path.join(repo, 'keys', role), 'utf8');
  const salt = (role: 'owner' | 'client') => (JSON.parse(keyFile(role)) as { kdf: { salt: string } }).kdf.salt;

  it('rewraps the named key object only, for the owner only, and everything still opens', async () => {
    const image = path.join(dir, 'disk.img');
    makeImage(image, 2 * 1024 * 1024, 17);
    await (await engine.init({ path: repo, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: null })).close();
    const shas = [sha256(image)];
    const ids: string[] = [];
    const client = await engine.open({ path: repo, passphrase: CLIENT, cacheDir: null });
    try {
      ids.push((await client.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id);
      const before = [keyFile('owner'), keyFile('client')];
      for (const role of ['owner', 'client'] as const)
        await expect(client.changePassphrase({ role, newPassphrase: 'x' })).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED', message: /can only add backups/ });
      expect([keyFile('owner'), keyFile('client')]).toEqual(before);
    } finally {
      await client.close();
    }

    const owner = await engine.open({ path: repo, passphrase: OWNER, cacheDir: null });
    const pin = owner.pin;
    try {
      const before = [keyFile('owner'), keyFile('client')];
      await expect(owner.changePassphrase({ role: 'owner', newPassphrase: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /must not be empty/ });
      // Equal to the other role's: found by opening the other key object with it.
      await expect(owner.changePassphrase({ role: 'owner', newPassphrase: CLIENT })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: /new owner passphrase must differ from the client passphrase/,
      });
      await expect(owner.changePassphrase({ role: 'client', newPassphrase: OWNER })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: /new client passphrase must differ from the owner passphrase/,
      });
      expect([keyFile('owner'), keyFile('client')]).toEqual(before);

      const clientSalt = salt('client');
      const ownerSalt = salt('owner');
      await owner.changePassphrase({ role: 'owner', newPassphrase: OWNER2 });
      expect(salt('owner')).not.toBe(ownerSalt);
      expect(salt('client')).toBe(clientSalt);
      await owner.changePassphrase({ role: 'client', newPassphrase: CLIENT2 });
      expect(salt('client')).not.toBe(clientSalt);
      // Written beside and renamed: no temp file left in keys/.
      expect(fs.readdirSync(path.join(repo, 'keys')).sort()).toEqual(['client', 'owner']);
    } finally {
      await owner.close();
    }

    for (const old of [OWNER, CLIENT]) await expect(engine.open({ path: repo, passphrase: old, cacheDir: null })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });

    // The keys are the same: the pin of before still holds, and a client backs up with the new passphrase.
    const client2 = await engine.open({ path: repo, passphrase: CLIENT2, pin, cacheDir: null });
    try {
      expect(client2.role).toBe('client');
      mutate(image, 0.01, 3);
      shas.push(sha256(image));
      ids.push((await client2.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id);
    } finally {
      await client2.close();
    }
    const owner2: RepositoryHandle = await engine.open({ path: repo, passphrase: OWNER2, pin, cacheDir: null });
    try {
      expect(owner2.role).toBe('owner');
      const restored = path.join(dir, 'restored.img');
      for (const [i, id] of ids.entries()) {
        fs.rmSync(restored, { force: true });
        await owner2.restore({ pointId: id, source: image, target: restored, skipIdentical: false });
        expect(sha256(restored)).toBe(shas[i]);
      }
      expect((await owner2.verify({ data: true })).problems).toEqual([]);
    } finally {
      await owner2.close();
    }
  }, 180_000);

  it('is refused for a format-2 repository, which has no key objects', async () => {
    const plain = path.join(dir, 'plain');
    const h = await engine.init({ path: plain, cacheDir: null });
    try {
      await expect(h.changePassphrase({ role: 'owner', newPassphrase: 'new' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: /key commands need an append-only repository \(format 3\)/,
      });
      expect(fs.existsSync(path.join(plain, 'keys'))).toBe(false);
    } finally {
      await h.close();
    }
  });
});
