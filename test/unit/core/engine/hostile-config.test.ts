// Hostile repository, config: whoever can write the repository can replace
// its config. Swapping in an unencrypted config must not turn an encrypted
// repository into a plain one that takes any passphrase (security review
// #3, engine finding 3); changed fields of an encrypted config fail its MAC;
// what this computer pinned (registry) is enforced before any key
// derivation; numbers that size memory or work are bounded.
import { spawnSync } from 'node:child_process';
import { createHmac, hkdfSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { type RepoConfig, readConfig } from '../../../../electron/core/engine/config';
import { checkPin } from '../../../../electron/core/engine/config-pin';
import { unlockKeys } from '../../../../electron/core/engine/keys';
import { JsonFile } from '../../../../electron/core/persist/json-file';
import { RememberedKeys } from '../../../../electron/core/repos/remembered-keys';
import { RepoRegistry, RepositoriesFile } from '../../../../electron/core/repos/registry';
import { cleanup, expectAppError, makeImage, makeVictim, scratch } from './hostile-support';

const tmp: string[] = [];
afterAll(() => cleanup(tmp));

const CLI = path.resolve(__dirname, '../../../../out/js/electron/cli/snapkeep.js');

function configOf(repo: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(repo, 'config'), 'utf8')) as Record<string, unknown>;
}

function writeConfigRaw(repo: string, c: unknown): void {
  fs.writeFileSync(path.join(repo, 'config'), typeof c === 'string' ? c : JSON.stringify(c));
}

async function plainAndEncrypted(prefix: string) {
  const base = scratch(prefix);
  tmp.push(base);
  const plain = path.join(base, 'plain');
  const enc = path.join(base, 'enc');
  await (await engine.init({ path: plain })).close();
  await (await engine.init({ path: enc, passphrase: 'right' })).close();
  return { base, plain, enc };
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function registry(base: string): RepoRegistry {
  return new RepoRegistry({
    file: new JsonFile(path.join(base, 'state', 'repositories.json'), RepositoriesFile),
    engine,
    log: silent,
    keys: new RememberedKeys(path.join(base, 'state', 'keys')),
  });
}

describe('plain config swapped into an encrypted repository', () => {
  it('the engine refuses it when a passphrase is given, right or wrong', async () => {
    const { plain, enc } = await plainAndEncrypted('hostile-swap');
    fs.copyFileSync(path.join(plain, 'config'), path.join(enc, 'config'));
    for (const passphrase of ['right', 'wrong'])
      await expectAppError(engine.open({ path: enc, passphrase }), 'REPO_CONFIG_CHANGED', /passphrase was given, but the config says the repository is not encrypted/);
  });

  it('the CLI refuses list and backup with SNAPKEEP_PASSWORD (exit 10)', async () => {
    const { base, plain, enc } = await plainAndEncrypted('hostile-swap-cli');
    const image = path.join(base, 'disk.img');
    makeImage(image, 1 << 20, 3);
    fs.copyFileSync(path.join(plain, 'config'), path.join(enc, 'config'));
    const before = fs.readdirSync(path.join(enc, 'points'));
    for (const args of [['list', enc], ['backup', enc, image]]) {
      const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8', env: { ...process.env, SNAPKEEP_PASSWORD: 'wrong' } });
      expect(r.status, r.stderr).toBe(10);
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'REPO_CONFIG_CHANGED' } });
    }
    expect(fs.readdirSync(path.join(enc, 'points'))).toEqual(before); // no plaintext point was written
  });

  it('the registry refuses it on open and on unlock, before deriving a key', async () => {
    const { base, plain, enc } = await plainAndEncrypted('hostile-swap-reg');
    const reg = registry(base);
    await reg.load();
    const r = await reg.add('enc', enc);
    await reg.unlock(r.id, 'right');
    fs.copyFileSync(path.join(plain, 'config'), path.join(enc, 'config'));
    await expectAppError(reg.open(r.id), 'REPO_CONFIG_CHANGED', /was encrypted when this computer added it, and now claims to be unencrypted/);
    await expectAppError(reg.unlock(r.id, 'anything'), 'REPO_CONFIG_CHANGED', /claims to be unencrypted/);
  });

  it('an entry stored before pins existed is held to its encrypted flag, and gets a pin on its next open', async () => {
    const { base, plain, enc } = await plainAndEncrypted('hostile-swap-legacy');
    const file = path.join(base, 'state', 'repositories.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const legacy = { id: 'r-legacy1', name: 'enc', path: enc, encrypted: true, addedAt: '2025-01-01T00:00:00.000Z' };
    fs.writeFileSync(file, JSON.stringify({ version: 1, repositories: [legacy] }));
    const reg = registry(base);
    await reg.load();
    await reg.unlock(legacy.id, 'right');
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { repositories: Array<{ pin?: Record<string, unknown> }> };
    expect(stored.repositories[0]?.pin).toMatchObject({ encryption: configOf(enc)['encryption'], id: configOf(enc)['id'], mac: true });
    expect(stored.repositories[0]?.pin?.['keyCheck']).toMatch(/^[0-9a-f]{32}$/);
    fs.copyFileSync(path.join(plain, 'config'), path.join(enc, 'config'));
    await expectAppError(reg.open(legacy.id), 'REPO_CONFIG_CHANGED', /now claims to be unencrypted/);
  });
});

