import { describe, expect, it } from 'vitest';

import type { SystemInfo } from '../../../electron/common/contract';
import { servedByWords } from '../../../renderer/src/util/served-by';

const base: SystemInfo = {
  appVersion: '0.1.0',
  hostname: 'h',
  kernel: '6.1.0',
  backend: 'local',
  module: { loaded: false, runningKernel: '6.1.0', builtFor: [], missingForKernels: [], secureBoot: 'unknown' },
};

describe('who answers, in words', () => {
  it('never says "without root" of a session that runs as root', () => {
    const root = servedByWords({ ...base, service: { uid: 0, root: true, schedules: 'while-running', installCommand: 'x' } });
    expect(root).toBe('this session, as root, without the system service; schedules run only while this session runs');
    const user = servedByWords({ ...base, service: { uid: 1000, root: false, schedules: 'off', installCommand: 'x' } });
    expect(user).toMatch(/^this session, without root/);
    expect(servedByWords({ ...base, backend: 'helper' })).toBe('the Snapkeep system service (root)');
  });
});
