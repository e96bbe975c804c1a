// The CBT convention of api.ts: the map frozen at snapshot C marks a block
// changed since snapshot P when its cell is >= P.number.
export function changedRanges(map: Uint8Array, blockSize: number, sinceNumber: number, deviceSize: number): Array<[number, number]> {
  if (!Number.isInteger(blockSize) || blockSize <= 0) throw new RangeError('blockSize must be a positive integer');
  const out: Array<[number, number]> = [];
  let start = -1;
  const blocks = Math.min(map.length, Math.ceil(deviceSize / blockSize));
  for (let i = 0; i <= blocks; i++) {
    const changed = i < blocks && (map[i] ?? 0) >= sinceNumber;
    if (changed && start < 0) start = i;
    if (!changed && start >= 0) {
      const off = start * blockSize;
      out.push([off, Math.min(deviceSize, i * blockSize) - off]);
      start = -1;
    }
  }
  return out;
}
