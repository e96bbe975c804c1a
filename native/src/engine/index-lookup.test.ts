// Lookups in an index table, read through the cache file (pread of a block,
// the path a mapped table takes) and from memory (no cache directory): the
// same answers, including the cases the block reads must get right: one id
// in more entries than one read holds (only the last counts: the others'
// packs are removed), and ids that share their first 8 bytes over more
// rows than one summary block (the summary cannot narrow them).
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import type { NativeRepo } from '../../engine';
import { newRepo, scratchDir } from './test-support';

const PACKS = 512;
const PACK_SIZE = 1 << 30;
const DUPS = 300; // more than two summary blocks (2 x 64 rows)
const TWINS = 400; // ids sharing one 8-byte key

interface Entry {
  id: Buffer;
  pack: number;
  offset: number;
}

const packId = (p: number) => createHash('sha256').update(`pack ${p}`).digest().subarray(0, 16);

/** An index file of format 2 (docs/repository-format.md), frame by frame. */
function writeIndex(repo: NativeRepo, dir: string, entries: Entry[], removed: number[]): void {
  const fileId = randomBytes(16);
  const out: Buffer[] = [Buffer.from('SKIX\x02\x00\x00\x00', 'latin1')];
  let seq = 0;
  const frame = (kind: number, count: number, body: Buffer) => {
    const head = Buffer.alloc(28);
    fileId.copy(head, 0);
    head.writeUInt32LE(seq++, 16);
    head[20] = kind;
    head.writeUInt32LE(count, 24);
    const sealed = repo.sealEnvelope(2, Buffer.concat([head, body]));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(sealed.length);
    out.push(len, sealed);
  };
  const packs = Buffer.alloc(PACKS * 24);
  for (let p = 0; p < PACKS; p++) {
    packId(p).copy(packs, p * 24);
    packs.writeBigUInt64LE(BigInt(PACK_SIZE), p * 24 + 16);
  }
  frame(1, PACKS, packs);
  frame(2, removed.length, Buffer.concat(removed.map(packId)));
  for (let at = 0; at < entries.length; at += 4096) {
    const part = entries.slice(at, at + 4096);
    const body = Buffer.alloc(part.length * 48);
    part.forEach((e, i) => {
      e.id.copy(body, i * 48);
      body.writeUInt32LE(e.pack, i * 48 + 32);
      body.writeUInt32LE(e.offset, i * 48 + 36);
      body.writeUInt32LE(4096, i * 48 + 40);
      body.writeUInt32LE(4096, i * 48 + 44);
    });
    frame(3, part.length, body);
  }
  const end = Buffer.alloc(20);
  end.writeUInt32LE(PACKS, 0);
  end.writeUInt32LE(removed.length, 4);
  end.writeBigUInt64LE(BigInt(entries.length), 8);
  end.writeUInt32LE(seq, 16);
  frame(4, 0, end);
  fs.writeFileSync(path.join(dir, 'repo', 'index', fileId.toString('hex')), Buffer.concat(out));
}

describe('index lookups', () => {
  it('find the same entries through the cache file and in memory: runs of one id, ids sharing their 8-byte key', async () => {
    const dir = scratchDir();
    const idKey = randomBytes(32);
    const writer = newRepo(dir, false, { version: 2, idKey });
    fs.mkdirSync(path.join(dir, 'repo', 'index'), { recursive: true });

    const entries: Entry[] = [];
    for (let i = 0; i < 20000; i++) entries.push({ id: randomBytes(32), pack: 300 + (i % (PACKS - 300)), offset: 8 + 4096 * (i % 1000) });
    // One id in DUPS entries, packs 0..DUPS-1; all but the last pack removed.
    const dup = randomBytes(32);
    for (let p = 0; p < DUPS; p++) entries.push({ id: dup, pack: p, offset: 8 + 4096 * p });
    // TWINS ids with one 8-byte key (and absent ids with it, probed below).
    const key = randomBytes(8);
    const twin = () => Buffer.concat([key, randomBytes(24)]);
    const twins: Entry[] = [];
    for (let i = 0; i < TWINS; i++) twins.push({ id: twin(), pack: 300 + (i % 200), offset: 8 + 4096 * i });
    entries.push(...twins);
    entries.sort((a, b) => Buffer.compare(a.id, b.id) || a.pack - b.pack);
    writeIndex(writer, dir, entries, Array.from({ length: DUPS - 1 }, (_, p) => p));

    const present = new Map<string, Entry>();
    for (const e of entries) if (!present.has(e.id.toString('hex')) && e.id !== dup) present.set(e.id.toString('hex'), e);
    const probes: string[] = [
      dup.toString('hex'),
      ...twins.map((e) => e.id.toString('hex')),
      ...Array.from({ length: 50 }, () => twin().toString('hex')),
      ...entries.filter((_, i) => i % 37 === 0).map((e) => e.id.toString('hex')),
      ...Array.from({ length: 200 }, () => randomBytes(32).toString('hex')),
      entries[0]!.id.toString('hex'),
      entries[entries.length - 1]!.id.toString('hex'),
      '00'.repeat(31) + '01',
      'ff'.repeat(32),
    ];

    const answers = async (cacheDir: string | undefined) => {
      const repo = newRepo(dir, false, { version: 2, idKey, ...(cacheDir !== undefined && { cacheDir }) });
      const load = await repo.loadIndex();
      expect(load.badFiles).toEqual([]);
      const stats = repo.stats();
      const got = probes.map((p) => repo.locate(p));
      repo.closeFiles();
      return { got, mapped: stats.mappedIndexFiles };
    };
    fs.mkdirSync(path.join(dir, 'cache'));
    const cached = await answers(path.join(dir, 'cache'));
    const memory = await answers(undefined);
    expect(cached.mapped).toBe(1);
    expect(memory.mapped).toBe(0);

    const expected = probes.map((p) => {
      if (p === dup.toString('hex')) return { pack: packId(DUPS - 1).toString('hex'), offset: 8 + 4096 * (DUPS - 1) };
      const e = present.get(p);
      return e ? { pack: packId(e.pack).toString('hex'), offset: e.offset } : null;
    });
    const brief = (l: ReturnType<NativeRepo['locate']>) => (l ? { pack: l.pack, offset: l.offset } : null);
    expect(cached.got.map(brief)).toEqual(expected);
    expect(memory.got.map(brief)).toEqual(expected);
    // Absent: the 50 twins not written, 200 random ids, the two extremes; the rest found.
    expect(expected.filter((x) => x === null).length).toBe(50 + 200 + 2);
  });
});

