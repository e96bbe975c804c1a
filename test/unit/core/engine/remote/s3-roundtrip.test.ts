// A repository in a bucket of a real Ceph radosgw (test/support/radosgw.ts):
// full backup, incremental, restore byte-identical, random reads, verify
// with data, prune, through the same working copy as SFTP; and what the
// bucket holds after each.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isAppError } from '../../../../../electron/common/contract';
import { engine } from '../../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../../electron/core/engine/api';
import type { RemoteRepoStorage } from '../../../../../electron/core/engine/remote/remote-storage';
import { storageFor } from '../../../../../electron/core/engine/storage/registry';
import { RemoteCredentials } from '../../../../../electron/core/repos/remote-credentials';
import { finished } from '../../../../support/child-output';
import { type Radosgw, startRadosgw } from '../../../../support/radosgw';
import { testRegistry } from '../../../../support/registry';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, mutate, sha256 } from '../fixtures';

// Never skipped: npm test installs the server (scripts/deps.mjs) and builds the CLI first.
const run = describe;
const CLI = path.resolve(__dirname, '../../../../../out/js/electron/cli/snapkeep.js');

run('a repository on an S3 server (Ceph radosgw)', { timeout: 120_000 }, () => {
  let gw: Radosgw;
  let client: S3Client;
  const tmp = tempDir('snapkeep-s3-');
  const keys = async (prefix: string): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: 'snap', Prefix: prefix, ...(token !== undefined && { ContinuationToken: token }) }));
      for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  };
  beforeAll(async () => {
    gw = await startRadosgw();
    console.log(`radosgw answered ${gw.startMs} ms after spawn`);
    client = new S3Client({ endpoint: gw.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: gw.user });
    await client.send(new CreateBucketCommand({ Bucket: 'snap' }));
  }, 120_000);
  afterAll(async () => {
    client?.destroy();
    await gw?.stop();
    tmp.remove();
  });

  it('backs up, restores byte-identical, verifies with data and prunes', async () => {
    const img = path.join(tmp.dir, 'disk.img');
    makeImage(img, 24 * 1024 * 1024, 7);
    const cacheDir = path.join(tmp.dir, 'cache');
    const url = `s3+http://127.0.0.1:${gw.port}/snap/office/pc1`;
    const remote = { accessKeyId: gw.user.accessKeyId, secretAccessKey: gw.user.secretAccessKey };
    const t0 = Date.now();
    let repo: RepositoryHandle = await engine.init({ path: url, passphrase: 'pw', cacheDir, remote });
    expect(repo.hostKey).toBeUndefined();
    const full = await repo.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 3 });
    const shaFull = sha256(img);
    mutate(img, 0.05, 3);
    const inc = await repo.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 3 });
    const shaInc = sha256(img);
    expect(inc.kind).toBe('incremental');
    console.log(`full + incremental of 24 MiB over S3: ${Date.now() - t0} ms`);
    await repo.close();
    // Everything is under the prefix, in the repository's layout.
    const stored = await keys('');
    expect(stored.every((k) => k.startsWith('office/pc1/'))).toBe(true);
    expect(stored).toContain('office/pc1/config');
    expect(stored.filter((k) => /^office\/pc1\/packs\/[0-9a-f]{2}\/[0-9a-f]+$/.test(k)).length).toBeGreaterThan(0);

    repo = await engine.open({ path: url, passphrase: 'pw', cacheDir, remote });
    const out = path.join(tmp.dir, 'out.img');
    await repo.restore({ pointId: full.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(shaFull);
    fs.rmSync(out);
    await repo.restore({ pointId: inc.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(shaInc);
    const reader = await repo.openReader(inc.id, img);
    const want = fs.readFileSync(img);
    for (const [at, len] of [[0, 4096], [17 * 1024 * 1024 + 123, 300_000], [want.length - 5000, 5000]] as const)
      expect(Buffer.compare(await reader.read(at, len), want.subarray(at, at + len))).toBe(0);
    await reader.close();
    const report = await repo.verify({ data: true });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);

    const pruned = await repo.prune({ dryRun: false, forget: [full.id], now: new Date(Date.now() + 48 * 3600_000) });
    expect(pruned.removedPoints).toEqual([full.id]);
    expect((await repo.listPoints()).map((p) => p.id)).toEqual([inc.id]);
    expect((await repo.verify({ data: true })).problems).toEqual([]);
    fs.rmSync(out);
    await repo.restore({ pointId: inc.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(shaInc);
    await repo.close();
    const wcPacks = fs.readdirSync(path.join(cacheDir, 'remote'), { recursive: true }).filter((f) => /packs\/[0-9a-f]{2}\/[0-9a-f]{32}$/.test(String(f)));
    expect(wcPacks).toEqual([]);
  });

  it('says wrong keys and a missing bucket before anything else, also in a connection test', async () => {
    const cacheDir = path.join(tmp.dir, 'cache2');
    const fail = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        if (isAppError(e)) return e.code;
        throw e;
      }
      return 'no error';
    };
    const fast = { attempts: 2, baseDelayMs: 50 };
    expect(await fail(engine.open({ path: `s3+http://127.0.0.1:${gw.port}/snap/office/pc1`, passphrase: 'pw', cacheDir, remote: { accessKeyId: gw.user.accessKeyId, secretAccessKey: 'wrong', retry: fast } }))).toBe(
      'REMOTE_AUTH_FAILED',
    );
    expect(await fail(engine.init({ path: `s3+http://127.0.0.1:${gw.port}/nobucket/r`, passphrase: 'pw', cacheDir, remote: { ...gw.user, retry: fast } }))).toBe('REPO_NOT_FOUND');
    expect(await fail(engine.open({ path: `s3+http://127.0.0.1:${gw.port}/snap/empty`, passphrase: 'pw', cacheDir, remote: { ...gw.user, retry: fast } }))).toBe('REPO_NOT_FOUND');
    // The dialog's connection test says the same, and what is there (no host key: TLS checks S3 servers).
    expect(await fail(engine.probeRemote(`s3+http://127.0.0.1:${gw.port}/nobucket/r`, { ...gw.user, retry: fast }))).toBe('REPO_NOT_FOUND');
    expect(await fail(engine.probeRemote(`s3+http://127.0.0.1:${gw.port}/snap/r`, { accessKeyId: gw.user.accessKeyId, secretAccessKey: 'wrong', retry: fast }))).toBe('REMOTE_AUTH_FAILED');
    expect(await engine.probeRemote(`s3+http://127.0.0.1:${gw.port}/snap/empty`, { ...gw.user })).toEqual({ repository: 'none' });
    expect(await engine.probeRemote(`s3+http://127.0.0.1:${gw.port}/snap/office/pc1`, { ...gw.user })).toEqual({ repository: 'found', encrypted: true });
  });

  // Needs the built CLI (npm run build:electron).
  it('takes keys from the environment once, keeps them root-only, and uses them after', async () => {
    if (!fs.existsSync(CLI)) throw new Error('not built: run npm run build');
    const url = `s3+http://127.0.0.1:${gw.port}/snap/cli`;
    const remotes = path.join(tmp.dir, 'remotes');
    const base: NodeJS.ProcessEnv = { ...process.env, SNAPKEEP_REMOTES_DIR: remotes, SNAPKEEP_CACHE_DIR: path.join(tmp.dir, 'cache3') };
    delete base['SNAPKEEP_S3_ACCESS_KEY_ID'];
    delete base['SNAPKEEP_S3_SECRET_ACCESS_KEY'];
    const cli = (args: string[], env: NodeJS.ProcessEnv) => finished(spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env }));
    const withKeys = { ...base, SNAPKEEP_S3_ACCESS_KEY_ID: gw.user.accessKeyId, SNAPKEEP_S3_SECRET_ACCESS_KEY: gw.user.secretAccessKey };
    const init = await cli(['init', url, '--no-encryption'], withKeys);
    expect(init.code, init.err).toBe(0);
    // Kept like SFTP logins: one root-only file, the secret inside.
    const store = new RemoteCredentials(remotes);
    const file = store.fileOf(url);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(remotes).mode & 0o777).toBe(0o700);
    expect(await store.read(url)).toEqual({ kind: 'login', login: { accessKeyId: gw.user.accessKeyId, secretAccessKey: gw.user.secretAccessKey } });

    // No keys in the environment now: the stored ones serve.
    const img = path.join(tmp.dir, 'cli.img');
    fs.writeFileSync(img, randomBytes(6 * 1024 * 1024));
    const backup = await cli(['backup', url, img, '--json'], base);
    expect(backup.code, backup.err).toBe(0);
    const point = JSON.parse(backup.out.trim().split('\n').pop() ?? '') as { id: string };
    const repo = await engine.open({ path: url, cacheDir: path.join(tmp.dir, 'cache4'), remote: { ...gw.user } });
    const out = path.join(tmp.dir, 'cli-out.img');
    await repo.restore({ pointId: point.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha256(img));
    await repo.close();

    // A wrong secret from the environment wins over the stored one, and is said as such.
    const wrong = await cli(['backup', url, img, '--json'], { ...base, SNAPKEEP_S3_SECRET_ACCESS_KEY: 'wrong' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.err + wrong.out).toMatch(/refused the access key/);
    // Only Snapkeep's words: not the SDK's note about Node versions.
    expect(wrong.err).not.toMatch(/NodeVersionSupportWarning/);
  });

  it('registers an S3 repository with its keys kept root-only', async () => {
    const { registry, remotes } = await testRegistry(path.join(tmp.dir, 'state'));
    const url = `s3+http://127.0.0.1:${gw.port}/snap/registered`;
    const keysOf = { accessKeyId: gw.user.accessKeyId, secretAccessKey: gw.user.secretAccessKey };
    // Unencrypted here: Argon2id on a loaded CI machine costs seconds per open.
    const created = await registry.init('office', url, undefined, undefined, false, keysOf);
    expect(created).toMatchObject({ path: url, encrypted: false });
    expect(created.hostKey).toBeUndefined();
    expect(await remotes.read(url)).toEqual({ kind: 'login', login: keysOf });
    expect(fs.statSync(remotes.fileOf(url)).mode & 0o777).toBe(0o600);
    expect(await registry.with(created.id, (h) => h.listPoints())).toEqual([]);
    await registry.remove(created.id);
    expect(await remotes.read(url)).toEqual({ kind: 'none' });
    const added = await registry.add('office again', url, keysOf);
    expect(await registry.with(added.id, (h) => h.listPoints())).toEqual([]);
  });

  it('fails clearly when radosgw dies mid-upload, loses nothing, and the next run reuses what was sent', async () => {
    const img = path.join(tmp.dir, 'big.img');
    // Noise only: 3 packs of 16 MiB, so the kill lands between uploads.
    fs.writeFileSync(img, randomBytes(48 * 1024 * 1024));
    const url = `s3+http://127.0.0.1:${gw.port}/snap/killed`;
    const cacheDir = path.join(tmp.dir, 'cache5');
    const remote = { ...gw.user, retry: { attempts: 2, baseDelayMs: 100 } };
    const first = await engine.init({ path: url, cacheDir, remote });
    const small = path.join(tmp.dir, 'small.img');
    makeImage(small, 2 * 1024 * 1024, 5);
    const kept = await first.backup({ sources: [{ source: small, readFrom: small }], compressionLevel: 3 });
    const stats = (storageFor(url) as RemoteRepoStorage).stats;
    const packsBefore = stats.saved['packs'] ?? 0;
    const backup = first.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 1 });
    while ((stats.saved['packs'] ?? 0) === packsBefore) await new Promise((r) => setTimeout(r, 5));
    gw.killGateway();
    let failed: unknown;
    try {
      await backup;
    } catch (e) {
      failed = e;
    } finally {
      await gw.startGateway();
    }
    expect(isAppError(failed) && failed.code).toBe('REMOTE_UNAVAILABLE');
    expect(String(failed)).toMatch(/could not be reached after 2 attempts/);
    await first.close().catch(() => undefined);

    const again = await engine.open({ path: url, cacheDir, remote });
    expect((await again.listPoints()).map((p) => p.id)).toEqual([kept.id]);
    expect((await again.verify({ data: true })).problems).toEqual([]);
    const onServer = async () => (await keys('killed/packs/')).length;
    const before = await onServer();
    const p = await again.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 1 });
    const total = await onServer();
    console.log(`packs: ${before} on radosgw after the kill, ${total} after the next run`);
    // The small image's pack and the three that 48 MiB of noise fill, whichever run sent them.
    expect(before).toBeGreaterThanOrEqual(2);
    expect(total).toBe(4);
    const out = path.join(tmp.dir, 'big.out');
    await again.restore({ pointId: p.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(sha256(img));
    expect((await again.verify({ data: true })).problems).toEqual([]);
    await again.close();
  });
});
