import { describe, expect, it } from 'vitest';

import type { Task } from '../../../electron/common/contract';
import { taskSummary } from '../../../renderer/src/util/task-summary';

const base: Task = {
  id: 't',
  kind: 'backup',
  title: 'x',
  state: 'succeeded',
  startedAt: '2026-03-02T10:00:00.000Z',
  finishedAt: '2026-03-02T10:01:05.000Z',
  progress: { phase: 'retention', bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0 },
  warnings: [],
};

describe('task summary', () => {
  it('says what each kind of task did, from its result', () => {
    expect(taskSummary({ ...base, result: { pointId: 'p', bytesRead: 67_100_000, bytesWritten: 25_200_000, durationMs: 65_000 } })).toBe(
      'Read 64.0 MiB, stored 24.0 MiB of new data in 1 min 5 s',
    );
    expect(taskSummary({ ...base, kind: 'restore', result: { bytesWritten: 1e9, bytesSkipped: 0, verified: true } })).toBe('Wrote 954 MiB in 1 min 5 s, every chunk verified');
    expect(taskSummary({ ...base, kind: 'copy-files', finishedAt: '2026-03-02T10:00:00.300Z', result: { files: 2, bytes: 33 } })).toBe('Copied 2 item(s), 33 B in less than a second');
    expect(taskSummary({ ...base, kind: 'verify', result: { ok: false, checkedPoints: 3, checkedChunks: 120, damagedPoints: ['p'], problems: [{}] } })).toBe(
      '3 restore point(s), 120 chunks checked: 1 problem(s) in 1 min 5 s',
    );
    expect(taskSummary({ ...base, kind: 'prune', result: { removedPoints: ['a', 'b'], keptPoints: [], removedPacks: 1, freedBytes: 5e6 } })).toBe('2 restore point(s) beyond the retention, 4.77 MiB in 1 min 5 s');
    expect(taskSummary({ ...base, kind: 'mount' })).toBe('Done in 1 min 5 s');
    expect(taskSummary({ ...base, state: 'failed' })).toBe('after 1 min 5 s');
  });
});
