// Helpers of the hostile-repository corpus (hostile-*.test.ts): a canary
// tree outside the repository whose hashes must not change, a small real
// repository to attack, and byte-level builders for crafted packs, index
// files and zstd frames, written from docs/repository-format.md.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { expect } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { engine } from '../../../../electron/core/engine';
import { readDeviceList } from '../../../../electron/core/engine/chunk-lists';
import { readManifest } from '../../../../electron/core/engine/manifest';
import type { Repository } from '../../../../electron/core/engine/repository';
import { EnvelopeType, type NativeRepo } from '../../../../native/engine';
import { makeImage, scratch } from './fixtures';

/** A directory tree outside the repository that no repository operation may touch. */
export interface Canary {
  dir: string;
  /** Every path below dir with its type and content hash. */
  snapshot(): Record<string, string>;
}

export function makeCanary(base: string): Canary {
  const dir = path.join(base, 'canary');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  for (const name of ['a', 'b.json', '0123456789abcdef0123456789abcdef', 'sub/c']) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, name === 'b.json' ? '{"kind":"shared","host":"h","pid":1,"startedAt":"x","operation":"o"}' : `canary ${name}\n`);
    // Old: a lock-shaped file this old looks stale, which is what made the
    // lock sweep delete through a linked locks/ (security review #2).
    const old = new Date('2001-01-01T00:00:00Z');
    fs.utimesSync(file, old, old);
  }
  const snapshot = () => {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        const st = fs.lstatSync(p);
        const rel = path.relative(dir, p);
        if (e.isDirectory()) {
          out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
          walk(p);
        } else {
          out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')} ${st.mtimeMs}`;
        }
      }
    };
    walk(dir);
    return out;
  };
  return { dir, snapshot };
}

export interface Victim {
  base: string;
  repo: Repository;
  image: string;
  pointIds: string[];
}

/** A repository with two points of a small image; plain unless a passphrase is given. */
export async function makeVictim(prefix: string, opts: { passphrase?: string; size?: number; chunkSize?: number } = {}): Promise<Victim> {
  const base = scratch(prefix);
  const image = path.join(base, 'disk.img');
  makeImage(image, opts.size ?? 2 << 20, 5);
  const repo = (await engine.init({
    path: path.join(base, 'repo'),
    ...(opts.passphrase !== undefined && { passphrase: opts.passphrase }),
    ...(opts.chunkSize !== undefined && { chunkSize: opts.chunkSize }),
  })) as Repository;
  const a = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 3 });
  const fd = fs.openSync(image, 'r+');
  fs.writeSync(fd, Buffer.from('changed for the second point'), 0, 28, 4096);
  fs.closeSync(fd);
  const b = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 3 });
  return { base, repo, image, pointIds: [a.id, b.id] };
}

/** The chunk list of a point's first device. */
export async function pointList(repo: Repository, pointId: string): Promise<Buffer> {
  const m = await readManifest(repo.path, repo.native, pointId);
  const dev = m.devices[0];
  return dev ? readDeviceList(repo.native, dev, pointId) : Buffer.alloc(0);
}

/** Asserts that `p` rejects with an AppError of `code` whose message matches `words`; returns it. */
export async function expectAppError(p: Promise<unknown>, code: string, words?: RegExp): Promise<AppError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, `expected ${code}, got success`).toBeInstanceOf(AppError);
  const err = e as AppError;
  expect(err.code, err.message).toBe(code);
  if (words) expect(err.message).toMatch(words);
  return err;
}

// ---- byte builders (docs/repository-format.md) ----

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

export interface CraftEntry {
  id: Buffer;
  offset: number;
  storedLen: number;
  rawLen: number;
  flags: number;
}

export function entriesPayload(entries: CraftEntry[]): Buffer {
  return Buffer.concat([
    u32(entries.length),
    ...entries.map((e) => Buffer.concat([e.id, u32(e.offset), u32(e.storedLen), u32(e.rawLen), Buffer.from([e.flags])])),
  ]);
}

/** A whole pack file: header, the blobs back to back, trailer, footer; entries get their offsets. */
export function craftPack(native: NativeRepo, blobs: Array<{ id: Buffer; stored: Buffer; rawLen: number; flags: number }>): { bytes: Buffer; entries: CraftEntry[] } {
  const header = Buffer.from('SKPACK\x01\x00', 'latin1');
  let at = header.length;
  const entries = blobs.map((b) => {
    const e = { id: b.id, offset: at, storedLen: b.stored.length, rawLen: b.rawLen, flags: b.flags };
    at += b.stored.length;
    return e;
  });
  const trailer = native.sealEnvelope(EnvelopeType.packTrailer, entriesPayload(entries));
  const bytes = Buffer.concat([header, ...blobs.map((b) => b.stored), trailer, u32(trailer.length), Buffer.from('SKPE')]);
  return { bytes, entries };
}

