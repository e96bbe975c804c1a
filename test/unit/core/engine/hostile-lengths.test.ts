// Hostile repository, lengths and counts: an index entry whose raw length
// is bigger than the chunk it stands for (engine review finding 4: the blob
// was decoded into a chunk-size buffer before anything checked it), in the
// raw and in the zstd form, for restore and for random reads. Whoever can
// write an unencrypted repository can forge such entries: its MAC key is in
// the config. Each case must end in REPO_CORRUPT naming the chunk, with the
// process alive (the ASan step of npm test runs this file too).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import type { Repository } from '../../../../electron/core/engine/repository';
import { cleanup, craftPack, expectAppError, plantPack, pointList, scratch, zstdRleFrame } from './hostile-support';

const tmp: string[] = [];
afterAll(() => cleanup(tmp));

const CHUNK = 256 * 1024;
const BIG = 4 << 20;

/** A plain repository holding one point of one 256 KiB chunk; returns it reopened after `tamper`. */
async function oneChunkRepo(prefix: string): Promise<{ repo: Repository; base: string; victim: Buffer; pointId: string; image: string }> {
  const base = scratch(prefix);
  tmp.push(base);
  const image = path.join(base, 'disk.img');
  fs.writeFileSync(image, Buffer.alloc(CHUNK, 'snapkeep '));
  const repo = (await engine.init({ path: path.join(base, 'repo') })) as Repository;
  const p = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 3 });
  const victim = (await pointList(repo, p.id)).subarray(0, 32);
  return { repo, base, victim, pointId: p.id, image };
}

const cases = [
  {
    name: 'raw blob longer than its chunk',
    blob: (victim: Buffer) => ({ id: victim, stored: Buffer.alloc(BIG, 0x41), rawLen: BIG, flags: 0 }),
    words: /raw length of 4194304 bytes where its place holds 262144/,
  },
  {
    name: 'zstd frame expanding beyond its chunk',
    blob: (victim: Buffer) => ({ id: victim, stored: zstdRleFrame(BIG, 0x42), rawLen: BIG, flags: 1 }),
    words: /raw length of 4194304 bytes where its place holds 262144/,
  },
  {
    name: 'raw length above the largest chunk size',
    blob: (victim: Buffer) => ({ id: victim, stored: zstdRleFrame(64 << 20, 0x43), rawLen: 64 << 20, flags: 1 }),
    // Refused when the index is decoded: the entry is unknown from then on.
    words: /not in any pack/,
  },
];

describe('crafted index entry: raw length > chunk', () => {
  it.each(cases)('restore refuses a $name', async ({ blob, words }) => {
    const { repo, base, victim, pointId, image } = await oneChunkRepo('hostile-rawlen');
    plantPack(repo, 'cd'.repeat(16), craftPack(repo.native, [blob(victim)]));
    await repo.close();
    const again = (await engine.open({ path: repo.path })) as Repository;
    const target = path.join(base, 'out.img');
    const err = await expectAppError(again.restore({ pointId, source: image, target, skipIdentical: false }), 'REPO_CORRUPT', words);
    expect(err.details).toMatchObject({ chunk: victim.toString('hex') });
    await again.close();
  });

  it.each(cases)('a random read refuses a $name', async ({ blob, words }) => {
    const { repo, victim, pointId, image } = await oneChunkRepo('hostile-rawlen-read');
    plantPack(repo, 'ef'.repeat(16), craftPack(repo.native, [blob(victim)]));
    await repo.close();
    const again = (await engine.open({ path: repo.path })) as Repository;
    const reader = await again.openReader(pointId, image);
    await expectAppError(reader.read(0, 4096), 'REPO_CORRUPT', words);
    await reader.close();
    await again.close();
  });
});
