// Reads a dm-log-writes log (drivers/md/dm-log-writes.c) and replays it onto
// another device, entry by entry, stopping wherever the caller wants to look.
// Used by the power-loss VM test: replaying up to a FLUSH or FUA entry gives
// the disk as it could be after a power cut at that moment (every write
// before it is durable, nothing after it reached the platter).
//
// Log layout, in 512-byte sectors: sector 0 holds the super
//   { le64 magic, le64 version, le64 nr_entries, le32 sectorsize },
// entries follow from sector sectorsize/512, each one sector-size block
//   { le64 sector, le64 nr_sectors, le64 flags, le64 data_len } [+ mark text]
// followed by nr_sectors * sectorsize bytes of data for a write (nothing for
// a discard, a flush without data or a mark).
import * as fs from 'node:fs';

export const FLUSH = 1;
export const FUA = 2;
export const DISCARD = 4;
export const MARK = 8;
const MAGIC = 0x6a736677736872n;

function readAt(fd, pos, len) {
  const buf = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const n = fs.readSync(fd, buf, done, len - done, pos + done);
    if (n === 0) throw new Error(`log ends at ${pos + done}, wanted ${len} bytes at ${pos}`);
    done += n;
  }
  return buf;
}

/** Opens the log and yields its entries in order: { index, sector, nrSectors, flags, mark?, dataPos } (byte offsets). */
export function* logEntries(logDevice) {
  const fd = fs.openSync(logDevice, 'r');
  try {
    const sup = readAt(fd, 0, 28);
    if (sup.readBigUInt64LE(0) !== MAGIC) throw new Error(`${logDevice}: not a dm-log-writes log (bad magic)`);
    const version = sup.readBigUInt64LE(8);
    if (version !== 1n) throw new Error(`${logDevice}: log version ${version}, only 1 is known`);
    const count = Number(sup.readBigUInt64LE(16));
    const sectorSize = sup.readUInt32LE(24);
    if (![512, 1024, 2048, 4096].includes(sectorSize)) throw new Error(`${logDevice}: sector size ${sectorSize}?`);
    let pos = sectorSize;
    for (let index = 0; index < count; index++) {
      const head = readAt(fd, pos, sectorSize);
      const sector = Number(head.readBigUInt64LE(0));
      const nrSectors = Number(head.readBigUInt64LE(8));
      const flags = Number(head.readBigUInt64LE(16));
      const dataLen = Number(head.readBigUInt64LE(24));
      pos += sectorSize;
      const e = { index, count, sectorSize, sector, nrSectors, flags, dataPos: pos, fd };
      if (flags & MARK) e.mark = head.subarray(32, 32 + dataLen).toString('utf8');
      else if (!(flags & DISCARD)) pos += nrSectors * sectorSize;
      yield e;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Applies one entry to the open replay target `targetFd` (buffered; the caller fsyncs before looking). */
export function applyEntry(e, targetFd) {
  if (e.flags & MARK || e.nrSectors === 0) return;
  const bytes = e.nrSectors * e.sectorSize;
  const at = e.sector * e.sectorSize;
  const chunk = 1 << 20;
  for (let off = 0; off < bytes; off += chunk) {
    const n = Math.min(chunk, bytes - off);
    const data = e.flags & DISCARD ? Buffer.alloc(n) : readAt(e.fd, e.dataPos + off, n);
    fs.writeSync(targetFd, data, 0, n, at + off);
  }
}

/** Whether a cut right after this entry is a moment the disk could be found in after a power loss. */
export const isDurabilityPoint = (e) => (e.flags & (FLUSH | FUA)) !== 0;