describe('encrypted config changed by someone without the passphrase', () => {
  it('carries the MAC docs/repository-format.md describes', async () => {
    const { enc } = await plainAndEncrypted('hostile-mac-doc');
    const c = configOf(enc);
    const keys = await unlockKeys(await readConfig(enc), 'right', enc);
    // As documented: HMAC-SHA256("snapkeep-config\0" || canonical JSON), key HKDF-SHA256(enc || id, "", "snapkeep config mac v1").
    const { mac, ...rest } = c;
    const canonical = JSON.stringify(rest, Object.keys({ ...rest, ...(rest['kdf'] as object) }).sort());
    const key = Buffer.from(hkdfSync('sha256', Buffer.concat([keys.encKey ?? Buffer.alloc(0), keys.idKey]), Buffer.alloc(0), 'snapkeep config mac v1', 32));
    expect(createHmac('sha256', key).update('snapkeep-config\0').update(canonical).digest('base64')).toBe(mac);
  });

  it.each([
    { field: 'chunkSize', value: 128 * 1024 },
    { field: 'packSize', value: 8 * 1024 * 1024 },
    { field: 'createdAt', value: '2001-01-01T00:00:00.000Z' },
  ])('$field changed: the MAC refuses it', async ({ field, value }) => {
    const { enc } = await plainAndEncrypted('hostile-mac');
    writeConfigRaw(enc, { ...configOf(enc), [field]: value });
    await expectAppError(engine.open({ path: enc, passphrase: 'right' }), 'REPO_CONFIG_CHANGED', /MAC does not match/);
  });

  it('the MAC removed: the registry remembers there was one', async () => {
    const { base, enc } = await plainAndEncrypted('hostile-mac-strip');
    const reg = registry(base);
    await reg.load();
    const r = await reg.init('enc2', path.join(base, 'enc2'), 'right');
    const stripped = configOf(path.join(base, 'enc2'));
    delete stripped['mac'];
    writeConfigRaw(path.join(base, 'enc2'), stripped);
    await expectAppError(reg.open(r.id), 'REPO_CONFIG_CHANGED', /carried a MAC/);
    expect(fs.existsSync(enc)).toBe(true);
  });

  it("another repository's config (same passphrase) at a registered path: the pinned id refuses it", async () => {
    const { base, enc } = await plainAndEncrypted('hostile-other');
    const other = path.join(base, 'other');
    await (await engine.init({ path: other, passphrase: 'right' })).close();
    const reg = registry(base);
    await reg.load();
    const r = await reg.add('enc', enc);
    await reg.unlock(r.id, 'right');
    fs.copyFileSync(path.join(other, 'config'), path.join(enc, 'config'));
    await expectAppError(reg.open(r.id), 'REPO_CONFIG_CHANGED', /its id is [0-9a-f]{16}, but this computer knows it as/);
  });

  it('a plain repository re-keyed under the same id: the key fingerprint refuses it', async () => {
    const { base, plain } = await plainAndEncrypted('hostile-rekey');
    const reg = registry(base);
    await reg.load();
    const r = await reg.add('plain', plain);
    writeConfigRaw(plain, { ...configOf(plain), keys: Buffer.alloc(32, 7).toString('base64') });
    await expectAppError(reg.open(r.id), 'REPO_CONFIG_CHANGED', /keys are not the ones this computer knows/);
  });
});

