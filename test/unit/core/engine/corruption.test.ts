// A flipped byte in a pack: verify names the damaged restore point and
// chunk, an unaffected point still restores, and restoring the affected one
// stops with REPO_CORRUPT naming the chunk instead of writing wrong data.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { readDeviceList } from '../../../../electron/core/engine/chunk-lists';
import { dirs } from '../../../../electron/core/engine/format';
import { readManifest } from '../../../../electron/core/engine/manifest';
import type { Repository } from '../../../../electron/core/engine/repository';
import { makeImage, mutate, scratch, sha256 } from './fixtures';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

async function ids(repo: Repository, pointId: string): Promise<Set<string>> {
  const m = await readManifest(repo.path, repo.native, pointId);
  const dev = m.devices[0];
  const list = dev ? await readDeviceList(repo.native, dev, pointId) : Buffer.alloc(0);
  const out = new Set<string>();
  for (let at = 0; at < list.length; at += 32) out.add(list.subarray(at, at + 32).toString('hex'));
  return out;
}

it.each([{ passphrase: undefined }, { passphrase: 'pw' }])('names the damaged point and chunk (passphrase: $passphrase)', async ({ passphrase }) => {
  const dir = scratch('corrupt');
  tmp.push(dir);
  const image = path.join(dir, 'disk.img');
  makeImage(image, 8 << 20, 3);
  const repo = (await engine.init({ path: path.join(dir, 'repo'), ...(passphrase !== undefined && { passphrase }) })) as Repository;
  const a = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 3 });
  const shaA = sha256(image);
  mutate(image, 0.02, 9, 65536);
  const b = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 3 });

  const inA = await ids(repo, a.id);
  const onlyB = [...(await ids(repo, b.id))].filter((id) => !inA.has(id) && !/^0+$/.test(id));
  const victim = onlyB[0];
  expect(victim).toBeDefined();
  const loc = repo.native.locate(victim as string);
  expect(loc).not.toBeNull();
  if (!loc) return;
  const packFile = dirs.pack(repo.path, loc.pack);
  const fd = fs.openSync(packFile, 'r+');
  const at = loc.offset + Math.floor(loc.storedLength / 2);
  const byte = Buffer.alloc(1);
  fs.readSync(fd, byte, 0, 1, at);
  byte[0] = (byte[0] ?? 0) ^ 0x40;
  fs.writeSync(fd, byte, 0, 1, at);
  fs.closeSync(fd);

  const structural = await repo.verify({ data: false });
  expect(structural.ok).toBe(true); // the trailer and index are intact
  const report = await repo.verify({ data: true });
  expect(report.ok).toBe(false);
  expect(report.damagedPoints).toEqual([b.id]);
  const bad = report.problems.find((p) => p.kind === 'bad-chunk');
  expect(bad?.chunkId).toBe(victim);
  expect(bad?.pack).toBe(loc.pack);
  expect(bad?.pointIds).toEqual([b.id]);

  // Asked about the unaffected point alone, verify finds it sound.
  expect((await repo.verify({ data: true, pointId: a.id })).ok).toBe(true);
  expect((await repo.verify({ data: true, pointId: b.id })).damagedPoints).toEqual([b.id]);

  const outA = path.join(dir, 'a.img');
  await repo.restore({ pointId: a.id, source: image, target: outA, skipIdentical: false });
  expect(sha256(outA)).toBe(shaA);

  const outB = path.join(dir, 'b.img');
  const err = await repo.restore({ pointId: b.id, source: image, target: outB, skipIdentical: false }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('REPO_CORRUPT');
  expect((err as AppError).details).toMatchObject({ chunk: victim, pack: loc.pack, pointId: b.id });
  await repo.close();
});
