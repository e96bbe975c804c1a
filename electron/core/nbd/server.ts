// A read-only NBD server for one restore point: the kernel's nbd client
// attaches to it (nbd-client -unix) and the point appears as /dev/nbdN,
// whose partitions can be mounted read-only to copy files out. Reads go
// through a PointReader, so every byte served was hash-checked.
import * as fs from 'node:fs';
import * as net from 'node:net';

import type { PointReader } from '../engine/api';
import { ByteReader } from './byte-reader';
import * as P from './protocol';

export interface NbdServer {
  readonly socketPath: string;
  /** Resolves when the last client disconnected after at least one was served, or on close(). */
  readonly finished: Promise<void>;
  close(): Promise<void>;
}

async function handshake(sock: net.Socket, r: ByteReader, exportName: string, size: number): Promise<boolean> {
  const hello = Buffer.alloc(18);
  P.NBDMAGIC.copy(hello, 0);
  hello.writeBigUInt64BE(P.IHAVEOPT, 8);
  hello.writeUInt16BE(P.FLAG_FIXED_NEWSTYLE | P.FLAG_NO_ZEROES, 16);
  sock.write(hello);
  const clientFlags = (await r.read(4)).readUInt32BE(0);
  const noZeroes = (clientFlags & P.CLIENT_FLAG_NO_ZEROES) !== 0;
  for (;;) {
    const h = await r.read(16);
    if (h.readBigUInt64BE(0) !== P.IHAVEOPT) return false;
    const opt = h.readUInt32BE(8);
    const data = await r.read(h.readUInt32BE(12));
    switch (opt) {
      case P.OPT.EXPORT_NAME: {
        if (data.toString() !== exportName && data.length !== 0) return false;
        const b = Buffer.alloc(noZeroes ? 10 : 134);
        b.writeBigUInt64BE(BigInt(size), 0);
        b.writeUInt16BE(P.TX_FLAGS, 8);
        sock.write(b);
        return true;
      }
      case P.OPT.INFO:
      case P.OPT.GO: {
        const nameLen = data.readUInt32BE(0);
        const name = data.subarray(4, 4 + nameLen).toString();
        if (name !== exportName && name !== '') {
          sock.write(P.optReply(opt, P.REP.ERR_UNKNOWN));
          continue;
        }
        sock.write(P.optReply(opt, P.REP.INFO, P.exportInfo(size)));
        sock.write(P.optReply(opt, P.REP.ACK));
        if (opt === P.OPT.GO) return true;
        continue;
      }
      case P.OPT.LIST: {
        const n = Buffer.from(exportName);
        const d = Buffer.alloc(4 + n.length);
        d.writeUInt32BE(n.length, 0);
        n.copy(d, 4);
        sock.write(P.optReply(opt, P.REP.SERVER, d));
        sock.write(P.optReply(opt, P.REP.ACK));
        continue;
      }
      case P.OPT.ABORT:
        sock.write(P.optReply(opt, P.REP.ACK));
        return false;
      default:
        sock.write(P.optReply(opt, P.REP.ERR_UNSUP));
    }
  }
}

async function transmission(sock: net.Socket, r: ByteReader, reader: PointReader): Promise<void> {
  for (;;) {
    const h = await r.read(28);
    if (h.readUInt32BE(0) !== P.REQUEST_MAGIC) return;
    const type = h.readUInt16BE(6);
    const handle = Buffer.from(h.subarray(8, 16));
    const offset = Number(h.readBigUInt64BE(16));
    const length = h.readUInt32BE(24);
    switch (type) {
      case P.CMD.READ: {
        if (offset + length > reader.sizeBytes) {
          sock.write(P.simpleReply(handle, P.ERR.EINVAL));
          break;
        }
        try {
          sock.write(P.simpleReply(handle, 0, await reader.read(offset, length)));
        } catch {
          sock.write(P.simpleReply(handle, P.ERR.EIO));
        }
        break;
      }
      case P.CMD.WRITE:
        await r.read(length); // the payload, refused
        sock.write(P.simpleReply(handle, P.ERR.EPERM));
        break;
      case P.CMD.FLUSH:
        sock.write(P.simpleReply(handle, 0));
        break;
      case P.CMD.DISC:
        return;
      default:
        sock.write(P.simpleReply(handle, P.ERR.EINVAL));
    }
  }
}

export async function startNbdServer(opts: { reader: PointReader; socketPath: string; exportName: string }): Promise<NbdServer> {
  fs.rmSync(opts.socketPath, { force: true });
  let served = 0;
  let active = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    active++;
    const r = new ByteReader(sock);
    void (async () => {
      try {
        if (await handshake(sock, r, opts.exportName, opts.reader.sizeBytes)) {
          served++;
          await transmission(sock, r, opts.reader);
        }
      } catch {
        /* the client went away */
      } finally {
        sock.destroy();
        sockets.delete(sock);
        active--;
        if (active === 0 && served > 0) finish();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socketPath, () => resolve());
  });
  fs.chmodSync(opts.socketPath, 0o600);
  return {
    socketPath: opts.socketPath,
    finished,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(opts.socketPath, { force: true });
      finish();
    },
  };
}
