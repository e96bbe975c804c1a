// A repository's algorithms in the words the dashboard and the CLI show.
import { describe, expect, it } from 'vitest';

import { algorithmWords } from '../../../electron/common/contract';
import { ALGORITHM_SETS, CHUNK_ID_ALGORITHMS, ENCRYPTIONS } from '../../../electron/core/engine/config';

describe('algorithmWords', () => {
  it('names both sets the engine creates', () => {
    expect(algorithmWords({ chunkId: ALGORITHM_SETS.fast.chunkId, encryption: ALGORITHM_SETS.fast.aead })).toBe('chunk ids HMAC-SHA-256, encrypted with AES-256-GCM');
    expect(algorithmWords({ chunkId: ALGORITHM_SETS.classic.chunkId, encryption: ALGORITHM_SETS.classic.aead })).toBe('chunk ids keyed BLAKE2b, encrypted with XChaCha20-Poly1305');
    expect(algorithmWords({ chunkId: 'hmac-sha256', encryption: 'none' })).toBe('chunk ids HMAC-SHA-256, not encrypted');
  });

  it('has a name for every algorithm a config may hold, and shows an unknown one as it is', () => {
    for (const a of [...CHUNK_ID_ALGORITHMS, ...ENCRYPTIONS.filter((e) => e !== 'none')]) expect(algorithmWords({ chunkId: a, encryption: 'none' })).not.toContain(a);
    expect(algorithmWords({ chunkId: 'future-id', encryption: 'future-aead' })).toBe('chunk ids future-id, encrypted with future-aead');
  });
});