/** An index file (envelope type 2) naming `packs`. */
export function craftIndex(native: NativeRepo, packs: Array<{ id: string; size: number; entries: CraftEntry[] }>): Buffer {
  const parts: Buffer[] = [Buffer.from('SKIX\x01\x00\x00\x00', 'latin1'), u32(packs.length)];
  for (const p of packs) {
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(p.size));
    parts.push(Buffer.from(p.id, 'hex'), size, entriesPayload(p.entries));
  }
  return native.sealEnvelope(EnvelopeType.index, Buffer.concat(parts));
}

/**
 * A zstd frame of `size` copies of `byte` made of RLE blocks: a few hundred
 * bytes that expand to megabytes (RFC 8878: single-segment frame with an
 * 8-byte content size, blocks of at most 128 KiB).
 */
export function zstdRleFrame(size: number, byte: number): Buffer {
  const fcs = Buffer.alloc(8);
  fcs.writeBigUInt64LE(BigInt(size));
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0]), fcs];
  for (let left = size; left > 0; ) {
    const n = Math.min(left, 128 * 1024);
    left -= n;
    const h = (n << 3) | (1 << 1) | (left === 0 ? 1 : 0);
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, byte]));
  }
  return Buffer.concat(parts);
}

/** Replaces every index file of the repository with one naming a single crafted pack. */
export function plantPack(repo: Repository, packId: string, pack: { bytes: Buffer; entries: CraftEntry[] }): void {
  const packDir = path.join(repo.path, 'packs', packId.slice(0, 2));
  fs.mkdirSync(packDir, { recursive: true });
  fs.writeFileSync(path.join(packDir, packId), pack.bytes);
  const indexDir = path.join(repo.path, 'index');
  for (const f of fs.readdirSync(indexDir)) fs.rmSync(path.join(indexDir, f));
  fs.writeFileSync(path.join(indexDir, 'ab'.repeat(16)), craftIndex(repo.native, [{ id: packId, size: pack.bytes.length, entries: pack.entries }]));
}

export type Op = 'list' | 'verify' | 'restore' | 'backup' | 'prune';
export const OPS: Op[] = ['list', 'verify', 'restore', 'backup', 'prune'];

let opCount = 0;

/**
 * One user-level operation on a fresh handle, as the CLI and the helper run
 * them (open, operate, close). A backup first changes the image so it has
 * new chunks to store; a restore writes the newest point to a new file.
 */
export async function runOp(v: Victim, op: Op, passphrase?: string): Promise<void> {
  const n = opCount++;
  const repo = await engine.open({ path: v.repo.path, ...(passphrase !== undefined && { passphrase }) });
  try {
    if (op === 'list') await repo.listPoints();
    else if (op === 'verify') {
      const r = await repo.verify({ data: true });
      if (!r.ok) throw new AppError('REPO_CORRUPT', `verify: ${r.problems.map((p) => p.message).join('; ')}`);
    } else if (op === 'restore')
      await repo.restore({ pointId: v.pointIds[v.pointIds.length - 1] ?? '', source: v.image, target: path.join(v.base, `out-${n}.img`), skipIdentical: false });
    else if (op === 'backup') {
      const fd = fs.openSync(v.image, 'r+');
      fs.writeSync(fd, Buffer.from(`new data of operation ${n} `.repeat(2000)), 0, 40000, (n * 65536) % (1 << 20));
      fs.closeSync(fd);
      await repo.backup({ sources: [{ source: v.image, readFrom: v.image }], compressionLevel: 1 });
    } else await repo.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false });
  } finally {
    await repo.close();
  }
}

/** Rejects when `p` takes longer than `ms`: a planted FIFO must not block an operation forever. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The code of what `p` rejected with, or 'ok'. */
export async function outcome(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: 'ok', message: '' };
  } catch (e) {
    if (e instanceof AppError) return { code: e.code, message: e.message };
    return { code: 'not an AppError', message: e instanceof Error ? e.message : String(e) };
  }
}

export function cleanup(dirs: string[]): void {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}

export { makeImage, scratch };
