// Seed corpora for the fuzz harnesses, cut from real repository files: the
// native engine (built addon, out/js) backs up a small mixed image with the
// harnesses' fixed keys, plain and encrypted, into small packs; its pack
// files, trailers, index files, blobs and envelopes become the seeds, each
// prefixed with the harness's mode byte (see the comment at the top of each
// test/fuzz/fuzz_*.cc). A format-3 repository (version-2 packs, trailers
// under the metadata key) adds pack and trailer seeds.
//
//   node test/fuzz/make-seeds.mjs <out-dir>
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const { openNativeRepo, EnvelopeType, boxKeypair, aeadOpen } = require(path.join(root, 'out/js/native/engine.js'));

const out = process.argv[2];
if (!out) throw new Error('usage: make-seeds.mjs <out-dir>');

const idKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const encKey = Buffer.from(Array.from({ length: 32 }, (_, i) => 32 + i));
const metaKey = Buffer.from(Array.from({ length: 32 }, (_, i) => 64 + i));

/** 384 KiB: zeros, text, repeated and random blocks, so blobs come raw and compressed. */
function image(file) {
  const parts = [];
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
  for (let i = 0; i < 96; i++) {
    const kind = i % 4;
    const b = Buffer.alloc(4096);
    if (kind === 1) b.write('snapkeep seed corpus text block '.repeat(128));
    else if (kind === 2) b.fill(i);
    else if (kind === 3) for (let j = 0; j < b.length; j++) b[j] = rnd();
    parts.push(b);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

let n = 0;
function seed(harness, mode, data) {
  const dir = path.join(out, harness);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `seed-${String(n++).padStart(4, '0')}`), Buffer.concat([Buffer.from([mode]), data]));
}

function u32(b, at) {
  return b.readUInt32LE(at);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'snapkeep-seeds-'));
try {
  const src = path.join(work, 'disk.img');
  image(src);
  for (const encrypted of [false, true]) {
    const repoDir = path.join(work, encrypted ? 'enc' : 'plain');
    fs.mkdirSync(repoDir);
    const repo = openNativeRepo({ path: repoDir, idKey, ...(encrypted && { encKey }) });
    const r = await repo.backup({ source: src, chunkSize: 4096, level: 3, packSize: 64 * 1024, threads: 1 });
    const e = encrypted ? 1 : 0;
    for (const id of r.packs) {
      const pack = fs.readFileSync(path.join(repoDir, 'packs', id.slice(0, 2), id));
      seed('fuzz_pack_trailer', e, pack);
      const tlen = u32(pack, pack.length - 8);
      const trailer = pack.subarray(pack.length - 8 - tlen, pack.length - 8);
      seed('fuzz_envelope', e | (EnvelopeType.packTrailer << 1), trailer);
      const payload = repo.openEnvelope(EnvelopeType.packTrailer, trailer);
      if (!payload) throw new Error(`pack ${id}: trailer does not open`);
      seed('fuzz_pack_trailer', e | 2, payload);
      // The first few blobs of each pack, with their lengths.
      const count = u32(payload, 0);
      for (let i = 0; i < Math.min(count, 4); i++) {
        const at = 4 + i * 45;
        const offset = u32(payload, at + 32);
        const storedLen = u32(payload, at + 36);
        const rawLen = u32(payload, at + 40);
        const flags = payload[at + 44];
        const head = Buffer.alloc(8);
        head.writeUInt32LE(rawLen, 0);
        head.writeUInt32LE(rawLen, 4);
        seed('fuzz_blob', e | (flags & 1 ? 2 : 0), Buffer.concat([head, pack.subarray(offset, offset + storedLen)]));
      }
    }
    const indexFile = fs.readFileSync(path.join(repoDir, 'index', r.indexFile));
    seed('fuzz_envelope', e | (EnvelopeType.index << 1), indexFile);
    const indexPayload = repo.openEnvelope(EnvelopeType.index, indexFile);
    if (!indexPayload) throw new Error('index does not open');
    seed('fuzz_index', e, indexPayload);
    // A chunk-list segment and a manifest-shaped JSON, sealed as the TypeScript layer does.
    seed('fuzz_envelope', e | (EnvelopeType.listSegment << 1), repo.sealEnvelope(EnvelopeType.listSegment, r.list));
    const manifest = { version: 1, id: '20250101T000000000Z-abcdef', repositoryId: '0123456789abcdef', createdAt: '2025-01-01T00:00:00.000Z', kind: 'full', devices: [] };
    seed('fuzz_envelope', e | (EnvelopeType.manifest << 1), repo.sealEnvelope(EnvelopeType.manifest, Buffer.from(JSON.stringify(manifest))));
  }
  // Format 3 (fuzz_pack_trailer's bit 2): the key pair is random, as the
  // harness decodes nothing sealed to it (the seal is checked by form only).
  const f3Dir = path.join(work, 'f3');
  fs.mkdirSync(f3Dir);
  const pair = boxKeypair();
  const f3 = openNativeRepo({ path: f3Dir, idKey, metaKey, publicKey: pair.publicKey, version: 3 });
  const r3 = await f3.backup({ source: src, chunkSize: 4096, level: 3, packSize: 64 * 1024, threads: 1 });
  for (const id of r3.packs) {
    const pack = fs.readFileSync(path.join(f3Dir, 'packs', id.slice(0, 2), id));
    seed('fuzz_pack_trailer', 1 | 4, pack);
    const tlen = u32(pack, pack.length - 8);
    const trailer = pack.subarray(pack.length - 8 - tlen, pack.length - 8);
    // Mode 1 envelope (XChaCha20-Poly1305): nonce and ciphertext after the 8-byte header, which is the AD.
    const payload = aeadOpen(metaKey, trailer.subarray(8), trailer.subarray(0, 8));
    if (!payload) throw new Error(`format-3 pack ${id}: trailer does not open under the metadata key`);
    seed('fuzz_pack_trailer', 1 | 2 | 4, payload);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(`make-seeds: ${n} seeds in ${out}`);
