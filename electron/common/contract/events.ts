// Events pushed from the helper (or in-process core) to subscribed clients.
import { z } from 'zod';

import { ErrorInfo } from './errors';
import { Id, Job, LogEntry, Task } from './domain';

export const events = {
  /** A task started, progressed or finished (throttled to a few per second). */
  'task.updated': Task,
  'job.updated': Job,
  'job.deleted': z.object({ id: Id }),
  /** Snapshot trouble during a run: low difference storage, overflow. */
  'snapshot.event': z.object({
    taskId: Id.optional(),
    kind: z.enum(['low-space', 'overflow']),
    device: z.string().optional(),
    requestedSectors: z.number().int().nonnegative().optional(),
    error: ErrorInfo.optional(),
  }),
  'log.entry': LogEntry,
} as const;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(events, name);
}
