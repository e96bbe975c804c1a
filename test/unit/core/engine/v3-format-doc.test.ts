// docs/repository-format-v3.md and the code cannot drift: the worked
// example's config is written by the real code (fixed keys, so every byte is
// deterministic) and compared with the document; the example's key objects
// (sealed with a random nonce, so printed once from the code) are opened
// both by the code and by the recipe the document gives; fresh key objects
// the code makes are opened by that recipe; and the field tables name
// exactly the fields of the schemas.
import { createHmac, hkdfSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { aeadOpen, deriveKey } from '../../../../native/engine';
import { RepoConfigV3, isFormat3, readConfig, sealConfig, writeConfig } from '../../../../electron/core/engine/config';
import { unlockRepository } from '../../../../electron/core/engine/engine';
import { type RepoKeys, KeySlot, createAppendOnlyKeys, publicKeyOf, sealKeySlot, slotText } from '../../../../electron/core/engine/keys';
import { docFields } from './doc-tables';
import { scratch } from './fixtures';

const DOC_PATH = path.resolve(__dirname, '../../../../docs/repository-format-v3.md');
const DOC = fs.readFileSync(DOC_PATH, 'utf8');
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The ```json block tagged `name` in the document, as written. */
function docBlock(name: string): string {
  const m = new RegExp('```json ' + name + '\\n([\\s\\S]*?)```').exec(DOC);
  if (!m?.[1]) throw new Error(`docs/repository-format-v3.md has no \`\`\`json ${name} block`);
  return m[1];
}


// The worked example, as the document states it. The secret key is Alice's
// of RFC 7748 section 6.1, whose public key the RFC gives.
const bytes = (from: number) => Buffer.from(Array.from({ length: 32 }, (_, i) => from + i));
const RFC7748_ALICE = {
  secret: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  public: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
};
const EXAMPLE = {
  id: '5e3a0c1d7b2f4a69',
  idKey: bytes(0),
  metaKey: bytes(32),
  secretKey: Buffer.from(RFC7748_ALICE.secret, 'hex'),
  owner: 'owner passphrase',
  client: 'client passphrase',
};
const exampleKeys = (): RepoKeys => ({
  idKey: EXAMPLE.idKey,
  metaKey: EXAMPLE.metaKey,
  publicKey: publicKeyOf(EXAMPLE.secretKey),
  secretKeys: [EXAMPLE.secretKey],
  role: 'owner',
});

/** The example repository's config, sealed by the code. */
function exampleConfig(): RepoConfigV3 {
  return sealConfig(
    {
      format: 'snapkeep-repository',
      version: 3,
      id: EXAMPLE.id,
      createdAt: '2026-12-01T00:00:00.000Z',
      chunkSize: 262144,
      packSize: 16777216,
      encryption: 'xchacha20poly1305',
      chunkId: 'blake2b-keyed',
      publicKey: publicKeyOf(EXAMPLE.secretKey).toString('base64'),
      mac: '',
    },
    exampleKeys(),
  );
}

/** Opens a key object by the document's recipe alone: Argon2id, then XChaCha20-Poly1305 with the AD it gives. */
async function openByRecipe(slot: Record<string, unknown>, role: 'owner' | 'client', passphrase: string, id: string): Promise<Buffer | null> {
  const kdf = slot['kdf'] as { salt: string; opsLimit: number; memLimit: number };
  const kek = await deriveKey(passphrase, Buffer.from(kdf.salt, 'base64'), kdf.opsLimit, kdf.memLimit);
  return aeadOpen(kek, Buffer.from(slot['sealed'] as string, 'base64'), Buffer.from(`snapkeep-${role}-keys-v1${id}`));
}

