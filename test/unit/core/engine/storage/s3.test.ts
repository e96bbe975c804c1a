// The S3 backend against a real Ceph radosgw (test/support/radosgw.ts):
// save, load (whole, ranged, bounded), stat, list by folder with paging,
// remove; and the failures a user meets: wrong keys, a missing bucket, a
// quota used up, a server that is gone.
import { randomBytes } from 'node:crypto';

import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isAppError } from '../../../../../electron/common/contract';
import { parseS3Location } from '../../../../../electron/core/engine/storage/location';
import { S3Storage } from '../../../../../electron/core/engine/storage/s3';
import { type Radosgw, type S3User, startRadosgw } from '../../../../support/radosgw';

// Never skipped: npm test installs the server (scripts/deps.mjs) and builds the CLI first.
const run = describe;
const FAST = { attempts: 2, baseDelayMs: 50 };

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; details: Record<string, unknown> | undefined }> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return { code: e.code, message: e.message, details: e.details };
    throw e;
  }
  throw new Error('expected a failure');
}

async function makeBucket(gw: Radosgw, user: S3User, bucket: string): Promise<void> {
  const c = new S3Client({ endpoint: gw.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: user });
  await c.send(new CreateBucketCommand({ Bucket: bucket }));
  c.destroy();
}

run('the S3 storage backend on radosgw', { timeout: 60_000 }, () => {
  let gw: Radosgw;
  const open: S3Storage[] = [];
  const storage = (url: string, user: S3User = gw.user, listPageKeys?: number) => {
    const s = new S3Storage(parseS3Location(url), user, { retry: FAST, connectTimeoutMs: 2000, ...(listPageKeys !== undefined && { listPageKeys }) });
    open.push(s);
    return s;
  };
  const url = (rest: string) => `s3+http://127.0.0.1:${gw.port}/${rest}`;

  beforeAll(async () => {
    gw = await startRadosgw();
    console.log(`radosgw answered ${gw.startMs} ms after spawn`);
    await makeBucket(gw, gw.user, 'repos');
  }, 120_000);
  afterAll(async () => {
    for (const s of open) await s.close();
    await gw?.stop();
  });

  it('create never replaces an object, and stat by listing sees what HEAD sees', async () => {
    const s = storage(url('repos/create'));
    const data = randomBytes(100_000);
    expect(await s.create('packs/cd/one', data)).toBe('created');
    // radosgw honours If-None-Match: * on PUT: the first object stays.
    expect(await s.create('packs/cd/one', Buffer.from('other'))).toBe('exists');
    expect((await s.load('packs/cd/one', { maxBytes: 1 << 20 })).equals(data)).toBe(true);
    const listed = new S3Storage(parseS3Location(url('repos/create')), gw.user, { retry: FAST, connectTimeoutMs: 2000, statByListing: true });
    open.push(listed);
    await s.save('packs/cd/one2', Buffer.from('longer name, same prefix'));
    const byHead = await s.stat('packs/cd/one');
    const byList = await listed.stat('packs/cd/one');
    expect(byList?.size).toBe(100_000);
    // HEAD gives whole seconds (an HTTP date), a listing milliseconds.
    expect(Math.floor((byList?.mtimeMs ?? 0) / 1000) * 1000).toBe(byHead?.mtimeMs);
    expect(await listed.stat('packs/cd/on')).toBeUndefined();
    expect(await listed.stat('packs/cd/two')).toBeUndefined();
  });

  it('saves, loads whole and by range, stats, lists and removes', async () => {
    const s = storage(url('repos/one'));
    await s.connectNow();
    const data = randomBytes(300_000);
    await s.save('packs/ab/abcd', data);
    await s.save('config', Buffer.from('cfg'));
    expect((await s.load('packs/ab/abcd', { maxBytes: 1 << 20 })).equals(data)).toBe(true);
    expect((await s.load('packs/ab/abcd', { maxBytes: 1 << 20, offset: 1000, length: 5000 })).equals(data.subarray(1000, 6000))).toBe(true);
    expect((await s.load('packs/ab/abcd', { maxBytes: 1 << 20, offset: 299_990 })).equals(data.subarray(299_990))).toBe(true);
    expect((await s.load('packs/ab/abcd', { maxBytes: 1 << 20, offset: 10, length: 0 })).length).toBe(0);
    const st = await s.stat('packs/ab/abcd');
    expect(st?.size).toBe(300_000);
    expect(Math.abs((st?.mtimeMs ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(await s.stat('packs/ab/none')).toBeUndefined();
    expect((await s.list('')).map((e) => `${e.type}:${e.name}`).sort()).toEqual(['dir:packs', 'file:config']);
    expect((await s.list('packs')).map((e) => `${e.type}:${e.name}`)).toEqual(['dir:ab']);
    expect((await s.list('packs/ab')).map((e) => `${e.type}:${e.name}`)).toEqual(['file:abcd']);
    expect(await s.list('nothing/here')).toEqual([]);
    // Replacing is whole: the new bytes, never a mix.
    await s.save('config', Buffer.from('cfg2'));
    expect((await s.load('config', { maxBytes: 100 })).toString()).toBe('cfg2');
    expect(await s.remove(['config', 'config', 'packs/ab/abcd', 'packs/ab/zzzz'])).toBe(2);
    expect(await s.list('')).toEqual([]);
    // Another prefix of the same bucket sees nothing of this one.
    expect(await storage(url('repos/two')).list('')).toEqual([]);
  });

  it('lists past one page of answers', async () => {
    // Pages of 7 keys: the paging is what is tested, not the server's page size.
    const s = storage(url('repos/many'), gw.user, 7);
    const names = Array.from({ length: 45 }, (_, i) => `n${String(i).padStart(5, '0')}`);
    const data = Buffer.from('x');
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < names.length) await s.save(`index/${names[next++]}`, data);
      }),
    );
    await s.save('index/sub/x', data);
    const listed = await s.list('index');
    expect(listed.filter((e) => e.type === 'file').map((e) => e.name).sort()).toEqual(names);
    expect(listed.filter((e) => e.type === 'dir').map((e) => e.name)).toEqual(['sub']);
    expect(await s.remove([...names.map((n) => `index/${n}`), 'index/sub/x'])).toBe(46);
  });

  it('refuses an object bigger than its bound and a range beyond its end', async () => {
    const s = storage(url('repos/bounds'));
    await s.save('config', randomBytes(2048));
    const big = await failure(s.load('config', { maxBytes: 1024 }));
    expect(big.code).toBe('REPO_CORRUPT');
    expect(big.message).toMatch(/2048 bytes, more than the 1024/);
    expect((await failure(s.load('config', { maxBytes: 1 << 20, offset: 2000, length: 100 }))).code).toBe('REPO_CORRUPT');
    expect((await failure(s.load('config', { maxBytes: 1 << 20, offset: 5000, length: 100 }))).code).toBe('REPO_CORRUPT');
    expect((await failure(s.load('config', { maxBytes: 50, offset: 0, length: 100 }))).code).toBe('REPO_CORRUPT');
    const missing = await failure(s.load('nothing', { maxBytes: 100 }));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.details?.['errnoName']).toBe('ENOENT');
  });

  it('refuses names that climb out of the prefix', async () => {
    const s = storage(url('repos/names'));
    expect((await failure(s.save('../other/config', Buffer.from('x')))).code).toBe('REPO_UNSAFE');
    expect((await failure(s.load('a/../../b', { maxBytes: 10 }))).code).toBe('REPO_UNSAFE');
  });

  it('says a wrong key at once, a missing bucket and an unreachable server clearly', async () => {
    const wrong = storage(url('repos/one'), { ...gw.user, secretAccessKey: 'not-the-secret' });
    const t0 = Date.now();
    const auth = await failure(wrong.connectNow());
    expect(auth.code).toBe('REMOTE_AUTH_FAILED');
    expect(auth.message).toMatch(/refused the access key/);
    expect(Date.now() - t0).toBeLessThan(2000);
    const unknown = storage(url('repos/one'), { ...gw.user, accessKeyId: 'NOSUCHKEY0000' });
    expect((await failure(unknown.save('x', Buffer.from('x')))).code).toBe('REMOTE_AUTH_FAILED');

    const nob = await failure(storage(url('no-such-bucket/repo')).connectNow());
    expect(nob.code).toBe('REPO_NOT_FOUND');
    expect(nob.message).toMatch(/bucket no-such-bucket does not exist/);
    expect((await failure(storage(url('no-such-bucket/repo')).save('config', Buffer.from('x')))).code).toBe('REPO_NOT_FOUND');

    // A port nobody listens on: retried, then REMOTE_UNAVAILABLE.
    const gone = new S3Storage(parseS3Location('s3+http://127.0.0.1:9/repos/one'), gw.user, { retry: FAST, connectTimeoutMs: 1000 });
    open.push(gone);
    const down = await failure(gone.connectNow());
    expect(down.code).toBe('REMOTE_UNAVAILABLE');
    expect(down.message).toMatch(/after 2 attempts/);
  });

  it('says a quota used up as a full disk', async () => {
    const q = await gw.createUser('quota-user');
    await makeBucket(gw, q, 'quota-bucket');
    await gw.setUserQuota('quota-user', 256 * 1024);
    const s = storage(url('quota-bucket/repo'), q);
    // radosgw judges a user's quota by usage it syncs every second here
    // (every few minutes by default): a write or two beyond it may land.
    // Refused within a few writes, then for good.
    let refused: Awaited<ReturnType<typeof failure>> | undefined;
    let n = 0;
    for (; n < 12 && !refused; n++) {
      try {
        await s.save(`packs/${n}`, randomBytes(200 * 1024));
      } catch (e) {
        refused = await failure(Promise.reject(e));
      }
      if (!refused) await new Promise((r) => setTimeout(r, 400));
    }
    expect(refused, 'no write refused within 12 of 200 KiB against a 256 KiB quota').toBeDefined();
    expect(n).toBeGreaterThan(1);
    expect(refused?.code).toBe('DISK_FULL');
    expect(refused?.details?.['errnoName']).toBe('EDQUOT');
    expect(refused?.message).toMatch(/quota/);
    expect(await s.stat(`packs/${n - 1}`)).toBeUndefined();
  });
});
