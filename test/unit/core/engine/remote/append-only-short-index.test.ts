// An append-only client whose index upload leaves a short object on the
// store (docs/append-only-design.md §2.7: a cut SFTP create, or a server
// that kept something else under the name). The client may not replace it,
// and its working copy holds the whole file under the same name, which the
// index sync compares by name only: the journal of uploaded packs must not
// be cleared on the strength of that copy, or the next backup dedups
// against chunks no index on the store names. Over fake-s3.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { engine } from '../../../../../electron/core/engine';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, sha256 } from '../fixtures';
import { CLIENT, OWNER, client, fakeS3, owner } from './fake-s3';

vi.mock('../../../../../electron/core/engine/storage/s3', async () => (await import('./fake-s3')).fakeS3Module());

describe('an append-only client meeting a short index object (fake S3 store: uploads cut on purpose)', () => {
  const tmp = tempDir('snapkeep-short-index-');
  let n = 0;
  let url = '';
  let image = '';
  const open = (who: 'owner' | 'client') =>
    engine.open({ path: url, passphrase: who === 'owner' ? OWNER : CLIENT, cacheDir: path.join(tmp.dir, `${who}-cache-${n}`), remote: who === 'owner' ? owner : client });

  beforeEach(async () => {
    n++;
    fakeS3.root = path.join(tmp.dir, `store-${n}`);
    fakeS3.cut = undefined;
    fakeS3.cutNames = [];
    fakeS3.denyClientPackReads = false;
    url = `s3+http://127.0.0.1:9/bucket${n}/repo`;
    image = path.join(tmp.dir, `disk-${n}.img`);
    makeImage(image, 3 * 1024 * 1024, 70 + n);
    await (await engine.init({ path: url, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: path.join(tmp.dir, `owner-cache-${n}`), remote: owner })).close();
  });
  afterAll(() => tmp.remove());

  /** The owner's view: only the short index file is damaged, the point restores byte for byte. */
  async function ownerChecks(pointId: string, shortIndex: string): Promise<void> {
    const o = await open('owner');
    try {
      const report = await o.verify({ data: true });
      expect(report.problems.map((p) => `${p.kind} ${p.message}`)).toEqual([`bad-index index file ${shortIndex} is damaged`]);
      const restored = path.join(tmp.dir, `restored-${n}.img`);
      await o.restore({ pointId, source: image, target: restored, skipIdentical: false });
      expect(sha256(restored)).toBe(sha256(image));
    } finally {
      await o.close();
    }
  }

  it.each(['the same handle', 'a new process', 'a new process, on a store that refuses the client pack reads'])('keeps the journal when the upload was cut, and the next backup (%s) indexes the packs again', async (next) => {
    let c = await open('client');
    // S3's policy: the packs are indexed from the hollow copies kept at upload, not read back.
    fakeS3.denyClientPackReads = next.includes('refuses');
    try {
      fakeS3.cut = { match: /^index\//, keep: 40, mode: 'throw' };
      await expect(c.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).rejects.toMatchObject({ code: 'IO_ERROR' });
      const [short] = fakeS3.cutNames;
      expect(short).toMatch(/^index\/[0-9a-f]{32}$/);
      expect(fs.statSync(path.join(fakeS3.root, `bucket${n}/repo`, short ?? '')).size).toBe(40);
      // A process killed there leaves the same working copy, and nothing of it in memory.
      if (next.startsWith('a new process')) {
        await c.close();
        c = await open('client');
      }
      const second = await c.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
      await c.close();
      await ownerChecks(second.id, (short ?? '').slice('index/'.length));
    } finally {
      await c.close();
    }
  });

  it('fails the backup when the store kept a short object and said nothing, and the next one is whole', async () => {
    const c = await open('client');
    try {
      fakeS3.cut = { match: /^index\//, keep: 40, mode: 'silent' };
      await expect(c.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 })).rejects.toMatchObject({
        code: 'IO_ERROR',
        details: { reason: 'short-object' },
        message: /has 40 bytes where \d+ were uploaded/,
      });
      const [short] = fakeS3.cutNames;
      expect(short).toMatch(/^index\/[0-9a-f]{32}$/);
      const second = await c.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
      expect((await c.listPoints()).map((p) => p.id)).toEqual([second.id]);
      await c.close();
      await ownerChecks(second.id, (short ?? '').slice('index/'.length));
    } finally {
      await c.close();
    }
  });
});
