// A repository in a bucket of a real Ceph radosgw (test/support/radosgw.ts):
// full backup, incremental, restore byte-identical, random reads, verify
// with data, prune, through the same working copy as SFTP; and what the
// bucket holds after each.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isAppError } from '../../../../../electron/common/contract';
import { engine } from '../../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../../electron/core/engine/api';
import { type Radosgw, radosgwAvailable, startRadosgw } from '../../../../support/radosgw';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, mutate, sha256 } from '../fixtures';

const run = radosgwAvailable() ? describe : describe.skip;

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

  it('says wrong keys and a missing bucket before anything else', async () => {
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
  });
});
