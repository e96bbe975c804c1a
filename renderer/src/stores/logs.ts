// The service's log, newest first, followed live through 'log.entry'.
import type { LogEntry } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, onEvent } from '@/api/client';

import { ro } from './readonly';

const KEEP = 2000;

export const useLogsStore = defineStore('logs', () => {
  const entries = ref<LogEntry[]>([]);
  const loading = ref(false);
  const error = ref<unknown>(null);
  /** Append live entries as they come. */
  const follow = ref(true);

  onEvent('log.entry', (e) => {
    if (!follow.value) return;
    entries.value = [e, ...entries.value].slice(0, KEEP);
  });

  async function load(limit = 500): Promise<void> {
    loading.value = true;
    try {
      entries.value = [...(await call('logs.list', { limit }))].sort((a, b) => b.time.localeCompare(a.time));
      error.value = null;
    } catch (e) {
      error.value = e;
    } finally {
      loading.value = false;
    }
  }

  function setFollow(on: boolean): void {
    follow.value = on;
  }

  return { entries: ro(entries), loading: ro(loading), error: ro(error), follow: ro(follow), load, setFollow };
});