describe('docs/repository-format-v3.md', () => {
  it('shows the config the code writes for the worked example, with the MAC it describes', async () => {
    const dir = scratch('format3-config');
    tmp.push(dir);
    await writeConfig(dir, exampleConfig());
    const written = fs.readFileSync(path.join(dir, 'config'), 'utf8');
    const printTo = process.env['SNAPKEEP_PRINT_FORMAT'];
    if (printTo) {
      const keys = exampleKeys();
      const owner = slotText(await sealKeySlot('owner', EXAMPLE.owner, keys, EXAMPLE.id));
      const client = slotText(await sealKeySlot('client', EXAMPLE.client, keys, EXAMPLE.id));
      fs.writeFileSync(printTo, `config\n${written}keys/owner\n${owner}keys/client\n${client}`);
    }
    expect(written).toBe(docBlock('example-v3-config'));
    // The MAC by the document's words: HMAC-SHA256("snapkeep-config\0" || JSON
    // with sorted keys and no mac), key HKDF-SHA256(metaKey || idKey, no salt, "snapkeep config mac v2").
    const { mac, ...rest } = JSON.parse(written) as Record<string, unknown>;
    const canonical = JSON.stringify(rest, Object.keys(rest).sort());
    const key = Buffer.from(hkdfSync('sha256', Buffer.concat([EXAMPLE.metaKey, EXAMPLE.idKey]), Buffer.alloc(0), 'snapkeep config mac v2', 32));
    expect(createHmac('sha256', key).update('snapkeep-config\0').update(canonical).digest('base64')).toBe(mac);
    // The public key is the X25519 public key of the example's secret key.
    expect(Buffer.from(rest['publicKey'] as string, 'base64').toString('hex')).toBe(RFC7748_ALICE.public);
  });

  it("shows key objects that open by the document's recipe and by the code, with the documented layout", async () => {
    const owner = docBlock('example-v3-keys-owner');
    const client = docBlock('example-v3-keys-client');
    for (const [role, text, passphrase, last] of [
      ['owner', owner, EXAMPLE.owner, EXAMPLE.secretKey],
      ['client', client, EXAMPLE.client, publicKeyOf(EXAMPLE.secretKey)],
    ] as const) {
      const slot = JSON.parse(text) as Record<string, unknown>;
      expect(KeySlot.parse(slot)).toEqual(slot);
      const plain = await openByRecipe(slot, role, passphrase, EXAMPLE.id);
      expect(plain?.toString('hex')).toBe(Buffer.concat([EXAMPLE.idKey, EXAMPLE.metaKey, last]).toString('hex'));
      // Another repository's id in the AD: it does not open.
      expect(await openByRecipe(slot, role, passphrase, '0000000000000000')).toBeNull();
    }
    // The code opens the example repository with either passphrase.
    const dir = scratch('format3-slots');
    tmp.push(dir);
    fs.mkdirSync(path.join(dir, 'keys'));
    fs.writeFileSync(path.join(dir, 'config'), docBlock('example-v3-config'));
    fs.writeFileSync(path.join(dir, 'keys', 'owner'), owner);
    fs.writeFileSync(path.join(dir, 'keys', 'client'), client);
    const config = await readConfig(dir);
    if (!isFormat3(config)) throw new Error('the example config is not format 3');
    const o = await unlockRepository(dir, config, EXAMPLE.owner, undefined);
    expect(o.keys.role).toBe('owner');
    expect(o.keys.secretKeys?.map((k) => k.toString('hex'))).toEqual([EXAMPLE.secretKey.toString('hex')]);
    const c = await unlockRepository(dir, config, EXAMPLE.client, undefined);
    expect(c.keys.role).toBe('client');
    expect(c.keys.secretKeys).toBeUndefined();
    for (const k of [o.keys, c.keys]) {
      expect(k.idKey.equals(EXAMPLE.idKey)).toBe(true);
      expect(k.metaKey?.equals(EXAMPLE.metaKey)).toBe(true);
      expect(k.publicKey?.toString('base64')).toBe(config.publicKey);
    }
  });

  it('writes fresh key objects that open by the recipe', async () => {
    const { keys, fields, slots } = await createAppendOnlyKeys('owner words', 'client words', 'classic', 'aaaaaaaaaaaaaaaa');
    expect(fields).toEqual({ encryption: 'xchacha20poly1305', chunkId: 'blake2b-keyed', publicKey: keys.publicKey?.toString('base64') });
    const owner = await openByRecipe(JSON.parse(slotText(slots.owner)) as Record<string, unknown>, 'owner', 'owner words', 'aaaaaaaaaaaaaaaa');
    const client = await openByRecipe(JSON.parse(slotText(slots.client)) as Record<string, unknown>, 'client', 'client words', 'aaaaaaaaaaaaaaaa');
    const [sk] = keys.secretKeys ?? [];
    if (!sk || !keys.metaKey || !keys.publicKey) throw new Error('createAppendOnlyKeys gave no owner keys');
    expect(owner?.toString('hex')).toBe(Buffer.concat([keys.idKey, keys.metaKey, sk]).toString('hex'));
    expect(client?.toString('hex')).toBe(Buffer.concat([keys.idKey, keys.metaKey, keys.publicKey]).toString('hex'));
    expect(publicKeyOf(sk).equals(keys.publicKey)).toBe(true);
    // Each key object has a salt of its own.
    expect(slots.owner.kdf.salt).not.toBe(slots.client.kdf.salt);
    expect(slots.owner.kdf).toMatchObject({ algorithm: 'argon2id13', opsLimit: 3, memLimit: 64 * 1024 * 1024 });
  });

  it('lists exactly the fields of the format-3 config and of a key object', () => {
    expect(docFields('repository-format-v3.md', '### Config fields (format 3)')).toEqual(Object.keys(RepoConfigV3.shape).sort());
    expect(docFields('repository-format-v3.md', '### Key object fields')).toEqual(Object.keys(KeySlot.shape).sort());
  });
});
