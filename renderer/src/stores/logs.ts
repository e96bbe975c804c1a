// The service's log, newest first, followed live through 'log.entry'.
import type { LogEntry } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, onEvent } from '@/api/client';

import { ro } from './readonly';
import { useRequestState } from './request-state';

const KEEP = 2000;

export const useLogsStore = defineStore('logs', () => {
  const entries = ref<LogEntry[]>([]);
  const { loading, error, read } = useRequestState();
  /** Append live entries as they come. */
  const follow = ref(true);

  onEvent('log.entry', (e) => {
    if (!follow.value) return;
    entries.value = [e, ...entries.value].slice(0, KEEP);
  });

  const load = (limit = 500) =>
    read(async () => {
      entries.value = [...(await call('logs.list', { limit }))].sort((a, b) => b.time.localeCompare(a.time));
    });

  function setFollow(on: boolean): void {
    follow.value = on;
  }

  return { entries: ro(entries), loading: ro(loading), error: ro(error), follow: ro(follow), load, setFollow };
});
