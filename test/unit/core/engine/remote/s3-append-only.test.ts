// An append-only repository in a bucket of a real Ceph radosgw 16.2
// (test/support/radosgw.ts; docs/append-only-design.md §3.1, step 8): the
// owner user makes the bucket with Object Lock (GOVERNANCE, 1 day) and the
// policy of §3.1, and inits format 3; the client user backs up, full and
// changed-block incremental; the server itself refuses the client reads of
// packs and of the owner's key slot and every delete; an overwrite by the
// client is a new version; the owner prunes (objects leave the listing,
// their versions stay, and may not be deleted before the retention ends).
// Where radosgw behaves otherwise than §3.1 predicts, the expectation that
// fails names the item.
import * as path from 'node:path';

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { s3PolicyCommand } from '../../../../../electron/cli/commands/s3-policy';
import { engine } from '../../../../../electron/core/engine';
import type { RemoteAccess } from '../../../../../electron/core/engine/remote/connect';
import { appendOnlyPolicy } from '../../../../../electron/core/engine/remote/s3-append-only-policy';
import { type Radosgw, type S3User, startRadosgw } from '../../../../support/radosgw';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, mutate, sha256 } from '../fixtures';

// Never skipped: npm test installs the server (scripts/deps.mjs).
const run = describe;
const FAST = { attempts: 2, baseDelayMs: 100 };
const OWNER = 'owner passphrase';
const CLIENT = 'client passphrase';

/** 'ok', or the S3 error code and HTTP status the server answered with. */
async function ask(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    if (e instanceof S3ServiceException) return `${e.$metadata.httpStatusCode ?? '?'}`;
    throw e;
  }
}

