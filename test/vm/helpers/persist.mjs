// Shared by the persistent change map tests (test/vm/tests/12x-kmod-persist*),
// in the guest: store files, their on-disk bytes read with O_DIRECT, and
// the format of docs/kernel-module.md ("Persistent change map") decoded
// independently of the module (its own CRC32C).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { check, native, sh } from './kmodlib.mjs';

export const PAGE = 4096;
export const MAGIC = 0x42434b53; // "SKCB"
export const SEALED = 1;
export const INTENT = 2;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), seed ~0, inverted: "123456789" -> 0xe3069283. */
export function crc32c(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
check(crc32c(Buffer.from('123456789')) === 0xe3069283, 'the test CRC32C gives the check value');

/** A store file written with zeros (real extents: readable through the file). */
export async function makeStore(path, bytes) {
  rmSync(path, { force: true });
  sh('dd', 'if=/dev/zero', `of=${path}`, `bs=${PAGE}`, `count=${bytes / PAGE}`, 'conv=fsync', 'status=none');
  return storeOf(path);
}

/** A fresh 4 KiB-block ext4 on `dev` mounted at /tmp/other, holding a 64-page store file. */
export async function storeOnFreshExt4(dev) {
  sh('mkfs.ext4', '-q', '-F', '-b', '4096', dev);
  sh('mkdir', '-p', '/tmp/other');
  sh('mount', dev, '/tmp/other');
  const storePath = '/tmp/other/map.store';
  return { storePath, store: await makeStore(storePath, 64 * PAGE) };
}

/** The store argument for a file: its extents in file order, as sectors. */
export async function storeOf(path, identity = 'test-disk') {
  const fx = await native.fileExtents(path);
  const ranges = [...fx.extents].sort((a, b) => a.logical - b.logical).map((e) => ({ start: e.physical / 512, count: e.length / 512 }));
  return { file: path, ranges, identity };
}

/** Bytes of a file (or device range) read with O_DIRECT: what is on the disk. */
export function readDirect(path, bytes, offset = 0) {
  const tmp = `/tmp/direct-${process.pid}`;
  sh('dd', `if=${path}`, `of=${tmp}`, `bs=${PAGE}`, `skip=${offset / PAGE}`, `count=${bytes / PAGE}`, 'iflag=direct', 'status=none');
  const buf = readFileSync(tmp);
  rmSync(tmp);
  return buf;
}

/** Writes `buf` into a file at `offset` with O_DIRECT (the store must not be attached). */
export function writeDirect(path, buf, offset = 0) {
  const tmp = `/tmp/direct-${process.pid}`;
  writeFileSync(tmp, buf);
  sh('dd', `if=${tmp}`, `of=${path}`, `bs=${PAGE}`, `seek=${offset / PAGE}`, 'oflag=direct', 'conv=notrunc,fsync', 'status=none');
  rmSync(tmp);
}

/** Decodes one metadata page; null when it has no magic. */
export function parseMeta(page) {
  if (page.readUInt32LE(0) !== MAGIC) return null;
  const copy = Buffer.from(page);
  copy.writeUInt32LE(0, 8);
  const hex = page.subarray(48, 64).toString('hex');
  return {
    version: page.readUInt32LE(4),
    crcOk: crc32c(copy) === page.readUInt32LE(8),
    flags: page.readUInt32LE(12),
    sequence: Number(page.readBigUInt64LE(16)),
    capacity: Number(page.readBigUInt64LE(24)),
    lbs: page.readUInt32LE(32),
    blockShift: page.readUInt32LE(36),
    blockCount: Number(page.readBigUInt64LE(40)),
    generation: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    number: page[64],
    time: Number(page.readBigUInt64LE(72)),
    mapCrc: page.readUInt32LE(80),
    pageSize: page.readUInt32LE(84),
    mapOffset: Number(page.readBigUInt64LE(88)),
    identity: page.subarray(96, 160),
  };
}

/** Re-signs a metadata page after a deliberate change (its CRC32C). */
export function resign(page) {
  page.writeUInt32LE(0, 8);
  page.writeUInt32LE(crc32c(page.subarray(0, PAGE)), 8);
}

/**
 * The store as it is on the disk: both metadata copies, the newest valid
 * one, and the map's cells (`cells` of them).
 */
export function readStore(path, cells) {
  const pages = 2 + Math.ceil(cells / PAGE);
  const buf = readDirect(path, pages * PAGE);
  const slots = [parseMeta(buf.subarray(0, PAGE)), parseMeta(buf.subarray(PAGE, 2 * PAGE))];
  let newest = null;
  for (const m of slots) if (m?.crcOk && (!newest || m.sequence > newest.sequence)) newest = m;
  return { buf, slots, newest, map: buf.subarray(2 * PAGE, 2 * PAGE + cells) };
}