describe('huge or malformed config parameters', () => {
  const kdf = (c: Record<string, unknown>) => c['kdf'] as Record<string, unknown>;
  it.each([
    { name: 'Argon2id memory of 1 TiB', edit: (c: Record<string, unknown>) => ({ ...c, kdf: { ...kdf(c), memLimit: 2 ** 40 } }), words: /kdf\.memLimit/ },
    { name: 'Argon2id passes 2^32', edit: (c: Record<string, unknown>) => ({ ...c, kdf: { ...kdf(c), opsLimit: 2 ** 32 } }), words: /kdf\.opsLimit/ },
    { name: 'a 1 GiB chunk size', edit: (c: Record<string, unknown>) => ({ ...c, chunkSize: 2 ** 30 }), words: /chunkSize/ },
    { name: 'a chunk size that is not a power of two', edit: (c: Record<string, unknown>) => ({ ...c, chunkSize: 300000 }), words: /chunkSize: must be a power of two/ },
    { name: 'an 8 GiB pack size (u32 offsets)', edit: (c: Record<string, unknown>) => ({ ...c, packSize: 2 ** 33 }), words: /packSize/ },
    { name: 'a 16 KiB salt', edit: (c: Record<string, unknown>) => ({ ...c, kdf: { ...kdf(c), salt: Buffer.alloc(16 << 10).toString('base64') } }), words: /kdf\.salt/ },
    { name: 'a 20 KB key blob', edit: (c: Record<string, unknown>) => ({ ...c, keys: 'A'.repeat(20000) }), words: /keys/ },
    { name: 'a negative pack size', edit: (c: Record<string, unknown>) => ({ ...c, packSize: -1 }), words: /packSize/ },
    { name: 'a key derivation on an unencrypted config', edit: (c: Record<string, unknown>) => ({ ...c, encryption: 'none' }), words: /kdf/ },
  ])('$name: REPO_CORRUPT naming the field, no key derivation', async ({ edit, words }) => {
    const { enc } = await plainAndEncrypted('hostile-huge');
    writeConfigRaw(enc, edit(configOf(enc)));
    await expectAppError(engine.open({ path: enc, passphrase: 'right' }), 'REPO_CORRUPT', words);
  });

  it('a config file of 100 MiB is not read', async () => {
    const { enc } = await plainAndEncrypted('hostile-huge-file');
    fs.truncateSync(path.join(enc, 'config'), 100 << 20);
    await expectAppError(engine.open({ path: enc, passphrase: 'right' }), 'REPO_CORRUPT', /more than such a file may have/);
  });

  it('a config claiming a far newer format is refused as newer', async () => {
    const { plain } = await plainAndEncrypted('hostile-newer');
    writeConfigRaw(plain, { ...configOf(plain), version: 2 ** 40 });
    await expectAppError(engine.open({ path: plain }), 'REPO_CORRUPT', /is newer than this Snapkeep/);
  });

  it('a pinned version floor refuses a config claiming an older format', async () => {
    const v = await makeVictim('hostile-downgrade');
    tmp.push(v.base);
    await v.repo.close();
    const config: RepoConfig = await readConfig(v.repo.path);
    expect(() => checkPin(config, { encryption: 'none', minVersion: config.version + 1 }, v.repo.path)).toThrow(new RegExp(`claims format ${config.version}, older than the ${config.version + 1}`));
    expect(() => checkPin(config, { encryption: 'none', minVersion: config.version }, v.repo.path)).not.toThrow();
  });
});