run('an append-only repository on an S3 server (Ceph radosgw 16.2)', { timeout: 240_000 }, () => {
  let gw: Radosgw;
  const tmp = tempDir('snapkeep-s3-ao-');
  const clients: S3Client[] = [];
  const sdk = (u: S3User) => {
    const c = gw.s3(u);
    clients.push(c);
    return c;
  };
  const access = (u: S3User): RemoteAccess => ({ accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey, retry: FAST });
  beforeAll(async () => {
    gw = await startRadosgw();
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await gw?.stop();
    tmp.remove();
  });

  it('lets the client add backups only, refuses it the rest on the server, and the owner prunes and restores', async () => {
    const ao = await gw.appendOnlyBucket('laptop', 'backups', 'laptop');
    const url = `s3+http://127.0.0.1:${gw.port}/backups/laptop`;
    const owner = sdk(ao.owner);
    const client = sdk(ao.client);
    const image = path.join(tmp.dir, 'disk.img');
    makeImage(image, 6 * 1024 * 1024, 61);

    // --- the owner makes it ----------------------------------------------
    await (await engine.init({ path: url, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: path.join(tmp.dir, 'owner-cache'), remote: access(ao.owner) })).close();

    // --- the client backs up ---------------------------------------------
    const shas: string[] = [];
    let full: string;
    let incr: string;
    const c = await engine.open({ path: url, passphrase: CLIENT, cacheDir: path.join(tmp.dir, 'client-cache'), remote: access(ao.client) });
    try {
      expect(c.role).toBe('client');
      const cbt = { generation: 'gen-s3-ao', number: 1, blockSize: 65536 };
      shas.push(sha256(image));
      full = (await c.backup({ sources: [{ source: image, readFrom: image, cbt }], compressionLevel: 1 })).id;
      const ranges = mutate(image, 0.002, 9);
      shas.push(sha256(image));
      const second = await c.backup({ sources: [{ source: image, readFrom: image, cbt: { ...cbt, number: 2 }, changes: { generation: 'gen-s3-ao', sinceNumber: 1, ranges } }], compressionLevel: 1 });
      incr = second.id;
      expect(second.devices[0]?.readMode).toBe('changed');
      expect((await c.listPoints()).map((p) => p.id).sort()).toEqual([full, incr].sort());
      await expect(c.restore({ pointId: full, source: image, target: path.join(tmp.dir, 'no.img'), skipIdentical: false })).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED' });
    } finally {
      await c.close();
    }

    // --- the client, asking the server directly --------------------------
    const keys = async (prefix: string) => ((await owner.send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: `laptop/${prefix}` }))).Contents ?? []).map((o) => o.Key ?? '');
    const [pack] = await keys('packs/');
    const manifest = `laptop/points/${full}`;
    if (pack === undefined) throw new Error('the backups left no pack');
    const B = 'backups';
    const refusals = {
      // §3.1 item 3: HEAD is authorised as s3:GetObject.
      getPack: await ask(() => client.send(new GetObjectCommand({ Bucket: B, Key: pack }))),
      headPack: await ask(() => client.send(new HeadObjectCommand({ Bucket: B, Key: pack }))),
      getPackVersion: await ask(async () => client.send(new GetObjectCommand({ Bucket: B, Key: pack, VersionId: (await owner.send(new ListObjectVersionsCommand({ Bucket: B, Prefix: pack }))).Versions?.[0]?.VersionId }))),
      deletePack: await ask(() => client.send(new DeleteObjectCommand({ Bucket: B, Key: pack }))),
      deleteManifest: await ask(() => client.send(new DeleteObjectCommand({ Bucket: B, Key: manifest }))),
      getOwnerKeys: await ask(() => client.send(new GetObjectCommand({ Bucket: B, Key: 'laptop/keys/owner' }))),
      putConfig: await ask(() => client.send(new PutObjectCommand({ Bucket: B, Key: 'laptop/config', Body: 'x' }))),
      putOwnerKeys: await ask(() => client.send(new PutObjectCommand({ Bucket: B, Key: 'laptop/keys/owner', Body: 'x' }))),
      putPolicy: await ask(() => client.send(new PutBucketPolicyCommand({ Bucket: B, Policy: JSON.stringify(appendOnlyPolicy({ bucket: B, prefix: '', owner: ao.client.uid, client: ao.owner.uid })) }))),
      putLock: await ask(() => client.send(new PutObjectLockConfigurationCommand({ Bucket: B, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }))),
    };
    expect(refusals).toEqual(Object.fromEntries(Object.keys(refusals).map((k) => [k, '403'])));
    // It may read what a backup needs (so the refusals above are the policy's, not a broken login).
    expect(await ask(() => client.send(new GetObjectCommand({ Bucket: B, Key: manifest })))).toBe('ok');
    expect(await ask(() => client.send(new GetObjectCommand({ Bucket: B, Key: 'laptop/config' })))).toBe('ok');

    // An overwrite: no policy on radosgw 16.2 can refuse it (§3.1); the old version stays.
    const original = await owner.send(new GetObjectCommand({ Bucket: B, Key: manifest }));
    const originalBytes = Buffer.from(await original.Body!.transformToByteArray());
    // §3.1 item 5, seen on radosgw 16.2: If-None-Match: * (what the engine's
    // create sends) is NOT enforced in a versioned bucket (it is in a plain
    // one: s3.test.ts); the PUT succeeds and makes a new version. Should a
    // radosgw start refusing it (412), §3.1 and remote-repositories.md must say so.
    expect(await ask(() => client.send(new PutObjectCommand({ Bucket: B, Key: manifest, Body: 'forged', IfNoneMatch: '*' }))), 'If-None-Match in a versioned bucket').toBe('ok');
    const versions = (await owner.send(new ListObjectVersionsCommand({ Bucket: B, Prefix: manifest }))).Versions ?? [];
    expect(versions.map((v) => v.IsLatest)).toEqual([true, false]);
    const old = versions[1]?.VersionId;
    const kept = await owner.send(new GetObjectCommand({ Bucket: B, Key: manifest, VersionId: old }));
    expect(Buffer.from(await kept.Body!.transformToByteArray()).equals(originalBytes)).toBe(true);

    // --- the owner --------------------------------------------------------
    let o = await engine.open({ path: url, passphrase: OWNER, cacheDir: path.join(tmp.dir, 'owner-cache'), remote: access(ao.owner) });
    try {
      expect(o.role).toBe('owner');
      // §4: the current version does not open, so the owner reads the
      // oldest version that does (ListObjectVersions, GetObject with its
      // VersionId); verify reports the replacement, and the point is not damaged.
      const report = await o.verify({ data: true });
      expect(report.damagedPoints).toEqual([]);
      expect(report.problems).toEqual([{ kind: 'bad-manifest', pointIds: [], message: expect.stringContaining(`the manifest of restore point ${full} was replaced after it was written`) }]);
      expect((await o.listPoints()).map((p) => p.id).sort()).toEqual([full, incr].sort());
      const restored = path.join(tmp.dir, 'restored-full.img');
      await o.restore({ pointId: full, source: image, target: restored, skipIdentical: false });
      expect(sha256(restored)).toBe(shas[0]);
      // Seen on radosgw 16.2: the client's login lists the manifest's
      // versions and reads the older one too, despite ClientNever's Deny of
      // s3:GetObjectVersion (a pack's older version stays refused: getPackVersion
      // above), so it reads the original as well. Harmless: it may read the
      // current version of any manifest anyway. A fresh working copy: its own
      // holds the original it read before the overwrite.
      const peek = await engine.open({ path: url, passphrase: CLIENT, cacheDir: path.join(tmp.dir, 'client-peek-cache'), remote: access(ao.client) });
      try {
        expect((await peek.listPoints()).map((p) => p.id).sort()).toEqual([full, incr].sort());
      } finally {
        await peek.close();
      }
      // The owner puts the original back (a new version of it): read
      // through the same working copy, the forged manifest, which did not
      // open, was not kept there (manifest.ts drops such a copy).
      await owner.send(new PutObjectCommand({ Bucket: B, Key: manifest, Body: originalBytes }));
      await o.close();
      o = await engine.open({ path: url, passphrase: OWNER, cacheDir: path.join(tmp.dir, 'owner-cache'), remote: access(ao.owner) });
      expect((await o.verify({ data: false })).problems).toEqual([]);
      expect((await o.listPoints()).map((p) => p.id).sort()).toEqual([full, incr].sort());

      const before = await keys('');
      const pruned = await o.prune({ dryRun: false, forget: [full], now: new Date(Date.now() + 48 * 3600_000) });
      expect(pruned.removedPoints).toEqual([full]);
      const restoredIncr = path.join(tmp.dir, 'restored-incr.img');
      await o.restore({ pointId: incr, source: image, target: restoredIncr, skipIdentical: false });
      expect(sha256(restoredIncr)).toBe(shas[1]);
      expect((await o.verify({ data: true })).problems).toEqual([]);
      // §3.1 item 2: the removed objects left the listing; every version of them stays, behind a delete marker.
      const after = await keys('');
      const gone = before.filter((k) => !after.includes(k));
      expect(gone).toContain(manifest);
      const all = await owner.send(new ListObjectVersionsCommand({ Bucket: B, Prefix: 'laptop/' }));
      const markers = new Set((all.DeleteMarkers ?? []).filter((m) => m.IsLatest).map((m) => m.Key));
      for (const k of gone) expect(markers.has(k), k).toBe(true);
      const manifestVersions = (all.Versions ?? []).filter((v) => v.Key === manifest);
      expect(manifestVersions).toHaveLength(3);
      // ... and the retention (GOVERNANCE) refuses deleting a version, even to the owner.
      expect(await ask(() => owner.send(new DeleteObjectCommand({ Bucket: B, Key: manifest, VersionId: manifestVersions[0]?.VersionId })))).toBe('403');
    } finally {
      await o.close();
    }

    // The client backs up again after the owner's prune.
    const again = await engine.open({ path: url, passphrase: CLIENT, cacheDir: path.join(tmp.dir, 'client-cache'), remote: access(ao.client) });
    try {
      const third = await again.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
      expect((await again.listPoints()).map((p) => p.id).sort()).toEqual([incr, third.id].sort());
    } finally {
      await again.close();
    }
  });

  it("what radosgw 16.2 does with Object Lock and the owner's reads (§3.1 items 1 and 4)", async () => {
    const owner = await gw.createUser('plain-owner');
    const client = await gw.createUser('plain-ao');
    const o = sdk(owner);
    const c = sdk(client);
    // Item 1: Object Lock on a bucket made without it is refused.
    await o.send(new CreateBucketCommand({ Bucket: 'plain' }));
    expect(await ask(() => o.send(new PutObjectLockConfigurationCommand({ Bucket: 'plain', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } } })))).toBe('409');
    // Item 4: a policy that lets the client write but names no owner statement:
    // can the bucket owner read what the client wrote?
    const policy = appendOnlyPolicy({ bucket: 'plain', prefix: 'r', owner: owner.uid, client: client.uid });
    policy.Statement = policy.Statement.filter((s) => s.Sid !== 'Owner');
    await o.send(new PutBucketPolicyCommand({ Bucket: 'plain', Policy: JSON.stringify(policy) }));
    expect(await ask(() => c.send(new PutObjectCommand({ Bucket: 'plain', Key: 'r/points/x', Body: 'client' })))).toBe('ok');
    expect(await ask(() => o.send(new GetObjectCommand({ Bucket: 'plain', Key: 'r/points/x' })))).toBe('403');
  });

  it('snapkeep s3-policy --check says what a bucket lacks, and --apply applies the policy with the owner login', async () => {
    const owner = await gw.createUser('cli-owner');
    const client = await gw.createUser('cli-ao');
    const o = sdk(owner);
    const c = sdk(client);
    await o.send(new CreateBucketCommand({ Bucket: 'bare' }));
    await o.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true }));
    await o.send(new PutObjectLockConfigurationCommand({ Bucket: 'locked', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } } }));
    const saved = { ...process.env };
    process.env['SNAPKEEP_REMOTES_DIR'] = path.join(tmp.dir, 'remotes');
    process.env['SNAPKEEP_S3_ACCESS_KEY_ID'] = owner.accessKeyId;
    process.env['SNAPKEEP_S3_SECRET_ACCESS_KEY'] = owner.secretAccessKey;
    const cli = async (args: string[]) => {
      const out: string[] = [];
      const code = await s3PolicyCommand.run({ args, json: false, out: (l) => out.push(l), err: (l) => out.push(l) });
      return { code, out: out.join('\n') };
    };
    try {
      // A bucket with neither: both said; exit 1, as the protection is not there.
      const bare = await cli([`s3+http://127.0.0.1:${gw.port}/bare/pc`, '--client-user', client.uid, '--check']);
      expect(bare.out).toMatch(/MISSING: versioning is off/);
      expect(bare.out).toMatch(/MISSING: Object Lock is not enabled/);
      expect(bare.code).toBe(1);
      // Versioning alone: Object Lock still said missing, but the exit is 0.
      await o.send(new PutBucketVersioningCommand({ Bucket: 'bare', VersioningConfiguration: { Status: 'Enabled' } }));
      const versioned = await cli([`s3+http://127.0.0.1:${gw.port}/bare/pc`, '--client-user', client.uid, '--check']);
      expect(versioned.out).toMatch(/versioning: enabled/);
      expect(versioned.out).toMatch(/MISSING: Object Lock is not enabled/);
      expect(versioned.code).toBe(0);
      // Nothing was applied by --check.
      expect(await ask(() => o.send(new GetBucketPolicyCommand({ Bucket: 'bare' })))).toBe('404');

      const url = `s3+http://127.0.0.1:${gw.port}/locked/pc`;
      const applied = await cli([url, '--client-user', client.uid, '--apply']);
      expect(applied.out).toMatch(/applied the append-only policy to bucket locked \(owner cli-owner, client cli-ao, repository pc\)/);
      expect(applied.out).toMatch(/Object Lock: enabled, default retention GOVERNANCE 1 day/);
      expect(applied.out).not.toMatch(/MISSING/);
      expect(applied.code).toBe(0);
      const stored = (await o.send(new GetBucketPolicyCommand({ Bucket: 'locked' }))).Policy ?? '';
      expect(JSON.parse(stored)).toEqual(appendOnlyPolicy({ bucket: 'locked', prefix: 'pc', owner: owner.uid, client: client.uid }));
      // And the server holds the client to it.
      expect(await ask(() => c.send(new PutObjectCommand({ Bucket: 'locked', Key: 'pc/packs/00/x', Body: 'x' })))).toBe('ok');
      expect(await ask(() => c.send(new GetObjectCommand({ Bucket: 'locked', Key: 'pc/packs/00/x' })))).toBe('403');
      expect(await ask(() => c.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'pc/packs/00/x' })))).toBe('403');
      // The client's login cannot apply a policy (the owner's is needed).
      process.env['SNAPKEEP_S3_ACCESS_KEY_ID'] = client.accessKeyId;
      process.env['SNAPKEEP_S3_SECRET_ACCESS_KEY'] = client.secretAccessKey;
      await expect(cli([url, '--client-user', client.uid, '--owner-user', owner.uid, '--apply'])).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      process.env = saved;
    }
  });
});
