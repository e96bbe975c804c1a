// The manifest records the partition table and file-system facts (sfdisk,
// blkid on the image itself, no loop device), and one partition restores
// alone to an image of just that partition.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { scratch, sha256 } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

it('records a GPT disk with ext4 and restores partition 2 alone', async () => {
  const dir = scratch('layout');
  tmp.push(dir);
  const image = path.join(dir, 'disk.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 40 << 20);
  execFileSync('sfdisk', ['-q', image], { input: 'label: gpt\nstart=2048, size=16384, type=L\nstart=18432, size=40960, type=L\n' });
  // mke2fs writes at an offset into the image: no loop device needed.
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'second', '-E', `offset=${18432 * 512}`, image, '20M']);
  const repo = await engine.init({ path: path.join(dir, 'repo') });
  const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
  const dev = p.devices[0];
  expect(dev?.partTableType).toBe('gpt');
  expect(dev?.partitions.map((x) => [x.number, x.startBytes, x.sizeBytes])).toEqual([
    [1, 2048 * 512, 16384 * 512],
    [2, 18432 * 512, 40960 * 512],
  ]);
  expect(dev?.partitions[1]).toMatchObject({ fsType: 'ext4', fsLabel: 'second' });
  expect(dev?.partitions[1]?.fsUuid).toMatch(/^[0-9a-f-]{36}$/);
  expect(dev?.partitions[0]?.fsType).toBeUndefined();

  const out = path.join(dir, 'part2.img');
  const r = await repo.restore({ pointId: p.id, source: image, target: out, partition: 2, skipIdentical: false });
  expect(r.bytesWritten + r.bytesSkipped).toBe(40960 * 512);
  const slice = path.join(dir, 'slice.img');
  fs.writeFileSync(slice, fs.readFileSync(image).subarray(18432 * 512, (18432 + 40960) * 512));
  expect(sha256(out)).toBe(sha256(slice));
  execFileSync('e2fsck', ['-fn', out], { stdio: 'ignore' });
});
