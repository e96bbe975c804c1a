import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { aeadOpen, aeadSeal, deriveKey, kdfSaltBytes } from '../../engine';
import { newRepo, scratchDir } from './test-support';

describe('crypto (libsodium)', () => {
  it('Argon2id is deterministic per passphrase and salt, and differs otherwise', async () => {
    const salt = randomBytes(kdfSaltBytes());
    const a = await deriveKey('pass', salt, 2, 8 << 20);
    expect(a.length).toBe(32);
    expect((await deriveKey('pass', salt, 2, 8 << 20)).equals(a)).toBe(true);
    expect((await deriveKey('pasS', salt, 2, 8 << 20)).equals(a)).toBe(false);
    expect((await deriveKey('pass', randomBytes(kdfSaltBytes()), 2, 8 << 20)).equals(a)).toBe(false);
  });

  it('XChaCha20-Poly1305 opens what it sealed and rejects tampering, a wrong key or wrong associated data', () => {
    const key = randomBytes(32);
    const sealed = aeadSeal(key, Buffer.from('secret'), Buffer.from('ad'));
    expect(sealed.length).toBe(24 + 6 + 16);
    expect(aeadOpen(key, sealed, Buffer.from('ad'))?.toString()).toBe('secret');
    expect(aeadOpen(randomBytes(32), sealed, Buffer.from('ad'))).toBeNull();
    expect(aeadOpen(key, sealed, Buffer.from('other'))).toBeNull();
    const bad = Buffer.from(sealed);
    bad[30] = (bad[30] ?? 0) ^ 1;
    expect(aeadOpen(key, bad, Buffer.from('ad'))).toBeNull();
    // random nonces: the same message never seals to the same bytes
    expect(aeadSeal(key, Buffer.from('secret'), Buffer.from('ad')).equals(sealed)).toBe(false);
  });

  it('chunk ids are keyed BLAKE2b-256: stable per key, different across keys', () => {
    const dir = scratchDir();
    const a = newRepo(dir, false);
    const b = newRepo(dir, false);
    const data = Buffer.from('chunk');
    expect(a.chunkId(data).length).toBe(32);
    expect(a.chunkId(data).equals(a.chunkId(Buffer.from('chunk')))).toBe(true);
    expect(a.chunkId(data).equals(b.chunkId(data))).toBe(false);
  });
});
