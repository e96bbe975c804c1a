// docs/repository-format.md and the code cannot drift: this test builds the
// document's worked example with the real engine (plain mode, a fixed id
// key, so every byte is deterministic) and compares it with the hex dumps
// in the document; it parses an index file by the documented offsets; and
// it checks that the field tables of the config and manifest name exactly
// the fields of the schemas.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { EnvelopeType, openNativeRepo } from '../../../../native/engine';
import { RepoConfig } from '../../../../electron/core/engine/config';
import { Manifest, ManifestDevice } from '../../../../electron/core/engine/manifest';
import { docFields } from './doc-tables';
import { scratch } from './fixtures';

const DOC = fs.readFileSync(path.resolve(__dirname, '../../../../docs/repository-format.md'), 'utf8');
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The hex block tagged `name` in the document, whitespace removed. */
function docHex(name: string): string {
  const m = new RegExp('```hex ' + name + '\\n([\\s\\S]*?)```').exec(DOC);
  if (!m?.[1]) throw new Error(`docs/repository-format.md has no \`\`\`hex ${name} block`);
  return m[1].replace(/\s+/g, '');
}


function dump(b: Buffer): string {
  return b.toString('hex').replace(/(.{64})/g, '$1\n').trim();
}

describe('docs/repository-format.md', () => {
  it('shows the bytes the engine writes for its worked example', async () => {
    const dir = scratch('format');
    tmp.push(dir);
    const source = path.join(dir, 'source.img');
    fs.writeFileSync(source, Buffer.concat([Buffer.alloc(4096), Buffer.from('Snapkeep format!')]));
    const idKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    fs.mkdirSync(path.join(dir, 'repo'));
    const repo = openNativeRepo({ path: path.join(dir, 'repo'), idKey });
    const r = await repo.backup({ source, chunkSize: 4096, level: 3, threads: 1 });
    const pack = fs.readFileSync(path.join(dir, 'repo', 'packs', r.packs[0]?.slice(0, 2) ?? '', r.packs[0] ?? ''));
    const segment = repo.sealEnvelope(EnvelopeType.listSegment, r.list);
    const printTo = process.env['SNAPKEEP_PRINT_FORMAT'];
    if (printTo) fs.writeFileSync(printTo, `list\n${dump(r.list)}\npack\n${dump(pack)}\nsegment\n${dump(segment)}\nsegment-id\n${repo.chunkId(r.list).toString('hex')}\n`);
    expect(r.list.toString('hex')).toBe(docHex('example-list'));
    expect(pack.toString('hex')).toBe(docHex('example-pack'));
    expect(segment.toString('hex')).toBe(docHex('example-segment'));
    // the segment's name is the keyed hash of its ids
    expect(repo.chunkId(r.list).toString('hex')).toBe(docHex('example-segment-id'));

    // The index file, parsed by the offsets the document gives.
    const indexFile = fs.readFileSync(path.join(dir, 'repo', 'index', r.indexFile));
    expect(indexFile.subarray(0, 8).toString('hex')).toBe('534b454e01000200'); // "SKEN" v1 plain type 2
    const payload = indexFile.subarray(8, indexFile.length - 32);
    expect(payload.subarray(0, 4).toString()).toBe('SKIX');
    expect(payload[4]).toBe(1);
    expect(payload.readUInt32LE(8)).toBe(1);
    expect(payload.subarray(12, 28).toString('hex')).toBe(r.packs[0]);
    expect(Number(payload.readBigUInt64LE(28))).toBe(pack.length);
    // the entries are the pack trailer's payload, byte for byte
    const trailerLen = pack.readUInt32LE(pack.length - 8);
    const trailerPayload = pack.subarray(pack.length - 8 - trailerLen + 8, pack.length - 8 - 32);
    expect(payload.subarray(36).equals(trailerPayload)).toBe(true);
    expect(repo.openEnvelope(EnvelopeType.index, indexFile)).not.toBeNull();
  });

  it('lists exactly the fields of the config and the manifest', () => {
    expect(docFields('repository-format.md', '### Config fields')).toEqual(Object.keys(RepoConfig.shape).sort());
    expect(docFields('repository-format.md', '### Manifest fields')).toEqual(Object.keys(Manifest.shape).sort());
    expect(docFields('repository-format.md', '### Manifest device fields')).toEqual(Object.keys(ManifestDevice.shape).sort());
  });
});
