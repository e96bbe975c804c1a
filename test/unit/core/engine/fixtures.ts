// Test images with realistic content (text, binary noise, zero runs,
// repeated blocks), deterministic per seed, and the helpers the engine
// tests share.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A small deterministic PRNG (xorshift32), so failures reproduce. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const WORDS = 'the quick brown fox jumps over lazy dog snapshot block device chunk repository backup restore verify'.split(' ');

function fillBlock(buf: Buffer, kind: number, r: () => number): void {
  if (kind === 0) return; // zeros
  if (kind === 1) {
    let s = '';
    while (s.length < buf.length) s += (WORDS[Math.floor(r() * WORDS.length)] ?? 'x') + (r() < 0.1 ? '\n' : ' ');
    buf.write(s.slice(0, buf.length), 'latin1');
    return;
  }
  for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((r() * 0x100000000) >>> 0, i);
}

/** Writes `size` bytes in 64 KiB blocks of mixed kinds. */
/** `n` bytes from rng(seed): the same bytes for the same seed. */
export function seededBytes(n: number, seed: number): Buffer {
  const r = rng(seed);
  const b = Buffer.alloc(Math.ceil(n / 4) * 4);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((r() * 0x100000000) >>> 0, i);
  return b.subarray(0, n);
}

export function makeImage(file: string, size: number, seed: number): void {
  const r = rng(seed);
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(64 * 1024);
  for (let off = 0; off < size; off += block.length) {
    block.fill(0);
    const p = r();
    fillBlock(block, p < 0.3 ? 0 : p < 0.65 ? 1 : 2, r);
    fs.writeSync(fd, block, 0, Math.min(block.length, size - off), off);
  }
  fs.closeSync(fd);
}

/** Overwrites about `fraction` of the file with random 4 KiB-aligned writes; returns the written ranges. */
export function mutate(file: string, fraction: number, seed: number, writeSize = 4096): Array<[number, number]> {
  const r = rng(seed);
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r+');
  const ranges: Array<[number, number]> = [];
  const buf = Buffer.alloc(writeSize);
  for (let done = 0; done < size * fraction; done += writeSize) {
    const off = Math.floor((r() * (size - writeSize)) / 4096) * 4096;
    fillBlock(buf, 2, r);
    fs.writeSync(fd, buf, 0, writeSize, off);
    ranges.push([off, writeSize]);
  }
  fs.closeSync(fd);
  return ranges;
}

export function sha256(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let off = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, off);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    off += n;
  }
  fs.closeSync(fd);
  return h.digest('hex');
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `snapkeep-${prefix}-`));
}

/** Where the test files live: a real disk file system when /tmp is tmpfs would hide O_DIRECT. */
export function scratch(prefix: string): string {
  const base = process.env['SNAPKEEP_TEST_SCRATCH'] ?? os.tmpdir();
  return fs.mkdtempSync(path.join(base, `snapkeep-${prefix}-`));
}
