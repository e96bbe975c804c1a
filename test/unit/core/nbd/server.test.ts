// The NBD server speaks the fixed-newstyle handshake (NBD_OPT_GO as
// nbd-client 3.24 sends it), serves reads from a PointReader, refuses
// writes with EPERM, and reports when its client has gone.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { expect, it } from 'vitest';

import type { PointReader } from '../../../../electron/core/engine/api';
import { ByteReader } from '../../../../electron/core/nbd/byte-reader';
import { startNbdServer } from '../../../../electron/core/nbd/server';

function fakeReader(data: Buffer): PointReader {
  return {
    sizeBytes: data.length,
    read: async (off, len) => Buffer.from(data.subarray(off, off + len)),
    close: async () => undefined,
  };
}

function request(type: number, handle: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(0x25609513, 0);
  b.writeUInt16BE(type, 6);
  b.writeBigUInt64BE(BigInt(handle), 8);
  b.writeBigUInt64BE(BigInt(offset), 16);
  b.writeUInt32BE(length, 24);
  return b;
}

it('negotiates with NBD_OPT_GO, serves reads, refuses writes', async () => {
  const data = Buffer.alloc(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapkeep-nbd-'));
  const server = await startNbdServer({ reader: fakeReader(data), socketPath: path.join(dir, 's.sock'), exportName: 'pt' });
  const sock = net.connect(server.socketPath);
  const r = new ByteReader(sock);
  const hello = await r.read(18);
  expect(hello.subarray(0, 8).toString()).toBe('NBDMAGIC');
  expect(hello.readBigUInt64BE(8)).toBe(0x49484156454f5054n);
  sock.write(Buffer.from([0, 0, 0, 3])); // fixed newstyle + no zeroes
  const name = Buffer.from('pt');
  const opt = Buffer.alloc(16 + 4 + name.length + 2);
  opt.writeBigUInt64BE(0x49484156454f5054n, 0);
  opt.writeUInt32BE(7, 8); // NBD_OPT_GO
  opt.writeUInt32BE(4 + name.length + 2, 12);
  opt.writeUInt32BE(name.length, 16);
  name.copy(opt, 20);
  sock.write(opt);
  const info = await r.read(20);
  expect(info.readUInt32BE(12)).toBe(3); // NBD_REP_INFO
  const infoData = await r.read(info.readUInt32BE(16));
  expect(Number(infoData.readBigUInt64BE(2))).toBe(data.length);
  expect(infoData.readUInt16BE(10) & 2).toBe(2); // read-only
  const ack = await r.read(20);
  expect(ack.readUInt32BE(12)).toBe(1); // NBD_REP_ACK

  sock.write(request(0, 42, 4096, 8192));
  const reply = await r.read(16);
  expect(reply.readUInt32BE(0)).toBe(0x67446698);
  expect(reply.readUInt32BE(4)).toBe(0);
  expect(reply.readBigUInt64BE(8)).toBe(42n);
  expect((await r.read(8192)).equals(data.subarray(4096, 4096 + 8192))).toBe(true);

  sock.write(Buffer.concat([request(1, 43, 0, 512), Buffer.alloc(512)]));
  const refused = await r.read(16);
  expect(refused.readUInt32BE(4)).toBe(1); // EPERM

  sock.write(request(0, 44, data.length - 10, 20));
  expect((await r.read(16)).readUInt32BE(4)).toBe(22); // EINVAL beyond the end

  sock.write(request(2, 45, 0, 0)); // NBD_CMD_DISC
  await server.finished;
  await server.close();
  sock.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});
