import { describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';

describe('changedRanges (cells >= sinceNumber, merged, clipped)', () => {
  it('merges adjacent changed blocks and ignores older marks', () => {
    const map = Uint8Array.from([0, 3, 3, 2, 5, 0, 4]);
    expect(engine.changedRanges(map, 4096, 3, 7 * 4096)).toEqual([
      [4096, 8192],
      [16384, 4096],
      [24576, 4096],
    ]);
  });

  it('clips the last block to the device size and ignores cells beyond it', () => {
    const map = Uint8Array.from([0, 9, 9, 9]);
    expect(engine.changedRanges(map, 4096, 1, 2 * 4096 + 100)).toEqual([[4096, 4096 + 100]]);
  });

  it('returns nothing when nothing changed', () => {
    expect(engine.changedRanges(new Uint8Array(16), 65536, 1, 16 * 65536)).toEqual([]);
  });
});
