// Finished runs with their figures (read, written, duration, rate).
import type { HistoryEntry } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, onEvent } from '@/api/client';

import { ro } from './readonly';

export const useHistoryStore = defineStore('history', () => {
  const entries = ref<HistoryEntry[]>([]);
  const loading = ref(false);
  const loaded = ref(false);
  const error = ref<unknown>(null);
  let lastQuery: { jobId?: string; limit: number } = { limit: 100 };

  async function load(query: { jobId?: string; limit?: number } = {}): Promise<void> {
    lastQuery = { limit: query.limit ?? 100, ...(query.jobId !== undefined && { jobId: query.jobId }) };
    loading.value = true;
    try {
      entries.value = [...(await call('history.list', lastQuery))].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
      loaded.value = true;
      error.value = null;
    } catch (e) {
      error.value = e;
    } finally {
      loading.value = false;
    }
  }

  // A finished backup adds a history entry: read it again once loaded.
  onEvent('task.updated', (t) => {
    if (loaded.value && t.kind === 'backup' && t.state !== 'running' && t.state !== 'queued') void load(lastQuery);
  });

  return { entries: ro(entries), loading: ro(loading), loaded: ro(loaded), error: ro(error), load };
});
