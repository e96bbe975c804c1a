// Round trips with image files: a full backup, then a chain of 10
// incrementals each after changing 1 % of the image at random offsets
// (every other one with tracker ranges, the others by re-reading and
// dedup), then every point restored and compared by sha256 with the image
// as it was at that point. With and without encryption.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { makeImage, mutate, scratch, sha256 } from './fixtures';

const SIZE = 24 * 1024 * 1024;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe.each([
  { name: 'unencrypted', passphrase: undefined },
  { name: 'encrypted', passphrase: 'correct horse battery staple' },
])('round trip ($name)', ({ passphrase }) => {
  it('restores every point of a full + 10 incrementals byte-identical', async () => {
    const dir = scratch('rt');
    dirs.push(dir);
    const image = path.join(dir, 'disk.img');
    const repoPath = path.join(dir, 'repo');
    makeImage(image, SIZE, 7);
    const repo = await engine.init({ path: repoPath, ...(passphrase !== undefined && { passphrase }) });
    const expected: Array<{ id: string; sha: string }> = [];
    const generation = 'gen-1';
    let number = 1;

    const full = await repo.backup({ sources: [{ source: image, readFrom: image, cbt: { generation, number, blockSize: 65536 } }], compressionLevel: 3, jobId: 'job1' });
    expect(full.kind).toBe('full');
    expect(full.devices[0]?.readBytes).toBe(SIZE);
    expected.push({ id: full.id, sha: sha256(image) });

    for (let i = 1; i <= 10; i++) {
      const ranges = mutate(image, 0.01, 100 + i);
      const useCbt = i % 2 === 1;
      const since = number;
      number++;
      const p = await repo.backup({
        sources: [
          {
            source: image,
            readFrom: image,
            cbt: { generation, number, blockSize: 65536 },
            ...(useCbt && { changes: { generation, sinceNumber: since, ranges } }),
          },
        ],
        compressionLevel: 3,
        jobId: 'job1',
      });
      expect(p.kind).toBe('incremental');
      expect(p.parentId).toBe(expected[expected.length - 1]?.id);
      const read = p.devices[0]?.readBytes ?? 0;
      if (useCbt) expect(read).toBeLessThan(SIZE * 0.5);
      else expect(read).toBe(SIZE);
      // Dedup: an incremental stores little more than the changed chunks.
      expect(p.addedBytes).toBeLessThan(SIZE * 0.5);
      expected.push({ id: p.id, sha: sha256(image) });
    }

    const points = await repo.listPoints();
    expect(points.map((p) => p.id)).toEqual(expected.map((e) => e.id));
    for (const e of expected) {
      const target = path.join(dir, `restore-${e.id}.img`);
      const r = await repo.restore({ pointId: e.id, source: image, target, skipIdentical: false });
      expect(r.verified).toBe(true);
      expect(sha256(target)).toBe(e.sha);
      fs.rmSync(target);
    }
    const report = await repo.verify({ data: true });
    expect(report.ok).toBe(true);
    expect(report.checkedPoints).toBe(11);
    await repo.close();
  });
});
