// A manifest that does not open is not kept in the working copy
// (manifest.ts readManifest; docs/append-only-design.md §5 step 8): an
// append-only client can put a new version of a manifest in a versioned
// bucket, the owner reads that forged one by name, and once the owner puts
// the original back, a fresh open through the same working copy must read
// the original, without the working copy being deleted by hand (manifests
// are cached by name, as a point id names one manifest for life). Over
// fake-s3.ts; s3-append-only.test.ts does the same against radosgw.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it, vi } from 'vitest';

import { engine } from '../../../../../electron/core/engine';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, sha256 } from '../fixtures';
import { CLIENT, OWNER, client, fakeS3, owner } from './fake-s3';

vi.mock('../../../../../electron/core/engine/storage/s3', async () => (await import('./fake-s3')).fakeS3Module());

describe('a forged manifest read by the owner (fake S3 store; radosgw: s3-append-only)', () => {
  const tmp = tempDir('snapkeep-forged-manifest-');
  afterAll(() => tmp.remove());

  it('is dropped from the working copy, so the original put back is read by the next open', async () => {
    fakeS3.root = path.join(tmp.dir, 'store');
    const url = 's3+http://127.0.0.1:9/bucket/repo';
    const ownerCache = path.join(tmp.dir, 'owner-cache');
    const image = path.join(tmp.dir, 'disk.img');
    makeImage(image, 2 * 1024 * 1024, 33);
    await (await engine.init({ path: url, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: ownerCache, remote: owner })).close();
    const c = await engine.open({ path: url, passphrase: CLIENT, cacheDir: path.join(tmp.dir, 'client-cache'), remote: client });
    let id: string;
    try {
      id = (await c.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id;
    } finally {
      await c.close();
    }

    const manifest = path.join(fakeS3.root, 'bucket/repo/points', id);
    const original = fs.readFileSync(manifest);
    fs.writeFileSync(manifest, Buffer.concat([original.subarray(0, original.length - 1), Buffer.from([original[original.length - 1]! ^ 1])]));
    let o = await engine.open({ path: url, passphrase: OWNER, cacheDir: ownerCache, remote: owner });
    try {
      expect((await o.verify({ data: false })).damagedPoints).toEqual([id]);
      expect(await o.listPoints()).toEqual([]);
    } finally {
      await o.close();
    }

    fs.writeFileSync(manifest, original);
    o = await engine.open({ path: url, passphrase: OWNER, cacheDir: ownerCache, remote: owner });
    try {
      expect((await o.listPoints()).map((p) => p.id)).toEqual([id]);
      const restored = path.join(tmp.dir, 'restored.img');
      await o.restore({ pointId: id, source: image, target: restored, skipIdentical: false });
      expect(sha256(restored)).toBe(sha256(image));
    } finally {
      await o.close();
    }
  });
});
