// Ids of jobs, repositories, tasks, runs and history entries: short, sortable
// by creation time, and valid under the contract's Id schema.
import { randomBytes } from 'node:crypto';

export function newId(prefix: string, now: Date = new Date()): string {
  return `${prefix}-${now.getTime().toString(36)}${randomBytes(5).toString('hex')}`;
}
