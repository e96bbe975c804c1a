import { describe, expect, it } from 'vitest';

import { formatEta } from '../../../electron/common/format';
import { isLastPhase, phaseWords } from '../../../renderer/src/util/phases';

describe('task phases', () => {
  it('a backup reading its source is not in its last phase: no "almost done" yet', () => {
    expect(isLastPhase('backup', 'reading')).toBe(false);
    expect(formatEta(3, { final: isLastPhase('backup', 'reading') })).toBe('finishing this step');
    expect(formatEta(40, { final: isLastPhase('backup', 'reading') })).toBe('40 s left in this step');
  });

  it('single-phase tasks and a backup after its data phases end with their phase', () => {
    expect(isLastPhase('restore', 'restoring')).toBe(true);
    expect(isLastPhase('verify', 'verifying')).toBe(true);
    expect(isLastPhase('backup', 'post-script')).toBe(true);
    // Waiting for a remote repository's working copy: the work is all ahead.
    expect(isLastPhase('backup', 'waiting')).toBe(false);
    expect(isLastPhase('restore', 'waiting')).toBe(false);
    expect(isLastPhase('verify', 'waiting')).toBe(false);
    expect(formatEta(3, { final: isLastPhase('restore', 'restoring') })).toBe('almost done');
  });

  it('words every phase the service reports, and capitalises unknown ones', () => {
    expect(phaseWords('retention')).toBe('Removing restore points beyond the retention');
    expect(phaseWords('waiting')).toBe('Waiting for another operation on the repository');
    expect(phaseWords('weird')).toBe('Weird');
  });
});
