// What a finished task did, in one line, from its result (the service's
// per-kind result object: contract Task.result). Pure; tested without a DOM.
import type { Task } from '@common/contract';

import { formatBytes, formatDuration } from './format';

const num = (r: Record<string, unknown> | undefined, k: string): number | undefined => (typeof r?.[k] === 'number' ? (r[k] as number) : undefined);

export function taskSummary(task: Task): string {
  const r = task.result;
  const took = task.finishedAt ? (Date.parse(task.finishedAt) - Date.parse(task.startedAt)) / 1000 : NaN;
  const inTime = Number.isFinite(took) && took >= 0 ? (took < 1 ? ' in less than a second' : ` in ${formatDuration(took)}`) : '';
  if (task.state !== 'succeeded') return Number.isFinite(took) && took >= 0 ? `after ${formatDuration(took)}` : '';
  switch (task.kind) {
    case 'backup': {
      const read = num(r, 'bytesRead');
      const written = num(r, 'bytesWritten');
      if (read === undefined) break;
      return `Read ${formatBytes(read)}, stored ${formatBytes(written ?? 0)} of new data${inTime}`;
    }
    case 'restore': {
      const written = num(r, 'bytesWritten');
      if (written === undefined) break;
      const skipped = num(r, 'bytesSkipped') ?? 0;
      const resumed = num(r, 'bytesResumed') ?? 0;
      return `${resumed ? `Resumed after ${formatBytes(resumed)} an interrupted run had restored; w` : 'W'}rote ${formatBytes(written)}${skipped ? `, skipped ${formatBytes(skipped)} (empty or identical)` : ''}${inTime}, every chunk verified`;
    }
    case 'copy-files': {
      const files = num(r, 'files');
      if (files === undefined) break;
      return `Copied ${files} item(s), ${formatBytes(num(r, 'bytes') ?? 0)}${inTime}`;
    }
    case 'verify': {
      const points = num(r, 'checkedPoints');
      if (points === undefined) break;
      const problems = Array.isArray(r?.['problems']) ? (r['problems'] as unknown[]).length : 0;
      return `${points} restore point(s), ${num(r, 'checkedChunks') ?? 0} chunks checked: ${problems ? `${problems} problem(s)` : 'no problem'}${inTime}`;
    }
    case 'prune': {
      const removed = Array.isArray(r?.['removedPoints']) ? (r['removedPoints'] as unknown[]).length : undefined;
      if (removed === undefined) break;
      return `${removed} restore point(s) beyond the retention, ${formatBytes(num(r, 'freedBytes') ?? 0)}${inTime}`;
    }
    default:
      break;
  }
  return inTime ? `Done${inTime}` : 'Done';
}
