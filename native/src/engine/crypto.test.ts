import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { aeadOpen, aeadSeal, boxKeypair, deriveKey, EnvelopeType, isNativeEngineError, kdfSaltBytes, openSealedKey, sealKey } from '../../engine';
import { newRepo, scratchDir } from './test-support';

/** What `fn` threw (undefined when it returned). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

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

  it('layout 1: encrypted envelopes are sealed under the data key (RepoKeys.meta = enc), header as associated data', () => {
    const encKey = randomBytes(32);
    const sealed = newRepo(scratchDir(), true, { encKey }).sealEnvelope(EnvelopeType.manifest, Buffer.from('{"v":1}'));
    expect(aeadOpen(encKey, sealed.subarray(8), sealed.subarray(0, 8))?.toString()).toBe('{"v":1}');
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

describe('sealed keys (crypto_box_seal, append-only repositories)', () => {
  it('a key sealed to a public key opens with its key pair, and every seal and pair differs', () => {
    const pair = boxKeypair();
    expect(pair.publicKey.length).toBe(32);
    expect(pair.secretKey.length).toBe(32);
    expect(boxKeypair().publicKey.equals(pair.publicKey)).toBe(false);
    const key = randomBytes(32);
    const sealed = sealKey(pair.publicKey, key);
    expect(sealed.length).toBe(80);
    expect(openSealedKey(pair.publicKey, pair.secretKey, sealed).equals(key)).toBe(true);
    // a fresh ephemeral key per seal: two seals of one key share nothing
    const again = sealKey(pair.publicKey, key);
    expect(again.equals(sealed)).toBe(false);
    expect(openSealedKey(pair.publicKey, pair.secretKey, again).equals(key)).toBe(true);
  });

  it('a key sealed to another key pair does not open: REPO_CORRUPT, not a wrong passphrase', () => {
    const pair = boxKeypair();
    const other = boxKeypair();
    const sealed = sealKey(pair.publicKey, randomBytes(32));
    for (const [pk, sk] of [
      [other.publicKey, other.secretKey],
      [pair.publicKey, other.secretKey],
    ] as const) {
      const e = thrown(() => openSealedKey(pk, sk, sealed));
      expect(isNativeEngineError(e) && e.code).toBe('REPO_CORRUPT');
      expect(isNativeEngineError(e) && e.message).toMatch(/sealed key does not open/);
    }
  });

  it('a sealed key with any byte flipped does not open: REPO_CORRUPT', () => {
    const pair = boxKeypair();
    const sealed = sealKey(pair.publicKey, randomBytes(32));
    for (let at = 0; at < sealed.length; at++) {
      const bad = Buffer.from(sealed);
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      const e = thrown(() => openSealedKey(pair.publicKey, pair.secretKey, bad));
      expect(isNativeEngineError(e) && e.code, `byte ${at}`).toBe('REPO_CORRUPT');
    }
  });

  it('refuses wrong lengths where JS hands keys over, and a low-order public key as REPO_CORRUPT', () => {
    const pair = boxKeypair();
    const sealed = sealKey(pair.publicKey, randomBytes(32));
    expect(() => sealKey(pair.publicKey.subarray(1), randomBytes(32))).toThrow(TypeError);
    expect(() => sealKey(pair.publicKey, randomBytes(33))).toThrow(TypeError);
    expect(() => sealKey('pk' as unknown as Buffer, randomBytes(32))).toThrow(TypeError);
    expect(() => openSealedKey(pair.publicKey, pair.secretKey, sealed.subarray(0, 79))).toThrow(TypeError);
    expect(() => openSealedKey(pair.publicKey, pair.secretKey, Buffer.concat([sealed, Buffer.alloc(1)]))).toThrow(TypeError);
    expect(() => openSealedKey(pair.publicKey, Buffer.alloc(0), sealed)).toThrow(TypeError);
    expect(() => openSealedKey(Buffer.alloc(31), pair.secretKey, sealed)).toThrow(TypeError);
    // the all-zero point has order 1: no shared secret, nothing to seal to
    const e = thrown(() => sealKey(Buffer.alloc(32), randomBytes(32)));
    expect(isNativeEngineError(e) && e.code).toBe('REPO_CORRUPT');
  });
});
