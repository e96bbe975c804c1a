// Long work (backup, restore, verify, prune, mount, copy): every task the
// backend reports, kept current by 'task.updated' events, with cancel.
import type { Task } from '@common/contract';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';

import { call, onEvent } from '@/api/client';

import { ro } from './readonly';
import { useRequestState } from './request-state';

export const FINAL_STATES: ReadonlySet<Task['state']> = new Set(['succeeded', 'failed', 'cancelled']);
export const isFinished = (t: Task) => FINAL_STATES.has(t.state);

export const useTasksStore = defineStore('tasks', () => {
  const tasks = ref<Record<string, Task>>({});
  const { loading, error, read } = useRequestState();
  const waiters = new Map<string, Array<(t: Task) => void>>();

  function put(task: Task): void {
    const known = tasks.value[task.id];
    // Events can overtake a tasks.get answer: never go back from a final state.
    if (known && isFinished(known) && !isFinished(task)) return;
    tasks.value[task.id] = task;
    if (isFinished(task)) {
      for (const w of waiters.get(task.id) ?? []) w(task);
      waiters.delete(task.id);
    }
  }
  onEvent('task.updated', put);

  const active = computed(() => Object.values(tasks.value).filter((t) => !isFinished(t)));
  const recent = computed(() => Object.values(tasks.value).sort((a, b) => b.startedAt.localeCompare(a.startedAt)));

  const load = () =>
    read(async () => {
      for (const t of await call('tasks.list', {})) put(t);
    });

  /** Starts following a task the user just started (its first events may have been missed). */
  async function track(taskId: string): Promise<Task> {
    const t = await call('tasks.get', { taskId });
    put(t);
    return tasks.value[taskId] ?? t;
  }

  /** Resolves when the task has finished, whichever way. */
  function finished(taskId: string): Promise<Task> {
    const t = tasks.value[taskId];
    if (t && isFinished(t)) return Promise.resolve(t);
    return new Promise((resolve) => waiters.set(taskId, [...(waiters.get(taskId) ?? []), resolve]));
  }

  async function cancel(taskId: string): Promise<void> {
    await call('tasks.cancel', { taskId });
  }

  function byId(id: string | undefined): Task | undefined {
    return id === undefined ? undefined : tasks.value[id];
  }

  return { tasks: ro(tasks), active, recent, loading: ro(loading), error: ro(error), load, track, finished, cancel, byId };
});
