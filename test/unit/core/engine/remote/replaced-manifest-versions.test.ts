// A manifest replaced in a versioned bucket (docs/append-only-design.md
// §4): an append-only client's login can put a new version of a point's
// manifest but remove none, so the owner, whose current version does not
// open, reads the oldest version that does: the point restores, and verify
// reports the replacement without calling the point damaged. A client,
// which may not list versions, skips the point as before. Over fake-s3.ts;
// s3-append-only.test.ts does the same against radosgw.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it, vi } from 'vitest';

import { engine } from '../../../../../electron/core/engine';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, sha256 } from '../fixtures';
import { CLIENT, OWNER, client, fakeS3, owner } from './fake-s3';

vi.mock('../../../../../electron/core/engine/storage/s3', async () => (await import('./fake-s3')).fakeS3Module());

describe('a manifest replaced in a versioned bucket (fake S3 store; radosgw: s3-append-only)', () => {
  const tmp = tempDir('snapkeep-replaced-manifest-');
  afterAll(() => tmp.remove());

  it('is read from its oldest version that opens by the owner, and reported by verify', async () => {
    fakeS3.root = path.join(tmp.dir, 'store');
    const url = 's3+http://127.0.0.1:9/bucket/repo';
    const image = path.join(tmp.dir, 'disk.img');
    makeImage(image, 2 * 1024 * 1024, 44);
    await (await engine.init({ path: url, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: path.join(tmp.dir, 'owner-cache'), remote: owner })).close();
    const clientCache = path.join(tmp.dir, 'client-cache');
    let c = await engine.open({ path: url, passphrase: CLIENT, cacheDir: clientCache, remote: client });
    let id: string;
    try {
      id = (await c.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).id;
    } finally {
      await c.close();
    }
    const manifest = path.join(fakeS3.root, 'bucket/repo/points', id);
    // The forged one: the same size, one bit off (what a client's key cannot seal).
    const forged = Buffer.from(fs.readFileSync(manifest));
    forged[forged.length - 1]! ^= 1;
    fakeS3.replace(manifest, forged);

    const o = await engine.open({ path: url, passphrase: OWNER, cacheDir: path.join(tmp.dir, 'owner-cache'), remote: owner });
    try {
      const report = await o.verify({ data: true });
      expect(report.damagedPoints).toEqual([]);
      expect(report.problems).toEqual([{ kind: 'bad-manifest', pointIds: [], message: expect.stringMatching(new RegExp(`^the manifest of restore point ${id} was replaced after it was written: .*its oldest version that opens \\(v0\\) is used`)) }]);
      expect((await o.listPoints()).map((p) => p.id)).toEqual([id]);
      const restored = path.join(tmp.dir, 'restored.img');
      await o.restore({ pointId: id, source: image, target: restored, skipIdentical: false });
      expect(sha256(restored)).toBe(sha256(image));
    } finally {
      await o.close();
    }
    // The client may not read versions: the point does not open for it, and its next backup is a full one of its own.
    c = await engine.open({ path: url, passphrase: CLIENT, cacheDir: clientCache, remote: client });
    try {
      expect(await c.listPoints()).toEqual([]);
      const next = await c.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
      expect(next.kind).toBe('full');
    } finally {
      await c.close();
    }
  });
});
