// Reads exact byte counts from a socket as promises: the NBD handshake and
// request headers are fixed-size records.
import type { Socket } from 'node:net';

export class ByteReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private ended: Error | undefined;

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.have += d.length;
      this.pump();
    });
    const end = () => {
      this.ended = new Error('connection closed');
      this.pump();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting = { n, resolve, reject };
      this.pump();
    });
  }

  private pump(): void {
    const w = this.waiting;
    if (!w) return;
    if (this.have >= w.n) {
      const all = Buffer.concat(this.chunks);
      this.chunks = [all.subarray(w.n)];
      this.have -= w.n;
      this.waiting = undefined;
      w.resolve(all.subarray(0, w.n));
    } else if (this.ended) {
      this.waiting = undefined;
      w.reject(this.ended);
    }
  }
}
