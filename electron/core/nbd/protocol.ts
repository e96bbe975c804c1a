// The NBD wire protocol, fixed-newstyle handshake and simple replies
// (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md):
// just what a read-only export needs. Numbers from that document.
export const NBDMAGIC = Buffer.from('NBDMAGIC');
export const IHAVEOPT = 0x49484156454f5054n;
export const OPT_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;

export const FLAG_FIXED_NEWSTYLE = 1;
export const FLAG_NO_ZEROES = 2;
export const CLIENT_FLAG_NO_ZEROES = 2;

export const OPT = { EXPORT_NAME: 1, ABORT: 2, LIST: 3, INFO: 6, GO: 7 } as const;
export const REP = { ACK: 1, SERVER: 2, INFO: 3, ERR_UNSUP: 0x80000001, ERR_UNKNOWN: 0x80000006 } as const;
export const INFO_EXPORT = 0;

/** Transmission flags: has flags, read-only, can serve several connections. */
export const TX_FLAGS = 1 | 2 | 0x100;

export const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4 } as const;
export const ERR = { EPERM: 1, EIO: 5, EINVAL: 22 } as const;

export function optReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(20 + data.length);
  b.writeBigUInt64BE(OPT_REPLY_MAGIC, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(type, 12);
  b.writeUInt32BE(data.length, 16);
  data.copy(b, 20);
  return b;
}

export function simpleReply(handle: Buffer, error: number, data?: Buffer): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error, 4);
  handle.copy(b, 8);
  return data ? Buffer.concat([b, data]) : b;
}

export function exportInfo(size: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(INFO_EXPORT, 0);
  b.writeBigUInt64BE(BigInt(size), 2);
  b.writeUInt16BE(TX_FLAGS, 10);
  return b;
}
