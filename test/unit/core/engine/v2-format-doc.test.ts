// docs/repository-format.md, format 2: the worked example's list root is
// built by the real engine and compared byte for byte with the document,
// and an index file of format 2 is parsed by the offsets the document gives
// (header, frames, frame payloads, entries) and must agree with the packs.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { EnvelopeType, openNativeRepo } from '../../../../native/engine';
import { scratch } from './fixtures';

const DOC = fs.readFileSync(path.resolve(__dirname, '../../../../docs/repository-format.md'), 'utf8');
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function docHex(name: string): string {
  const m = new RegExp('```hex ' + name + '\\n([\\s\\S]*?)```').exec(DOC);
  if (!m?.[1]) throw new Error(`docs/repository-format.md has no \`\`\`hex ${name} block`);
  return m[1].replace(/\s+/g, '');
}

function dump(b: Buffer): string {
  return b.toString('hex').replace(/(.{64})/g, '$1\n').trim();
}

describe('docs/repository-format.md, format 2', () => {
  it('shows the list root the engine writes for the worked example, and its name', async () => {
    const dir = scratch('format2');
    tmp.push(dir);
    const repoPath = path.join(dir, 'repo');
    fs.mkdirSync(repoPath);
    const source = path.join(dir, 'source.img');
    fs.writeFileSync(source, Buffer.concat([Buffer.alloc(4096), Buffer.from('Snapkeep format!')]));
    const idKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const repo = openNativeRepo({ path: repoPath, idKey, version: 2 });
    const r = await repo.backup({ source, chunkSize: 4096, level: 3, threads: 1, writeSegments: true, writeRoot: true });
    const rootId = r.root ?? '';
    const rootFile = fs.readFileSync(path.join(repoPath, 'lists', rootId.slice(0, 2), rootId));
    const printTo = process.env['SNAPKEEP_PRINT_FORMAT'];
    if (printTo) fs.writeFileSync(printTo, `list-root\n${dump(rootFile)}\nlist-root-id\n${rootId}\n`);
    expect(rootFile.toString('hex')).toBe(docHex('example-list-root'));
    expect(rootId).toBe(docHex('example-list-root-id'));
    // The payload, by the documented offsets.
    const payload = repo.openEnvelope(EnvelopeType.listRoot, rootFile);
    if (!payload) throw new Error('the list root does not open');
    expect(payload.subarray(0, 5).toString('latin1')).toBe('SKLR\x01');
    expect(Number(payload.readBigUInt64LE(8))).toBe(2);
    expect(payload.readUInt32LE(16)).toBe(1);
    expect(payload.subarray(20).equals(r.segments)).toBe(true);
    expect(repo.chunkId(payload).toString('hex')).toBe(rootId);
    // The segment it names is the one of the format 1 example.
    expect(r.segments.toString('hex')).toBe(docHex('example-segment-id'));
  });

  it('writes index files of format 2 as the document says', async () => {
    const dir = scratch('format2-index');
    tmp.push(dir);
    const repoPath = path.join(dir, 'repo');
    fs.mkdirSync(repoPath);
    const source = path.join(dir, 'source.img');
    // 20000 distinct 4 KiB chunks in 16 KiB packs: two entry frames, many packs.
    const data = Buffer.alloc(20000 * 4096);
    for (let c = 0; c < 20000; c++) data.writeUInt32LE(c + 1, c * 4096);
    fs.writeFileSync(source, data);
    const idKey = Buffer.from(Array.from({ length: 32 }, (_, i) => 255 - i));
    const repo = openNativeRepo({ path: repoPath, idKey, version: 2 });
    const r = await repo.backup({ source, chunkSize: 4096, level: 1, packSize: 65536 });
    const file = fs.readFileSync(path.join(repoPath, 'index', r.indexFile));
    expect(file.subarray(0, 8).toString('latin1')).toBe('SKIX\x02\x00\x00\x00');
    const frames: Array<{ kind: number; count: number; body: Buffer }> = [];
    for (let at = 8; at < file.length; ) {
      const len = file.readUInt32LE(at);
      const p = repo.openEnvelope(EnvelopeType.index, file.subarray(at + 4, at + 4 + len));
      if (!p) throw new Error(`frame at ${at} does not open`);
      expect(p.subarray(0, 16).toString('hex')).toBe(r.indexFile); // the file id is the name
      expect(p.readUInt32LE(16)).toBe(frames.length); // numbered from 0
      frames.push({ kind: p[20] ?? 0, count: p.readUInt32LE(24), body: p.subarray(28) });
      at += 4 + len;
    }
    expect(frames.map((f) => f.kind)).toEqual([...frames.slice(0, -1).map((f) => f.kind).sort(), 4]);
    const packs = frames.filter((f) => f.kind === 1);
    const entries = frames.filter((f) => f.kind === 3);
    expect(entries.length).toBe(2);
    const table: string[] = []; // pack numbers of the entries index this
    for (const f of packs) for (let i = 0; i < f.count; i++) table.push(f.body.subarray(i * 24, i * 24 + 16).toString('hex'));
    expect([...table].sort()).toEqual([...r.packs].sort());
    const end = frames.at(-1)?.body ?? Buffer.alloc(0);
    expect(end.readUInt32LE(0)).toBe(r.packs.length);
    expect(end.readUInt32LE(4)).toBe(0);
    expect(Number(end.readBigUInt64LE(8))).toBe(20000);
    expect(end.readUInt32LE(16)).toBe(frames.length - 1);
    // Entries sorted by id, each where the pack's own trailer says it is.
    let prev = Buffer.alloc(32);
    let n = 0;
    for (const f of entries)
      for (let i = 0; i < f.count; i++, n++) {
        const e = f.body.subarray(i * 48, i * 48 + 48);
        const id = e.subarray(0, 32);
        expect(Buffer.compare(prev, id)).toBeLessThan(0);
        prev = Buffer.from(id);
        const loc = repo.locate(id.toString('hex'));
        expect(loc?.pack).toBe(table[e.readUInt32LE(32)]);
        expect(loc?.offset).toBe(e.readUInt32LE(36));
        expect(loc?.storedLength).toBe(e.readUInt32LE(40));
        expect(loc?.rawLength).toBe(e.readUInt32LE(44) & 0x0fffffff);
        expect(loc?.compressed).toBe(((e.readUInt32LE(44) >>> 28) & 1) === 1);
      }
    expect(n).toBe(20000);
  });
});
