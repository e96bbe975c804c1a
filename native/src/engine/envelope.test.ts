import { describe, expect, it } from 'vitest';

import { EnvelopeType } from '../../engine';
import { newRepo, scratchDir } from './test-support';

describe.each([false, true])('envelope (encrypted: %s)', (encrypted) => {
  it('opens what it sealed, and nothing else', () => {
    const repo = newRepo(scratchDir(), encrypted);
    const payload = Buffer.from('{"manifest":true}');
    const sealed = repo.sealEnvelope(EnvelopeType.manifest, payload);
    // "SKEN", version 1, mode, type 3, reserved
    expect(sealed.subarray(0, 8).toString('hex')).toBe(`534b454e01${encrypted ? '01' : '00'}0300`);
    expect(repo.openEnvelope(EnvelopeType.manifest, sealed)?.equals(payload)).toBe(true);
    // the type is authenticated
    expect(repo.openEnvelope(EnvelopeType.listSegment, sealed)).toBeNull();
    for (const at of [0, 6, 9, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at] = (bad[at] ?? 0) ^ 0x10;
      expect(repo.openEnvelope(EnvelopeType.manifest, bad)).toBeNull();
    }
    // another repository's keys do not open it
    expect(newRepo(scratchDir(), encrypted).openEnvelope(EnvelopeType.manifest, sealed)).toBeNull();
  });
});
