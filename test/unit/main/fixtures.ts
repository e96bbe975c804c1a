// Contract objects for main-process tests, valid by construction.
import type { Job, Task } from '../../../electron/common/contract';

export function task(over: Partial<Task> = {}): Task {
  return {
    id: 't1',
    kind: 'backup',
    title: 'Laptop disk',
    jobId: 'j1',
    state: 'running',
    startedAt: '2026-03-02T10:00:00.000Z',
    progress: { phase: 'reading', bytesDone: 0, bytesTotal: 1000, bytesPerSecond: 0 },
    warnings: [],
    ...over,
  };
}

export function job(over: Partial<Job> = {}): Job {
  return {
    id: 'j1',
    name: 'Laptop disk',
    sources: ['/dev/sda'],
    repositoryId: 'r1',
    schedule: { kind: 'daily', at: '02:00' },
    retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
    compressionLevel: 3,
    enabled: true,
    createdAt: '2026-03-01T10:00:00.000Z',
    running: false,
    ...over,
  };
}
