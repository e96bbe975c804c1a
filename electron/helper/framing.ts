// Newline-delimited JSON frames on a byte stream (the helper's Unix socket).
// JSON text never contains a raw newline, so a newline ends a frame. A peer
// that sends an endless line is cut off at the size limit instead of
// growing the buffer without bound.
export const MAX_FRAME = 1 << 20;

export class LineDecoder {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly onFrame: (frame: string) => void,
    private readonly onOversize: () => void,
    private readonly max = MAX_FRAME,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.max) return this.oversize();
      this.parts.push(piece);
      const frame = Buffer.concat(this.parts).toString('utf8');
      this.parts = [];
      this.size = 0;
      start = nl + 1;
      if (frame.trim().length > 0) this.onFrame(frame);
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0) return;
    if (this.size + rest.length > this.max) return this.oversize();
    this.parts.push(rest);
    this.size += rest.length;
  }

  private oversize(): void {
    this.parts = [];
    this.size = 0;
    this.onOversize();
  }
}
