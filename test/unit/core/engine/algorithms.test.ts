// The algorithm sets (docs/repository-format.md, "Algorithms"): a new
// repository records its chunk-id algorithm and AEAD in its config; both
// sets round-trip (full, incremental from tracker ranges, restore, verify
// with data); the fast AEAD detects tampering; a config naming an unknown
// algorithm is refused by name with nothing written; a config switched to
// another algorithm is refused (MAC, pin).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { readConfig } from '../../../../electron/core/engine/config';
import { checkPin } from '../../../../electron/core/engine/config-pin';
import { EnvelopeType, fastCryptoAvailable, openNativeRepo } from '../../../../native/engine';
import { cleanup, expectAppError, makeImage, scratch, sha256 } from './hostile-support';
import { mutate } from './fixtures';

const SIZE = 6 * 1024 * 1024;
const CHUNK = 64 * 1024;
const tmp: string[] = [];
afterAll(() => cleanup(tmp));

function configOf(repo: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(repo, 'config'), 'utf8')) as Record<string, unknown>;
}

/** Every file under `dir` with its size and mtime: "nothing written" is this map unchanged. */
function treeState(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.statSync(p);
      out.set(path.relative(dir, p), `${e.isDirectory() ? 'd' : st.size}:${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** The first pack file of a repository. */
function firstPack(repo: string): string {
  const root = path.join(repo, 'packs');
  for (const d of fs.readdirSync(root).sort()) {
    const files = fs.readdirSync(path.join(root, d)).sort();
    if (files[0] !== undefined) return path.join(root, d, files[0]);
  }
  throw new Error('no pack');
}

const SETS = [
  { set: 'classic', chunkId: 'blake2b-keyed', aead: 'xchacha20poly1305', passphrase: undefined },
  { set: 'classic', chunkId: 'blake2b-keyed', aead: 'xchacha20poly1305', passphrase: 'pw classic' },
  { set: 'fast', chunkId: 'hmac-sha256', aead: 'aes256gcm', passphrase: undefined },
  { set: 'fast', chunkId: 'hmac-sha256', aead: 'aes256gcm', passphrase: 'pw fast' },
] as const;

describe.each(SETS)('algorithm set $set (passphrase: $passphrase)', ({ set, chunkId, aead, passphrase }) => {
  it('records its algorithms, shows them in info, and round-trips full + incremental through restore and verify', async () => {
    const dir = scratch(`alg-${set}`);
    tmp.push(dir);
    const image = path.join(dir, 'disk.img');
    const repoPath = path.join(dir, 'repo');
    makeImage(image, SIZE, 11);
    const pw = passphrase !== undefined ? { passphrase } : {};
    const repo = await engine.init({ path: repoPath, chunkSize: CHUNK, algorithms: set, ...pw });

    const encryption = passphrase === undefined ? 'none' : aead;
    const config = configOf(repoPath);
    expect(config['chunkId']).toBe(chunkId);
    expect(config['encryption']).toBe(encryption);
    expect((await repo.info()).algorithms).toEqual({ chunkId, encryption });

    const cbt = (number: number) => ({ generation: 'g', number, blockSize: CHUNK });
    const full = await repo.backup({ sources: [{ source: image, readFrom: image, cbt: cbt(1) }], compressionLevel: 3, jobId: 'j' });
    const shaFull = sha256(image);
    const ranges = mutate(image, 0.02, 5);
    const inc = await repo.backup({
      sources: [{ source: image, readFrom: image, cbt: cbt(2), changes: { generation: 'g', sinceNumber: 1, ranges } }],
      compressionLevel: 3,
      jobId: 'j',
    });
    expect(inc.kind).toBe('incremental');
    const shaInc = sha256(image);
    expect(shaInc).not.toBe(shaFull);
    await repo.close();

    // Reopened from its config alone: the algorithms come from there.
    const again = await engine.open({ path: repoPath, ...pw });
    for (const [id, sha] of [
      [full.id, shaFull],
      [inc.id, shaInc],
    ] as const) {
      const target = path.join(dir, `restore-${id}.img`);
      const r = await again.restore({ pointId: id, source: image, target, skipIdentical: false });
      expect(r.verified).toBe(true);
      expect(sha256(target)).toBe(sha);
    }
    const report = await again.verify({ data: true });
    expect(report.problems ?? []).toEqual([]);
    expect(report.ok).toBe(true);
    await again.close();
  });
});

describe('algorithm choice', () => {
  it('a new repository gets the fast set exactly when the CPU has the instructions', async () => {
    const dir = scratch('alg-auto');
    tmp.push(dir);
    await (await engine.init({ path: path.join(dir, 'repo') })).close();
    expect(configOf(path.join(dir, 'repo'))['chunkId']).toBe(fastCryptoAvailable() ? 'hmac-sha256' : 'blake2b-keyed');
  });

  it('the two sets give different chunk ids for the same key and data, and an envelope opens only under its own AEAD', () => {
    const dir = scratch('alg-native');
    tmp.push(dir);
    const idKey = Buffer.alloc(32, 7);
    const encKey = Buffer.alloc(32, 9);
    const base = { path: path.join(dir, 'repo'), idKey, encKey, version: 2 };
    fs.mkdirSync(base.path);
    const classic = openNativeRepo(base);
    const fast = openNativeRepo({ ...base, chunkIdAlg: 'hmac-sha256', aead: 'aes256gcm' });
    const data = Buffer.from('the same chunk');
    expect(fast.chunkId(data).equals(classic.chunkId(data))).toBe(false);
    expect(fast.chunkId(data).equals(fast.chunkId(Buffer.from('the same chunk')))).toBe(true);

    const payload = Buffer.from('a manifest');
    const sealed = fast.sealEnvelope(EnvelopeType.manifest, payload);
    // Same overhead as XChaCha20-Poly1305: 8 header + 24 nonce + 16 tag.
    expect(sealed.length).toBe(8 + 24 + payload.length + 16);
    expect(sealed[5]).toBe(2);
    expect(fast.openEnvelope(EnvelopeType.manifest, sealed)?.toString()).toBe('a manifest');
    expect(classic.openEnvelope(EnvelopeType.manifest, sealed)).toBeNull();
    expect(fast.openEnvelope(EnvelopeType.manifest, classic.sealEnvelope(EnvelopeType.manifest, payload))).toBeNull();
    // Random nonces: the same payload never seals to the same bytes.
    expect(fast.sealEnvelope(EnvelopeType.manifest, payload).equals(sealed)).toBe(false);
    for (let i = 8; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      expect(fast.openEnvelope(EnvelopeType.manifest, bad), `flipped byte ${i}`).toBeNull();
    }
    expect(() => openNativeRepo({ ...base, aead: 'aes128gcm' as never })).toThrow(/aead must be/);
    expect(() => openNativeRepo({ ...base, chunkIdAlg: 'blake3' as never })).toThrow(/chunkIdAlg must be/);
  });
});

describe('hostile configs and the fast set', () => {
  it('a flipped bit in an AES-256-GCM blob fails verify and restore, naming the chunk', async () => {
    const dir = scratch('alg-tamper');
    tmp.push(dir);
    const image = path.join(dir, 'disk.img');
    const repoPath = path.join(dir, 'repo');
    makeImage(image, 2 * 1024 * 1024, 3);
    const repo = await engine.init({ path: repoPath, chunkSize: CHUNK, algorithms: 'fast', passphrase: 'pw' });
    const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 3, jobId: 'j' });
    await repo.close();
    const pack = firstPack(repoPath);
    const bytes = fs.readFileSync(pack);
    // Inside the first blob's ciphertext: pack header 8 + nonce 24.
    bytes[8 + 24 + 5] = (bytes[8 + 24 + 5] ?? 0) ^ 0x10;
    fs.writeFileSync(pack, bytes);

    const again = await engine.open({ path: repoPath, passphrase: 'pw' });
    const report = await again.verify({ data: true });
    expect(report.ok).toBe(false);
    expect(JSON.stringify(report.problems)).toMatch(/fails authentication/);
    await expect(again.restore({ pointId: p.id, source: image, target: path.join(dir, 'out.img'), skipIdentical: false })).rejects.toThrow(
      /fails authentication/,
    );
    await again.close();
  });

  it.each([
    { field: 'chunkId', value: 'blake3-keyed', passphrase: undefined },
    { field: 'encryption', value: 'aes128gcm', passphrase: 'pw' },
    { field: 'chunkId', value: 7, passphrase: 'pw' },
  ])('a config naming $field $value is refused by name, and nothing is written', async ({ field, value, passphrase }) => {
    const dir = scratch('alg-unknown');
    tmp.push(dir);
    const repoPath = path.join(dir, 'repo');
    const pw = passphrase !== undefined ? { passphrase } : {};
    await (await engine.init({ path: repoPath, algorithms: 'fast', ...pw })).close();
    fs.writeFileSync(path.join(repoPath, 'config'), JSON.stringify({ ...configOf(repoPath), [field]: value }));
    const before = treeState(repoPath);
    await expectAppError(engine.open({ path: repoPath, ...pw }), 'REPO_CORRUPT', new RegExp(`names ${field} .*does not know`));
    expect(treeState(repoPath)).toEqual(before);
  });

  it('an encrypted config switched to other algorithms fails its MAC', async () => {
    const dir = scratch('alg-switch');
    tmp.push(dir);
    const repoPath = path.join(dir, 'repo');
    await (await engine.init({ path: repoPath, algorithms: 'fast', passphrase: 'pw' })).close();
    const original = configOf(repoPath);
    const variants = [{ ...original, encryption: 'xchacha20poly1305' }, { ...original, chunkId: 'blake2b-keyed' }, Object.fromEntries(Object.entries(original).filter(([k]) => k !== 'chunkId'))];
    for (const v of variants) {
      fs.writeFileSync(path.join(repoPath, 'config'), JSON.stringify(v));
      await expectAppError(engine.open({ path: repoPath, passphrase: 'pw' }), 'REPO_CONFIG_CHANGED', /MAC/);
    }
  });

  it('an unencrypted config switched to other chunk ids is refused by the pin', async () => {
    const dir = scratch('alg-pin');
    tmp.push(dir);
    const repoPath = path.join(dir, 'repo');
    const repo = await engine.init({ path: repoPath, algorithms: 'fast' });
    const pin = repo.pin;
    await repo.close();
    expect(pin.chunkId).toBe('hmac-sha256');
    fs.writeFileSync(path.join(repoPath, 'config'), JSON.stringify({ ...configOf(repoPath), chunkId: 'blake2b-keyed' }));
    await expectAppError(engine.open({ path: repoPath, pin }), 'REPO_CONFIG_CHANGED', /chunk ids changed from hmac-sha256 to blake2b-keyed/);
    const { chunkId: _dropped, ...withoutField } = configOf(repoPath);
    fs.writeFileSync(path.join(repoPath, 'config'), JSON.stringify(withoutField));
    await expectAppError(engine.open({ path: repoPath, pin }), 'REPO_CONFIG_CHANGED', /chunk ids changed/);
  });

  it('a pin names the AEAD; the stand-in pin of an entry from before pins knows only "encrypted"', async () => {
    const dir = scratch('alg-legacy-pin');
    tmp.push(dir);
    const repoPath = path.join(dir, 'repo');
    await (await engine.init({ path: repoPath, algorithms: 'fast', passphrase: 'pw' })).close();
    const config = await readConfig(repoPath);
    expect(() => checkPin(config, { encryption: 'xchacha20poly1305' }, repoPath)).toThrow(/encryption changed from xchacha20poly1305 to aes256gcm/);
    expect(() => checkPin(config, { encryption: 'xchacha20poly1305', encryptedOnly: true }, repoPath)).not.toThrow();
    expect(() => checkPin({ ...config, encryption: 'none' }, { encryption: 'xchacha20poly1305', encryptedOnly: true }, repoPath)).toThrow(/now claims to be unencrypted/);
    expect(() => checkPin(config, { encryption: 'none', encryptedOnly: true }, repoPath)).toThrow(/not encrypted when this computer added it/);
  });
});
